// Guarantee: an endpoint marked WithBodyLimit() never parses a body larger than Orders:MaxBodyBytes; it answers 400
// naming "body" instead. The check reads at most MaxBodyBytes + 1 bytes, with or without a Content-Length header.
// Doc: docs/failure-modes/load-only-bugs.md
using Microsoft.Extensions.Options;

namespace ReliableShop.Ordering.Orders;

public static class BodyLimit
{
    private sealed class Marker;

    public static TBuilder WithBodyLimit<TBuilder>(this TBuilder endpoint) where TBuilder : IEndpointConventionBuilder =>
        endpoint.WithMetadata(new Marker());

    /// <summary>Must run after routing (it reads the endpoint) and before the endpoint reads the body.</summary>
    public static IApplicationBuilder UseBodyLimit(this IApplicationBuilder app) => app.Use(async (http, next) =>
    {
        if (http.GetEndpoint()?.Metadata.GetMetadata<Marker>() is null)
        {
            await next(http);
            return;
        }
        var max = http.RequestServices.GetRequiredService<IOptions<OrdersOptions>>().Value.MaxBodyBytes;
        var buffered = http.Request.ContentLength > max ? null : await ReadAtMostAsync(http.Request.Body, max, http.RequestAborted);
        if (buffered is null)
        {
            await TypedResults.ValidationProblem(new Dictionary<string, string[]>
            {
                ["body"] = [$"The body is larger than {max} bytes (Orders:MaxBodyBytes)."],
            }).ExecuteAsync(http);
            return;
        }
        http.Request.Body = buffered;
        await next(http);
    });

    private static async Task<MemoryStream?> ReadAtMostAsync(Stream body, int max, CancellationToken ct)
    {
        var buffer = new MemoryStream();
        var chunk = new byte[4096];
        int read;
        while ((read = await body.ReadAsync(chunk, ct)) > 0)
        {
            buffer.Write(chunk, 0, read);
            if (buffer.Length > max) return null;
        }
        buffer.Position = 0;
        return buffer;
    }
}
