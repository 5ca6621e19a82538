// Prints the per-run admin key once the resources exist, so k6 users can export it (the dashboard shows it too,
// under the admin-key parameter). Printed only to this console; it is never written to a file.
using Aspire.Hosting.Lifecycle;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ReliableShop.AppHost;

internal static class AdminKeyBanner
{
    public static void PrintAdminKeyForK6(this IDistributedApplicationBuilder builder, IResourceBuilder<ParameterResource> adminKey)
    {
        builder.Eventing.Subscribe<AfterResourcesCreatedEvent>(async (e, ct) =>
        {
            var logger = e.Services.GetRequiredService<ILoggerFactory>().CreateLogger("ReliableShop");
            var key = await adminKey.Resource.GetValueAsync(ct);
            logger.LogInformation("Admin key for k6 and curl: export RELIABLESHOP_ADMIN_KEY={AdminKey}", key);
        });
    }
}
