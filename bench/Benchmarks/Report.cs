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

    /// <summary>Redraws the charts of a written page from its table (--charts-only PAGE), e.g. after changing the chart style.</summary>
    public static void ChartsFromMarkdown(string path)
    {
        var rows = new List<BenchRow>();
        foreach (var line in File.ReadAllLines(path).Where(l => System.Text.RegularExpressions.Regex.IsMatch(l, @"^\| B\d+ \|")))
        {
            var cells = line.Split('|').Select(c => c.Trim()).ToArray(); // "", id, what, ours, reference, ratio, target, met, notes
            if (cells.Length < 9) continue; // the "what limits each row" table has fewer columns
            var ours = FirstNumber(cells[3]);
            var ratio = cells[5] == "—" ? (double?)null : FirstNumber(cells[5]);
            var target = FirstNumber(cells[6]);
            var direction = cells[6].Contains('≤') || cells[6].Contains('<') || cells[6].StartsWith("1 per", StringComparison.Ordinal) ? Better.Lower : Better.Higher;
            var group = cells[1] is "B1" or "B2" ? "queue" : cells[1] is "B3" or "B4" ? "outbox" : cells[1] is "B5" or "B6" or "B10" ? "http" : "overload";
            rows.Add(new(cells[1], group, cells[2], ratio is { } r ? r : ours, "", ratio is null ? null : 1, "", target, direction, cells[6], ""));
        }
        var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        foreach (var group in rows.Where(r => r.HasNumber).GroupBy(r => r.Group))
        {
            Chart(group.Key, [.. group], Path.Combine(dir, $"benchmarks-{group.Key}.png"));
        }
    }

    private static double FirstNumber(string text) =>
        System.Text.RegularExpressions.Regex.Match(text.Replace(",", "", StringComparison.Ordinal), @"[0-9]+(\.[0-9]+)?") is { Success: true } m
            ? double.Parse(m.Value, Inv) : double.NaN;

    // One bar per row: how far it got towards its target (1 = exactly at target, above 1 = met with room; for "lower is
    // better" rows target ÷ figure), capped at 3 so one runaway row does not flatten the others. Labels carry the figure.
    private static void Chart(string group, BenchRow[] rows, string path)
    {
        const double cap = 3;
        var plot = new Plot();
        var bars = new List<Bar>();
        var ticks = new List<Tick>();
        for (var i = 0; i < rows.Length; i++)
        {
            var r = rows[i];
            var score = r.Direction == Better.Higher ? r.Ratio / r.Target : r.Target / Math.Max(r.Ratio, 1e-9);
            bars.Add(new Bar
            {
                Position = i, Value = Math.Min(score, cap), FillColor = r.Met ? Colors.SteelBlue : Colors.IndianRed,
                Label = (r.Reference is null ? Number(r.Ratio) : Number(r.Ratio, "0.00") + " ×") + (score > cap ? " (cut)" : ""),
            });
            ticks.Add(new Tick(i, $"{r.Id}\n{Wrap(r.What, 20)}"));
        }
        plot.Add.Bars(bars);
        var line = plot.Add.HorizontalLine(1);
        line.LineColor = Colors.DarkGray;
        line.LinePattern = LinePattern.Dashed;
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual([.. ticks]);
        plot.Axes.Bottom.MajorTickStyle.Length = 0;
        plot.Axes.SetLimitsY(0, cap * 1.1);
        plot.Title($"{group}: share of target (dashed = target; red = missed)");
        plot.YLabel("share of target (capped at 3)");
        plot.SavePng(path, Math.Max(700, rows.Length * 190), 560);
    }

    private static string Wrap(string text, int width)
    {
        var lines = new List<string> { "" };
        foreach (var word in text.Split(' '))
        {
            if (lines[^1].Length + word.Length + 1 > width && lines[^1].Length > 0) lines.Add("");
            lines[^1] = lines[^1].Length == 0 ? word : lines[^1] + " " + word;
        }
        return string.Join('\n', lines.Take(6));
    }

    private static string Number(double value, string? format = null) => double.IsFinite(value)
        ? value.ToString(format ?? (Math.Abs(value) >= 100 ? "#,0" : "0.##"), Inv)
        : "n/a";
}
