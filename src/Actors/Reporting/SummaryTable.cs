using System.Globalization;
using HvIommu.Actors.Metrics;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace HvIommu.Actors.Reporting;

/// <summary>
/// The end-of-run summary for people: run parameters, counts (map and unmap calls, pages mapped and unmapped, DMA,
/// hypercalls, VM exits, IOTLB and ATC hit rates), latency percentiles per operation, and every violation with
/// its hazard, meaning and the command that reproduces it. Tables on a terminal; the same layout with
/// ASCII borders and no colour for files and pipes.
/// </summary>
public static class SummaryTable
{
    private static readonly CultureInfo C = CultureInfo.InvariantCulture;

    /// <summary>Renders as plain text (no ANSI, no colour, ASCII borders, no wrapping) to <paramref name="writer"/>.</summary>
    public static void Render(RunReport report, TextWriter writer)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
            Out = new AnsiConsoleOutput(writer),
        });
        // Wide enough that nothing wraps: the text may be grepped or pasted from a log.
        console.Profile.Width = 240;
        Render(report, console, TableBorder.Ascii);
    }

    /// <summary>Renders to a Spectre console (<see cref="AnsiConsole.Console"/> for the terminal).</summary>
    public static void Render(RunReport report, IAnsiConsole console) => Render(report, console, TableBorder.Rounded);

    private static void Render(RunReport report, IAnsiConsole console, TableBorder border)
    {
        console.Write(Parameters(report));
        console.Write(Counts(report.Stats, report.Mode).Border(border));
        // Explorers do not record latencies (their schedules are many and short): no table of zeros.
        if (report.Stats.Latencies.Any(l => l.Value.Count > 0))
            console.Write(Latencies(report.Stats.Latencies, report.Mode).Border(border));
        Violations(report.Violations, report.Mode, console);
        foreach (var artifact in report.Artifacts)
            console.Write(new Text($"artifact: {artifact}\n"));
    }

    private static Grid Parameters(RunReport r)
    {
        var grid = new Grid().AddColumn(new GridColumn().NoWrap()).AddColumn();
        void Row(string name, string value) => grid.AddRow(new Text(name), new Text(value));
        Row("seed", r.Seed.ToString(C));
        Row("mode", r.Mode == RunMode.Stress ? "stress" : "deterministic");
        Row("config", r.Config.File);
        var expected = r.Expected == ExpectedOutcome.Clean ? "clean" : "violation" + (r.ExpectedKind is null ? "" : $" ({r.ExpectedKind})");
        Row("expected", expected);
        Row("outcome", r.OutcomeMatched ? "matched" : "DID NOT MATCH");
        if (r.TraceHash is not null)
            Row("trace hash", r.TraceHash);
        return grid;
    }

    private static Table Counts(RunStats s, RunMode mode)
    {
        var table = new Table().Title("counts").AddColumn("what").AddColumn(new TableColumn("count").RightAligned());
        void Row(string name, string value) => table.AddRow(new Text(name), new Text(value));
        // Calls and pages on separate rows, each saying what it counts: a 2 MiB buffer is one dma_map call and 512 pages.
        if (s.Cost is { } calls)
            Row("map calls / unmap calls (dma_map, dma_unmap)", $"{N(calls.MapCalls)} / {N(calls.UnmapCalls)}");
        Row("pages mapped / unmapped (4 KiB)", $"{N(s.PagesMapped)} / {N(s.PagesUnmapped)}");
        Row("DMA transactions", N(s.DmaTransactions));
        Row("messages delivered", N(s.MessagesDelivered));
        foreach (var (name, count) in s.Hypercalls)
            Row($"hypercall {name}", N(count));
        foreach (var (kind, count) in s.Findings)
            Row($"found {kind}", N(count));
        foreach (var (name, count) in s.DriverEvents)
            Row($"driver event {name}", N(count));
        Row("VM exits (all paths)", N(s.VmExits));
        Row("IOTLB hit rate", HitRate(s.Iotlb));
        Row("ATC hit rate", HitRate(s.Atc));
        if (s.WorkloadTrace is { } t)
        {
            Row("trace map / unmap events", $"{N(t.MapEvents)} / {N(t.UnmapEvents)}");
            Row("trace bytes mapped / unmapped", $"{N((long)t.BytesMapped)} / {N((long)t.BytesUnmapped)}");
            Row("trace CPUs, skipped lines", $"{string.Join(",", t.Cpus)}; {N(t.SkippedLines)}");
            Row("trace long-lived / relocated maps", $"{N(t.LongLivedMaps)} / {N(t.RelocatedMaps)}");
        }
        if (s.Mapping is { } mapping)
        {
            Row("leaves mapped 4K / 2M / 1G", string.Join(" / ", mapping.LeavesBySize.Values.Select(N)));
            Row("tables replaced by large leaves", N(mapping.TablesReplacedByLeaves));
            Row("IOVA allocations: cached / tree, cache flushes", $"{N(mapping.Iova.CacheHits)} / {N(mapping.Iova.TreeAllocations)}, {N(mapping.Iova.CacheFlushes)}");
        }
        if (s.Cost is { } k)
        {
            Row("cost: VM exits by path", string.Join(", ", k.VmExitsByPath.Select(kv => $"{kv.Key} {N(kv.Value)}")));
            Row("cost: unmap-path exits per unmap call / map-path exits per map call", $"{k.VmExitsPerUnmap.ToString("F2", C)} / {k.VmExitsPerMap.ToString("F3", C)}");
            Row("cost: flush hypercalls, list entries", $"{N(k.FlushHypercalls)}, {N(k.ListEntries)}");
            Row("cost: collateral invalidations", N(k.CollateralInvalidations));
            Row("cost: walk-cache hit rate, walk refs per DMA", $"{(k.WalkCacheHitRate is { } w ? (w * 100).ToString("F1", C) + " %" : "no lookups")}, {k.WalkReferencesPerDma.ToString("F2", C)}");
            Row("cost: simulated time in flushes", $"{N(k.FlushNs)} ns");
            Row("cost: DMA translation p50 / p99", $"{N(k.DmaTranslationNs.P50Ns)} / {N(k.DmaTranslationNs.P99Ns)} ns");
            Row("cost: ns per op, simulated ops/s", $"{k.CostNsPerOp.ToString("N0", C)}, {k.SimulatedOpsPerSecond.ToString("N0", C)}");
        }
        // stats.simulatedNs: in a deterministic run the virtual clock when the schedule ended; in a stress run, whose
        // actors run on real threads with no controlled steps and no virtual clock, the sum of the modelled costs
        // charged (VM exits, flush handling, walks, transfers).
        if (mode == RunMode.Deterministic)
        {
            Row("steps", N(s.Steps));
            Row("virtual time at the schedule's end", $"{N(s.SimulatedNs)} ns");
        }
        else
            Row("modelled cost (sum over actors)", $"{N(s.SimulatedNs)} ns");
        Row("wall time", $"{s.WallSeconds.ToString("F3", C)} s");
        if (s.Memory is { } m)
        {
            Row("RSS at end / peak", $"{N(m.RssBytes)} / {N(m.PeakRssBytes)} bytes");
            Row("managed heap at end", $"{N(m.ManagedHeapBytes)} bytes");
            Row("oracle records held", N(m.OracleRecords));
        }
        return table;
    }

    private static Table Latencies(IReadOnlyDictionary<string, LatencySummary> latencies, RunMode mode)
    {
        var table = new Table().Title(LatencyTitle(mode)).AddColumn("operation");
        if (mode == RunMode.Deterministic)
            table.Caption("scheduler time: 100 ns per message delivered while the operation ran (the one that started it included), plus timer waits");
        foreach (var h in new[] { "count", "min", "p50", "p90", "p99", "p99.9", "max", "mean" })
            table.AddColumn(new TableColumn(h).RightAligned());
        foreach (var (name, l) in latencies.Where(l => l.Value.Count > 0))
        {
            IRenderable[] cells = [.. new[] { LatencyRow(name), N(l.Count), N(l.MinNs), N(l.P50Ns), N(l.P90Ns), N(l.P99Ns), N(l.P999Ns), N(l.MaxNs), l.MeanNs.ToString("N0", C) }
                .Select(v => new Text(v))];
            table.AddRow(cells);
        }
        return table;
    }

    /// <summary>A latency row's label: the dma row says it is a sample, so its count is not read against the DMA transactions.</summary>
    public static string LatencyRow(string name) => name == "dma" ? $"dma (1 in {LatencyRecorder.DmaSampleEvery} sampled)" : name;

    /// <summary>
    /// What the latency table measures (stats.latencyClock): in a deterministic run the scheduler's virtual time, which
    /// advances 100 ns per delivered message and jumps to each timer it fires — so an operation done within the message
    /// that started it (a map with no VM exit) reads 100 ns: one step, not a measurement. A stress run's are wall clock.
    /// </summary>
    public static string LatencyTitle(RunMode mode) => mode == RunMode.Deterministic
        ? "latency (ns of scheduler time, not wall clock)"
        : "latency (ns, wall clock)";

    private static void Violations(IReadOnlyList<ViolationRecord> violations, RunMode mode, IAnsiConsole console)
    {
        console.Write(new Text(violations.Count == 1 ? "1 violation\n" : $"{N(violations.Count)} violations\n", new Style(decoration: Decoration.Bold)));
        var number = 0;
        foreach (var v in violations)
        {
            number++;
            console.Write(new Text($"{number}. {v.Kind}{(v.Hazard.Length > 0 ? $" [{v.Hazard}]" : "")} {When(v, mode)}{Where(v)}\n", new Style(decoration: Decoration.Bold)));
            console.Write(new Text($"   {v.Description}\n   why: {v.Explanation}\n"));
            // Written around Spectre so a long command is never broken by wrapping: it must paste as one line.
            console.Profile.Out.Writer.WriteLine($"   reproduce: {v.Reproduce}");
        }
    }

    /// <summary>
    /// When a violation happened: in a deterministic run at the acting vCPU's or device's own step (violation.md
    /// also gives the schedule step) and simulated time; a stress run has neither: its clock is the wall clock.
    /// </summary>
    private static string When(ViolationRecord v, RunMode mode)
    {
        if (mode == RunMode.Stress)
            return $"{N(v.SimTimeNs)} ns into the run (wall clock)";
        var actor = v.Vcpu ?? v.Device;
        return $"at {(actor is null ? "" : actor + "'s ")}step {N(v.Step)}, {N(v.SimTimeNs)} ns simulated";
    }

    private static string Where(ViolationRecord v)
    {
        var parts = new List<string>();
        if (v.Vcpu is not null) parts.Add(v.Vcpu);
        if (v.Device is not null) parts.Add(v.Device);
        if (v.Domain is { } d) parts.Add($"domain {d.ToString(C)}");
        if (v.Iova is not null) parts.Add($"iova {v.Iova}");
        if (v.Frame is not null) parts.Add($"frame {v.Frame}");
        return parts.Count == 0 ? "" : ", " + string.Join(", ", parts);
    }

    private static string HitRate(CacheStats c) => c.HitRate is { } rate
        ? $"{rate.ToString("P1", C)} ({N(c.Hits)} of {N(c.Hits + c.Misses)})"
        : "no lookups";

    private static string N(long value) => value.ToString("N0", C);
}
