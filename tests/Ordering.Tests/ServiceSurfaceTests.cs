// The service's outer surface answers: the OpenAPI document describes the orders endpoints, admin requires the key.
using System.Net;

namespace ReliableShop.Ordering.Tests;

public sealed class ServiceSurfaceFixture : AppFixture;

public sealed class ServiceSurfaceTests(ServiceSurfaceFixture fixture) : IClassFixture<ServiceSurfaceFixture>
{
    [Fact]
    public async Task OpenApi_Document_DescribesOrderEndpoints()
    {
        var document = await fixture.Client.GetStringAsync("/openapi/v1.json", Requests.Ct);

        Assert.Contains("\"/api/orders\"", document, StringComparison.Ordinal);
        Assert.Contains("\"/api/orders/{id}\"", document, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AdminStats_WithoutKey_Returns401()
    {
        using var response = await fixture.Client.GetAsync("/admin/stats", Requests.Ct);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }
}
