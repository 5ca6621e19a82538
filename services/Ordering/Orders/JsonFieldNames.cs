// Error keys name fields as the client wrote them: .NET 10's validator reports CLR paths ("Items[0].Quantity"), the
// API speaks camelCase JSON ("items[0].quantity"). One rewrite for every ValidationProblem the service answers.
// Doc: docs/failure-modes/load-only-bugs.md
using System.Text.RegularExpressions;

namespace ReliableShop.Ordering.Orders;

public static partial class JsonFieldNames
{
    // A member path: identifiers with optional indexers, dot-separated. Header names ("Idempotency-Key") never match.
    [GeneratedRegex(@"^[A-Za-z_]\w*(\[\d+\])*(\.[A-Za-z_]\w*(\[\d+\])*)*$")]
    private static partial Regex MemberPath();

    public static IServiceCollection AddJsonFieldNamesInProblems(this IServiceCollection services) =>
        services.Configure<ProblemDetailsOptions>(options =>
        {
            var previous = options.CustomizeProblemDetails;
            options.CustomizeProblemDetails = context =>
            {
                previous?.Invoke(context);
                if (context.ProblemDetails is HttpValidationProblemDetails validation) Rewrite(validation.Errors);
            };
        });

    public static void Rewrite(IDictionary<string, string[]> errors)
    {
        foreach (var key in errors.Keys.Where(k => MemberPath().IsMatch(k)).ToList())
        {
            var json = string.Join('.', key.Split('.').Select(s => char.ToLowerInvariant(s[0]) + s[1..]));
            if (json == key) continue;
            var messages = errors[key];
            errors.Remove(key);
            errors[json] = errors.TryGetValue(json, out var existing) ? [.. existing, .. messages] : messages;
        }
    }
}
