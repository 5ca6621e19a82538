// POST /api/catalog/items/{sku}/views: count one product-page view, written behind (202), or 503 + Retry-After when
// the view queue is full. The SKU's format is checked, not its existence: a view costs no database round trip.
// Doc: docs/failure-modes/overload.md
using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http.HttpResults;
using ReliableShop.Drills;

namespace ReliableShop.Inventory.Catalog;

public static partial class CatalogViewsApi
{
    public const int RetryAfterSeconds = 1;

    public static IServiceCollection AddCatalogViews(this IServiceCollection services) => services
        .AddSingleton<CatalogViews>()
        .AddSingleton<IDrillStatsSource>(sp => sp.GetRequiredService<CatalogViews>())
        .AddHostedService<CatalogViewWriter>();

    public static IEndpointRouteBuilder MapCatalogViewsApi(this IEndpointRouteBuilder app)
    {
        app.MapGroup("/api/catalog").WithTags("Catalog").MapPost("/items/{sku}/views", RecordView);
        return app;
    }

    public static Results<Accepted, ValidationProblem, ProblemHttpResult> RecordView(string sku, CatalogViews views, HttpResponse response)
    {
        if (!SkuFormat().IsMatch(sku))
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]>
            {
                ["sku"] = [$"Must be 'SKU-' followed by 4 digits; was '{sku}'."],
            });
        }
        if (!views.TryEnqueue(sku))
        {
            response.Headers.RetryAfter = RetryAfterSeconds.ToString(CultureInfo.InvariantCulture);
            return TypedResults.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "View queue full",
                detail: $"{views.Queued} views are waiting to be written (bound {views.Bound}); nothing was queued. Retry after {RetryAfterSeconds} s.");
        }
        return TypedResults.Accepted(default(string));
    }

    [GeneratedRegex(@"^SKU-[0-9]{4}\z")]
    private static partial Regex SkuFormat();
}
