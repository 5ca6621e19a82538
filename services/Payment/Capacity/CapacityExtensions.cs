namespace ReliableShop.Payment.Capacity;

public static class CapacityExtensions
{
    public static IServiceCollection AddCapacityModel(this IServiceCollection services)
    {
        services.AddValidatedOptions<CapacityOptions>(CapacityOptions.SectionName);
        services.AddSingleton<CapacityMetrics>();
        services.AddSingleton<CapacityModel>();
        return services;
    }
}
