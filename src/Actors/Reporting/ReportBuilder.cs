using System.Runtime.CompilerServices;
using System.Text.Json;
using Akka.Configuration;
using HvIommu.Actors.Configuration;
using HvIommu.Actors.Simulation;
using HvIommu.Model.Oracle;
using HvIommu.Model.Settings;

namespace HvIommu.Actors.Reporting;

/// <summary>Turns a finished world into the report of docs/report.md.</summary>
internal static class ReportBuilder
{
    // The resolved config is the same for every schedule an explorer runs; render it once.
    private static readonly ConditionalWeakTable<Config, StrongBox<JsonElement>> ResolvedJson = new();

    public static RunReport Build(LoadedConfig config, SimWorld world, double wallSeconds, string reproduce, RunMode mode)
    {
        var s = world.Settings;
        var c = world.Counters.Snapshot();
        var atc = world.AtcStats;
        var iotlb = world.Host.Iotlb.Stats;
        var stats = new RunStats(
            c.MessagesDelivered, c.DmaTransactions, c.Maps, c.Unmaps,
            c.HypercallsByName().Where(kv => kv.Value > 0).ToDictionary(kv => kv.Key, kv => kv.Value),
            c.VmExits,
            new CacheStats(iotlb.Hits, iotlb.Misses),
            new CacheStats(atc.Hits, atc.Misses),
            wallSeconds, world.ModelledNs, c.Steps,
            world.Latencies.ToDictionary(kv => kv.Key, kv => kv.Value.Summarize()))
        {
            Findings = Enum.GetValues<ViolationKind>().Where(k => world.Violations.Count(k) > 0).ToDictionary(k => k.ToString(), k => world.Violations.Count(k)),
            Memory = mode == RunMode.Stress ? MemoryOf(world) : null,
            WorkloadTrace = world.TraceReplay is { } replay ? WorkloadTraceStatsOf(replay) : null,
        };
        var violations = world.Violations.Kept
            .Select(v => new ViolationRecord(v.Kind.ToString(), v.Hazard, v.Step, v.SimTimeNs, NullIfEmpty(v.Vcpu), NullIfEmpty(v.Device),
                v.Domain == 0 ? null : v.Domain, v.Iova == 0 ? null : ViolationRecord.Hex(v.Iova), v.Frame == 0 ? null : ViolationRecord.Hex(v.Frame),
                v.Description, v.Explanation, reproduce))
            .ToList();
        var expectedKind = s.ExpectKind is null ? (ViolationKind?)null : Enum.Parse<ViolationKind>(s.ExpectKind);
        var matched = s.Expect == Expectation.Clean
            ? world.Violations.Total == 0
            : expectedKind is { } k ? world.Violations.Count(k) > 0 : world.Violations.Total > 0;
        return new RunReport(s.Seed, mode, new ReportConfig(config.File, ResolvedJson.GetValue(config.Merged, static c => new StrongBox<JsonElement>(HoconJson.ToJson(c))).Value), stats, violations,
            s.Expect == Expectation.Clean ? ExpectedOutcome.Clean : ExpectedOutcome.Violation, s.ExpectKind, matched, []);
    }

    private static string? NullIfEmpty(string s) => s.Length == 0 ? null : s;

    private static MemoryStats MemoryOf(SimWorld world)
    {
        var m = Metrics.MemorySample.Now();
        return new MemoryStats(m.RssBytes, m.PeakRssBytes, m.ManagedHeapBytes, m.Gen2Collections, world.Oracle.Retention.Total);
    }

    private static WorkloadTraceStats WorkloadTraceStatsOf(Model.Workload.TraceReplay replay)
    {
        var t = replay.Trace;
        return new WorkloadTraceStats(t.File, t.MapEvents, t.UnmapEvents, t.BytesMapped, t.BytesUnmapped, t.Cpus, t.SkippedLines, t.OtherEvents,
            replay.Ordering == Model.Workload.TraceOrdering.Global ? "global" : "per-cpu", replay.LongLivedMaps, replay.RelocatedMaps);
    }
}
