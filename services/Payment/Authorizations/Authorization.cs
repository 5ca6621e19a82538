namespace ReliableShop.Payment.Authorizations;

/// <summary>An authorization as the API returns it. Status: authorized → captured | voided (see AuthorizationStore).</summary>
public sealed record Authorization(Guid Id, Guid OrderId, decimal Amount, string Currency, string Status, DateTime CreatedAt);
