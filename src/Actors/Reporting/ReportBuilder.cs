using System.Runtime.CompilerServices;
using System.Text.Json;
using Akka.Configuration;
using HvIommu.Actors.Configuration;
using HvIommu.Actors.Simulation;
using HvIommu.Model.Oracle;
using HvIommu.Model.Settings;
using HvIommu.Model.Metrics;

namespace HvIommu.Actors.Reporting;

/// <summary>Turns a finished world into the report of docs/report.md.</summary>
internal static class ReportBuilder
{
    // The resolved config is the same for every schedule an explorer runs; render it once.
    private static readonly ConditionalWeakTable<Config, StrongBox<JsonElement>> ResolvedJson = new();

    public static RunReport Build(LoadedConfig config, SimWorld world, double wallSeconds, string reproduce, RunMode mode) =>
        Build(config, world, wallSeconds, mode, VerdictOf(world, reproduce));

    /// <summary>What a report says of its run's outcome (its violations, the expectation, whether it matched), without
    /// the statistics: all an explorer reads of most schedules. <see cref="Build(LoadedConfig, SimWorld, double, RunMode, ReportVerdict)"/>
    /// builds the whole report around it.</summary>
    public static ReportVerdict VerdictOf(SimWorld world, string reproduce)
    {
        var s = world.Settings;
        var violations = world.Violations.Kept
            .Select(v => new ViolationRecord(v.Kind.ToString(), v.Hazard, v.Step, v.SimTimeNs, NullIfEmpty(v.Vcpu), NullIfEmpty(v.Device),
                v.Domain == 0 ? null : v.Domain, v.Iova == 0 ? null : ViolationRecord.Hex(v.Iova), v.Frame == 0 ? null : ViolationRecord.Hex(v.Frame),
                v.Description, v.Explanation, reproduce, v.MappingSerial == 0 ? null : v.MappingSerial, v.FlushSeq == 0 ? null : v.FlushSeq))
            .ToList();
        var expectedKind = s.ExpectKind is null ? (ViolationKind?)null : Enum.Parse<ViolationKind>(s.ExpectKind);
        var didNotRun = s.Expect == Expectation.Clean ? world.DidNotRun() : null;
        var matched = s.Expect == Expectation.Clean
            ? world.Violations.Total == 0 && didNotRun is null
            : expectedKind is { } k ? world.Violations.Count(k) > 0 : world.Violations.Total > 0;
        return new ReportVerdict(s.Seed, violations, s.Expect == Expectation.Clean ? ExpectedOutcome.Clean : ExpectedOutcome.Violation, s.ExpectKind, matched, didNotRun);
    }

    /// <summary>The whole report of <paramref name="world"/> around its <paramref name="verdict"/> (from <see cref="VerdictOf"/>
    /// on the same world, which nothing may have changed since).</summary>
    public static RunReport Build(LoadedConfig config, SimWorld world, double wallSeconds, RunMode mode, ReportVerdict verdict)
    {
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
            LatencyClock = mode == RunMode.Deterministic ? "scheduler" : "wall",
            Findings = Enum.GetValues<ViolationKind>().Where(k => world.Violations.Count(k) > 0).ToDictionary(k => k.ToString(), k => world.Violations.Count(k)),
            DriverEvents = DriverEventCounters.Where(k => c[k] > 0).ToDictionary(k => JsonNamingPolicy.CamelCase.ConvertName(k.ToString()), k => c[k]),
            Memory = mode == RunMode.Stress ? MemoryOf(world) : null,
            WorkloadTrace = world.TraceReplay is { } replay ? WorkloadTraceStatsOf(replay) : null,
            Cost = CostStatsOf(world, c),
            Mapping = MappingStatsOf(world, c),
        };
        return new RunReport(verdict.Seed, mode, new ReportConfig(config.File, ResolvedJson.GetValue(config.Merged, static c => new StrongBox<JsonElement>(HoconJson.ToJson(c))).Value), stats, verdict.Violations,
            verdict.Expected, verdict.ExpectedKind, verdict.OutcomeMatched, [])
        {
            DidNotRun = verdict.DidNotRun,
        };
    }

    private static string? NullIfEmpty(string s) => s.Length == 0 ? null : s;

    /// <summary>Every guest exit path with its camel-case report name, in declaration order (computed once, not per report).</summary>
    private static readonly (Model.Driver.ExitPath Path, string Name)[] ExitPathNames =
        Enum.GetValues<Model.Driver.ExitPath>().Select(p => (p, JsonNamingPolicy.CamelCase.ConvertName(p.ToString()))).ToArray();

    private static CostStats CostStatsOf(SimWorld world, Metrics.SimCountersSnapshot c)
    {
        var costs = world.Costs;
        var calls = c.HypercallsByName();
        long Calls(Model.Hypercalls.HypercallCode code) => calls.TryGetValue(code.ToString(), out var n) ? n : 0;
        var flushes = Calls(Model.Hypercalls.HypercallCode.FlushDeviceDomain) + Calls(Model.Hypercalls.HypercallCode.FlushDeviceDomainList);
        // Each exit was counted under the guest path that made it (VcpuActor.HypercallAsync): nothing is inferred.
        var byPath = new Dictionary<string, long>(ExitPathNames.Length);
        foreach (var (path, name) in ExitPathNames)
            byPath.Add(name, c[Metrics.ExitPaths.Counter(path)]);
        var (mapCalls, unmapCalls) = (c[SimCounter.MapCalls], c[SimCounter.UnmapCalls]);
        var ops = mapCalls + unmapCalls;
        var makespan = costs.MakespanNs;
        var walk = world.Host.WalkCache.Stats;
        var iotlb = world.Host.Iotlb.Stats;
        var atc = world.AtcStats;
        static double? Rate(long hits, long misses) => hits + misses == 0 ? null : (double)hits / (hits + misses);
        return new CostStats(
            MapCalls: mapCalls,
            UnmapCalls: unmapCalls,
            VmExitsByPath: byPath,
            VmExitsPerUnmap: unmapCalls == 0 ? 0 : (double)c[SimCounter.UnmapVmExits] / unmapCalls,
            VmExitsPerMap: mapCalls == 0 ? 0 : (double)c[SimCounter.MapVmExits] / mapCalls,
            FlushHypercalls: flushes,
            ListEntries: costs.Count(Model.Costs.CostKind.FlushListEntry),
            IotlbHitRate: Rate(iotlb.Hits, iotlb.Misses),
            AtcHitRate: Rate(atc.Hits, atc.Misses),
            WalkCacheHitRate: Rate(walk.Hits, walk.Misses),
            WalkReferencesPerDma: c.DmaTransactions == 0 ? 0 : (double)world.Translator.WalkReferences / c.DmaTransactions,
            CollateralInvalidations: world.CollateralInvalidations,
            FlushNs: costs.FlushNs,
            TotalNs: costs.TotalNs,
            CostNsPerOp: ops == 0 ? 0 : (double)costs.TotalNs / ops,
            SimulatedNs: makespan,
            SimulatedOpsPerSecond: makespan == 0 ? 0 : ops / (makespan / 1e9),
            DmaTranslationNs: world.TranslationCost.Summarize(),
            NsByKind: Enum.GetValues<Model.Costs.CostKind>().ToDictionary(k => k.ToString(), costs.Ns))
        {
            DmaTranslationCdf = world.TranslationCost.Cdf(),
        };
    }

    /// <summary>The counters <see cref="RunStats.DriverEvents"/> reports when non-zero.</summary>
    private static readonly SimCounter[] DriverEventCounters =
    [
        SimCounter.DevicesNotManaged, SimCounter.FlushQueueInitFailures, SimCounter.DomainsSwitchedToLazy,
        SimCounter.HypercallInputsReplaced, SimCounter.InterruptsInHypercallWindow,
    ];

    private static MappingStats MappingStatsOf(SimWorld world, Metrics.SimCountersSnapshot c)
    {
        var iova = world.Domains.Select(d => d.Iova.Stats).ToArray();
        return new MappingStats(
            new Dictionary<string, long>
            {
                ["4K"] = c[SimCounter.Leaves4K],
                ["2M"] = c[SimCounter.Leaves2M],
                ["1G"] = c[SimCounter.Leaves1G],
            },
            c[SimCounter.TablesReplacedByLeaves],
            new IovaAllocatorStats(iova.Sum(s => s.CacheHits), iova.Sum(s => s.TreeAllocations), iova.Sum(s => s.CacheFlushes), iova.Sum(s => s.DepotTrims)));
    }

    private static MemoryStats MemoryOf(SimWorld world)
    {
        var m = Metrics.MemorySample.Now();
        return new MemoryStats(m.RssBytes, m.PeakRssBytes, m.ManagedHeapBytes, m.Gen2Collections, world.Mappings.Retention.Total);
    }

    private static WorkloadTraceStats WorkloadTraceStatsOf(Model.Workload.TraceReplay replay)
    {
        var t = replay.Trace;
        return new WorkloadTraceStats(t.File, t.MapEvents, t.UnmapEvents, t.BytesMapped, t.BytesUnmapped, t.Cpus, t.SkippedLines, t.OtherEvents,
            replay.Ordering == Model.Workload.TraceOrdering.Global ? "global" : "per-cpu", replay.LongLivedMaps, replay.RelocatedMaps);
    }
}

/// <summary>The outcome part of a <see cref="RunReport"/>: its seed, the violations it keeps, what the configuration
/// expected and whether the run matched it, and why a run expected clean tested nothing (<see cref="RunReport.DidNotRun"/>).
/// Each field is the report's field of the same name.</summary>
public sealed record ReportVerdict(ulong Seed, IReadOnlyList<ViolationRecord> Violations, ExpectedOutcome Expected, string? ExpectedKind, bool OutcomeMatched, string? DidNotRun);
