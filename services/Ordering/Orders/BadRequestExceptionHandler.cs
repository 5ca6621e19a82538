// Guarantee: a body the framework cannot bind (malformed JSON, a wrong type, no JSON content type) is answered with a
// 400 ProblemDetails naming the field — "items[0].quantity" from the JSON path, else "body" — never a bare 400 or 500.
// Doc: docs/failure-modes/load-only-bugs.md
using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics;

namespace ReliableShop.Ordering.Orders;

public sealed class BadRequestExceptionHandler(IProblemDetailsService problems) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext http, Exception exception, CancellationToken cancellationToken)
    {
        if (exception is not BadHttpRequestException bad) return false;
        var (field, message) = bad.InnerException switch
        {
            // System.Text.Json wraps a syntax error (its reader's exception, itself a JsonException) — the body is broken.
            JsonException { InnerException: JsonException syntax } => ("body", "Malformed JSON: " + syntax.Message),
            JsonException json => (FieldOf(json.Path), "The value has the wrong JSON type for this field."),
            _ => ("body", bad.Message),
        };
        http.Response.StatusCode = StatusCodes.Status400BadRequest;
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = http,
            Exception = exception,
            ProblemDetails = new HttpValidationProblemDetails(new Dictionary<string, string[]> { [field] = [message] })
            {
                Status = StatusCodes.Status400BadRequest,
            },
        });
    }

    // "$.items[0].quantity" → "items[0].quantity"; "$" or no path (the JSON itself is broken) → "body".
    private static string FieldOf(string? path) =>
        path is null || path.Length <= 2 || !path.StartsWith("$.", StringComparison.Ordinal) ? "body" : path[2..];
}
