// Base addresses of the services Ordering calls, bound from "Services" (resolved through service discovery, so
// "http://inventory" works under the AppHost). A missing or malformed address stops the service at start.
// Doc: docs/architecture.md
using System.ComponentModel.DataAnnotations;

namespace ReliableShop.Ordering.Clients;

public sealed class ServicesOptions
{
    public const string SectionName = "Services";
    private const string AbsoluteUri = @"^[A-Za-z][A-Za-z0-9+.-]*://\S+$";

    /// <summary>Base address of Inventory (prices), e.g. "http://inventory".</summary>
    [Required, RegularExpression(AbsoluteUri)]
    public string Inventory { get; set; } = "http://inventory";

    /// <summary>Base address of Payment (authorize, capture, void), e.g. "http://payment".</summary>
    [Required, RegularExpression(AbsoluteUri)]
    public string Payment { get; set; } = "http://payment";
}
