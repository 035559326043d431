using System.Globalization;
using System.Text;
using System.Text.Json;
using HvIommu.Actors.Reporting;
using HvIommu.Model.Text;

namespace HvIommu.Actors.Sweep;

/// <summary>
/// A sweep's outputs in DIR: <c>sweep.json</c> (<c>{"cells":[{"settings":{KEY:V},"schedules","violations":{Kind:n},
/// "firstViolation":{seed,kind,replay}|null}]}</c>, docs/design.md §3, plus a few more fields), <c>sweep.csv</c> (one row
/// per cell, one column per key and per kind found), <c>sweep.md</c> (the contract table for a design review) and,
/// when exactly two keys vary, <c>heatmap.png</c> and <c>heatmap.svg</c>.
/// </summary>
public static class SweepWriter
{
    /// <summary>What the sweep was, for the headers: base config, seeds, strategy, mode.</summary>
    /// <param name="Partial">The sweep was interrupted (Ctrl-C): the counts cover only what ran.</param>
    public sealed record Header(string Config, string Seeds, string Strategy, string Mode, string Where, double WallSeconds, long Schedules, bool Partial = false);

    public static IReadOnlyList<string> WriteAll(string dir, SweepPlan plan, IReadOnlyList<CellResult> cells, Header header)
    {
        Directory.CreateDirectory(dir);
        var files = new List<string>
        {
            Write(Path.Combine(dir, "sweep.json"), Json(plan, cells, header)),
            Write(Path.Combine(dir, "sweep.csv"), Csv(plan, cells)),
            Write(Path.Combine(dir, "sweep.md"), Markdown(plan, cells, header)),
        };
        if (plan.Axes.Count == 2)
            files.AddRange(SweepHeatmap.Write(dir, plan, cells, header));
        return files;
    }

    /// <summary>Writes <paramref name="text"/> as UTF-8 all at once (<see cref="AtomicFile"/>); returns the path.</summary>
    public static string Write(string path, string text)
    {
        AtomicFile.Write(path, s => s.Write(Encoding.UTF8.GetBytes(text)));
        return path;
    }

    public static string Json(SweepPlan plan, IReadOnlyList<CellResult> cells, Header header)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("config", header.Config);
            w.WriteStartArray("keys");
            foreach (var a in plan.Axes)
                w.WriteStringValue(a.Key);
            w.WriteEndArray();
            w.WriteString("seeds", header.Seeds);
            w.WriteString("strategy", header.Strategy);
            w.WriteString("mode", header.Mode);
            if (header.Partial)
                w.WriteBoolean("partial", true);
            w.WriteStartArray("cells");
            foreach (var c in cells)
            {
                w.WriteStartObject();
                w.WriteStartObject("settings");
                foreach (var (k, v) in c.Settings)
                    w.WriteString(k, v);
                w.WriteEndObject();
                w.WriteNumber("schedules", c.Schedules);
                w.WriteStartObject("violations");
                foreach (var (k, n) in c.Violations.OrderBy(kv => kv.Key, StringComparer.Ordinal))
                    w.WriteNumber(k, n);
                w.WriteEndObject();
                if (c.First is { } f)
                {
                    w.WriteStartObject("firstViolation");
                    w.WriteNumber("seed", f.Seed);
                    w.WriteString("kind", f.Kind);
                    w.WriteString("replay", f.Replay);
                    w.WriteString("report", f.ReportPath);
                    w.WriteEndObject();
                }
                else
                {
                    w.WriteNull("firstViolation");
                }
                w.WriteNumber("withViolations", c.WithViolations);
                w.WriteNumber("steps", c.Steps);
                w.WriteString("expect", c.Expect);
                w.WriteBoolean("outcomeMatched", c.Matched);
                if (c.Failure is not null)
                    w.WriteString("failure", c.Failure);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray()) + "\n";
    }

    public static string Csv(SweepPlan plan, IReadOnlyList<CellResult> cells)
    {
        var kinds = cells.SelectMany(c => c.Violations.Keys).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        var sb = new StringBuilder();
        sb.AppendLine(string.Join(',', plan.Axes.Select(a => Quote(a.Key))
            .Concat(["schedules", "with_violations", .. kinds, "first_seed", "first_kind", "replay", "expect", "outcome_matched", "failure"])));
        foreach (var c in cells)
        {
            var row = c.Settings.Select(kv => Quote(kv.Value))
                .Concat([N(c.Schedules), N(c.WithViolations), .. kinds.Select(k => N(c.Violations.GetValueOrDefault(k)))])
                .Concat([c.First is null ? "" : N((long)c.First.Seed), Quote(c.First?.Kind ?? ""), Quote(c.First?.Replay ?? ""), Quote(c.Expect), c.Matched ? "true" : "false", Quote(c.Failure ?? "")]);
            sb.AppendLine(string.Join(',', row));
        }
        return sb.ToString();
    }

    public static string Markdown(SweepPlan plan, IReadOnlyList<CellResult> cells, Header header)
    {
        var sb = new StringBuilder();
        sb.AppendLine($"# Sweep of {header.Config}");
        sb.AppendLine();
        sb.AppendLine($"{header.Seeds} per cell, {header.Strategy}, {header.Mode} mode; {plan.Job.CountOf(header.Schedules)} in {header.WallSeconds:0.#} s on {header.Where}.");
        if (header.Partial)
            sb.AppendLine("**Partial: the sweep was interrupted (Ctrl-C); the counts cover only what ran, and a cell shown safe may not be.**");
        var units = plan.Job.Units();
        sb.AppendLine($"A cell is safe when none of its {units} showed a violation; otherwise the kinds found, each with the number of");
        sb.AppendLine(plan.Job.Stress
            ? "stress runs that showed it, and the command that runs the lowest-seed violating run again (a stress run is not replayed step by step)."
            : "schedules that showed it, and the command that replays the lowest-seed violating schedule exactly.");
        sb.AppendLine();
        sb.AppendLine(Table(plan, cells));
        if (cells.Any(c => !c.Matched))
        {
            sb.AppendLine();
            sb.AppendLine($"Cells whose outcome did not match their `hviommu.expect`: {string.Join("; ", cells.Where(c => !c.Matched).Select(c => $"{c.Description} (expected {c.Expect})"))}.");
        }
        return sb.ToString();
    }

    /// <summary>The contract table alone (also printed on the terminal).</summary>
    public static string Table(SweepPlan plan, IReadOnlyList<CellResult> cells)
    {
        var sb = new StringBuilder();
        var keys = plan.Axes.Select(a => $"`{SweepPlan.ShortKey(a.Key)}`").ToList();
        sb.AppendLine("| " + string.Join(" | ", [.. keys, plan.Job.Units(), "result", plan.Job.Stress ? "run the first violation again" : "replay the first violation"]) + " |");
        sb.AppendLine("|" + string.Concat(Enumerable.Repeat("---|", keys.Count)) + "---:|---|---|");
        foreach (var c in cells)
        {
            var result = c.Failure is not null ? $"SIMULATOR FAILURE: {c.Failure}" : c.NotRun ? "not run (the sweep stopped first)" : c.Safe ? "safe" : $"{c.KindsText} (first: seed {c.First?.Seed})";
            var replay = c.First is null ? "" : $"`{c.First.Replay}`";
            sb.AppendLine("| " + string.Join(" | ", [.. c.Settings.Select(kv => kv.Value), c.Schedules.ToString("N0", CultureInfo.InvariantCulture), result, replay]) + " |");
        }
        return sb.ToString().TrimEnd();
    }

    private static string N(long n) => n.ToString(CultureInfo.InvariantCulture);

    private static string Quote(string s) => s.IndexOfAny([',', '"', '\n']) >= 0 ? "\"" + s.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : s;
}
