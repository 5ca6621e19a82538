// The place-order request and its rules: DataAnnotations for per-field rules (run by .NET 10 AddValidation before the
// handler), explicit checks for rules that need configuration or the whole list. Every error names its field
// ("items[1].sku"), and nothing is written or called before the request passed them all.
// Doc: docs/failure-modes/load-only-bugs.md
using System.ComponentModel.DataAnnotations;
using System.Text.RegularExpressions;

namespace ReliableShop.Ordering.Orders;

public sealed record PlaceOrderRequest(
    [Required(ErrorMessage = "The customerId is required."), StringLength(100, ErrorMessage = "The customerId has at most 100 characters.")]
    string? CustomerId,
    [Required(ErrorMessage = "At least one item is required."), MinLength(1, ErrorMessage = "At least one item is required.")]
    IReadOnlyList<OrderItemRequest?>? Items,
    [StringLength(100, ErrorMessage = "The cartId has at most 100 characters.")]
    string? CartId = null); // optional: one order per cart (Orders/CartCheckout.cs)

public sealed record OrderItemRequest(
    [Required(ErrorMessage = "The sku is required."), StringLength(64, ErrorMessage = "The sku has at most 64 characters.")]
    string? Sku,
    [Range(1, int.MaxValue, ErrorMessage = "The quantity must be at least 1.")]
    int Quantity);

public static partial class PlaceOrderRules
{
    public const string IdempotencyKeyHeader = "Idempotency-Key";

    [GeneratedRegex("^[A-Za-z0-9._:-]{1,100}$")]
    private static partial Regex KeyPattern();

    /// <summary>The rules DataAnnotations cannot express; an empty dictionary means the request may proceed.</summary>
    public static Dictionary<string, string[]> Check(PlaceOrderRequest? request, string? idempotencyKey, OrdersOptions limits)
    {
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        if (idempotencyKey is null || !KeyPattern().IsMatch(idempotencyKey))
        {
            errors[IdempotencyKeyHeader] = ["Required header: 1–100 characters of [A-Za-z0-9._:-]."];
        }
        if (request is null)
        {
            errors["body"] = ["A JSON body is required."];
            return errors;
        }
        if (request.Items is null || request.Items.Count == 0)
        {
            errors["items"] = ["At least one item is required."];
        }
        else if (request.Items.Count > limits.MaxLines)
        {
            errors["items"] = [$"At most {limits.MaxLines} lines per order (Orders:MaxLines); got {request.Items.Count}."];
        }
        else
        {
            CheckLines(request.Items, limits, errors);
        }
        return errors;
    }

    private static void CheckLines(IReadOnlyList<OrderItemRequest?> items, OrdersOptions limits, Dictionary<string, string[]> errors)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < items.Count; i++)
        {
            if (items[i] is not { } item)
            {
                errors[$"items[{i}]"] = ["An item is required."];
                continue;
            }
            if (string.IsNullOrWhiteSpace(item.Sku))
            {
                errors[$"items[{i}].sku"] = ["The sku is required."];
            }
            else if (!seen.Add(item.Sku))
            {
                errors[$"items[{i}].sku"] = [$"SKU '{item.Sku}' appears more than once; put the whole quantity on one line."];
            }
            if (item.Quantity < 1 || item.Quantity > limits.MaxQuantityPerLine)
            {
                errors[$"items[{i}].quantity"] = [$"The quantity must be between 1 and {limits.MaxQuantityPerLine} (Orders:MaxQuantityPerLine)."];
            }
        }
    }
}
