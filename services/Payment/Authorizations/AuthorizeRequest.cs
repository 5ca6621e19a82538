// Input rules for an authorization; checked before anything is written (after the provider's faults and capacity slot,
// like every call a real PSP receives), each error naming its field.
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace ReliableShop.Payment.Authorizations;

public sealed partial record AuthorizeRequest(Guid? OrderId, decimal? Amount, string? Currency)
{
    public const string IdempotencyKeyHeader = "Idempotency-Key";
    public const decimal MaxAmount = 1_000_000m;

    public static Dictionary<string, string[]> Validate(string? idempotencyKey, AuthorizeRequest request)
    {
        var errors = new Dictionary<string, string[]>();
        if (idempotencyKey is null || !IdempotencyKeyPattern().IsMatch(idempotencyKey))
        {
            errors[IdempotencyKeyHeader] = ["Required: 1-100 characters of A-Z a-z 0-9 . _ : -"];
        }
        if (request.OrderId is null || request.OrderId == Guid.Empty)
        {
            errors["orderId"] = ["Required: a non-empty GUID."];
        }
        if (request.Amount is not { } amount || amount <= 0 || amount > MaxAmount || amount.Scale > 2 && amount != decimal.Round(amount, 2))
        {
            errors["amount"] = [$"Must be greater than 0 and at most {MaxAmount:0}, with at most 2 decimals; was {request.Amount}."];
        }
        if (request.Currency is null || !CurrencyPattern().IsMatch(request.Currency))
        {
            errors["currency"] = [$"Must be 3 uppercase letters (ISO 4217); was '{request.Currency}'."];
        }
        return errors;
    }

    /// <summary>What "same request" means for an idempotency-key replay: same order, amount and currency.</summary>
    public string Hash()
    {
        var canonical = string.Create(CultureInfo.InvariantCulture, $"{OrderId:N}|{Amount:0.00}|{Currency}");
        return Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(canonical)));
    }

    [GeneratedRegex(@"^[A-Za-z0-9._:-]{1,100}\z")]
    private static partial Regex IdempotencyKeyPattern();

    [GeneratedRegex(@"^[A-Z]{3}\z")]
    private static partial Regex CurrencyPattern();
}
