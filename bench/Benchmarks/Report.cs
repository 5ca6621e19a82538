// The one table: printed to the console and written, with the machine's facts and one PNG chart per group, to a
// Markdown page (docs/benchmarks.md for a full run). Charts show each row's ratio beside its target.
using System.Globalization;
using System.Text;
using ScottPlot;

namespace ReliableShop.Benchmarks;

internal static class Report
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static string Table(IReadOnlyList<BenchRow> rows)
    {
        var text = new StringBuilder();
        text.AppendLine("| # | What | Ours | Reference (same run) | Ratio | Target | Met | Notes |");
        text.AppendLine("|---|---|---|---|---|---|---|---|");
        foreach (var r in rows)
        {
            var reference = r.Reference is { } v ? $"{Number(v)} {r.Unit} ({r.ReferenceName})" : "—";
            var ratio = r.Reference is null ? "—" : Number(r.Ratio, "0.00") + " ×";
            var met = !r.HasNumber ? "no number" : r.Met ? "yes" : "**no**";
            text.AppendLine(Inv, $"| {r.Id} | {r.What} | {Number(r.Ours)} {r.Unit} | {reference} | {ratio} | {r.TargetText} | {met} | {r.Notes} |");
        }
        return text.ToString();
    }

    public static async Task WriteMarkdownAsync(string path, IReadOnlyList<BenchRow> rows, string header, string limits)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        var charts = new StringBuilder();
        foreach (var group in rows.Where(r => r.HasNumber).GroupBy(r => r.Group))
        {
            var file = $"benchmarks-{group.Key}.png";
            Chart(group.Key, [.. group], Path.Combine(dir, file));
            charts.AppendLine(Inv, $"![{group.Key}: ratio vs target]({file})").AppendLine();
        }
        await File.WriteAllTextAsync(path, header + "\n## Results\n\n" + Table(rows) + "\n## Charts\n\n" + charts + limits);
    }

    private static void Chart(string group, BenchRow[] rows, string path)
    {
        var plot = new Plot();
        var bars = new List<Bar>();
        var ticks = new List<Tick>();
        for (var i = 0; i < rows.Length; i++)
        {
            var r = rows[i];
            bars.Add(new Bar { Position = i * 3, Value = r.Ratio, FillColor = r.Met ? Colors.SteelBlue : Colors.IndianRed,
                Label = Number(r.Ratio, "0.00") });
            bars.Add(new Bar { Position = i * 3 + 1, Value = r.Target, FillColor = Colors.LightGray, Label = r.TargetText });
            ticks.Add(new Tick(i * 3 + 0.5, $"{r.Id}\n{Short(r.What)}"));
        }
        plot.Add.Bars(bars);
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual([.. ticks]);
        plot.Axes.Margins(bottom: 0);
        plot.Title($"{group}: ours ÷ reference (blue met, red missed) beside the target (grey)");
        plot.YLabel("ratio (B4 ms, B8 attempts/order, B9 loads)");
        plot.SavePng(path, Math.Max(700, rows.Length * 170), 450);
    }

    private static string Short(string what) => what.Length <= 22 ? what : what[..22] + "…";

    private static string Number(double value, string? format = null) => double.IsFinite(value)
        ? value.ToString(format ?? (Math.Abs(value) >= 100 ? "#,0" : "0.##"), Inv)
        : "n/a";
}
