// One line of the benchmark table: our figure, the reference measured in the same run, their ratio and the target.
namespace ReliableShop.Benchmarks;

internal enum Better { Higher, Lower }

internal sealed record BenchRow(
    string Id, string Group, string What, double Ours, string Unit, double? Reference, string ReferenceName,
    double Target, Better Direction, string TargetText, string Notes)
{
    /// <summary>Ours ÷ reference; for rows without a reference (B4, B8, B9) the figure itself is compared to the target.</summary>
    public double Ratio => Reference is { } r and > 0 ? Ours / r : Ours;

    public bool Met => Direction == Better.Higher ? Ratio >= Target : Ratio <= Target;

    public bool HasNumber => double.IsFinite(Ours) && (Reference is null || double.IsFinite(Reference.Value));

    public static BenchRow Failed(string id, string group, string what, string error) =>
        new(id, group, what, double.NaN, "", null, "", double.NaN, Better.Higher, "", "FAILED: " + error);
}
