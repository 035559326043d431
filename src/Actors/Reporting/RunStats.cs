using HvIommu.Actors.Metrics;

namespace HvIommu.Actors.Reporting;

/// <summary>
/// The counts and timings of one run: messages, DMA transactions, 4 KiB pages mapped and unmapped, hypercalls by
/// name (e.g. <c>FlushDeviceDomain</c>), VM exits, IOTLB and device ATC hits, wall and simulated time,
/// and latency percentiles per operation. <see cref="PagesMapped"/> and <see cref="PagesUnmapped"/> count 4 KiB
/// pages (a 2 MiB buffer is 512), whatever the leaves; the dma_map and dma_unmap calls are
/// <see cref="CostStats.MapCalls"/> and <see cref="CostStats.UnmapCalls"/>.
/// </summary>
public sealed record RunStats(
    long MessagesDelivered,
    long DmaTransactions,
    long PagesMapped,
    long PagesUnmapped,
    IReadOnlyDictionary<string, long> Hypercalls,
    long VmExits,
    CacheStats Iotlb,
    CacheStats Atc,
    double WallSeconds,
    long SimulatedNs,
    long Steps,
    IReadOnlyDictionary<string, LatencySummary> Latencies)
{
    /// <summary>
    /// What the <see cref="Latencies"/> were measured on: <c>"scheduler"</c> in a deterministic run (virtual time:
    /// 100 ns for each message delivered while the operation was in progress, counting the one that started it, plus
    /// the timers it waited for — not the wall clock, not the cost model), <c>"wall"</c> in a stress run (the
    /// monotonic clock, nanoseconds).
    /// </summary>
    public string LatencyClock { get; init; } = "";

    /// <summary>Everything the oracle found, by kind, counted whole (the report keeps only the first
    /// violations in full); includes LazyWindowStaleAccess, which is a violation only when asked (H3).</summary>
    public IReadOnlyDictionary<string, long> Findings { get; init; } = new Dictionary<string, long>();

    /// <summary>
    /// The driver's rarer events, by counter name (camelCase), only those that happened: <c>devicesNotManaged</c>
    /// (probe_device returned -ENODEV, H13), <c>flushQueueInitFailures</c> (iommu_dma_init_fq failed, the domain stayed
    /// strict), <c>domainsSwitchedToLazy</c> (the sysfs switch to DMA-FQ), <c>hypercallInputsReplaced</c> (the host read
    /// another call's input from the per-vCPU input page, H17) and <c>interruptsInHypercallWindow</c> (interrupts taken
    /// between filling that page and the trap, H17). Empty when none happened or in older reports.
    /// </summary>
    public IReadOnlyDictionary<string, long> DriverEvents { get; init; } = new Dictionary<string, long>();

    /// <summary>The leaves the maps wrote by page size and how the IOVA allocator served them; null in older reports.</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public MappingStats? Mapping { get; init; }

    /// <summary>The cost model's figures (hviommu.hypervisor.latency); null in reports written before it existed.</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public CostStats? Cost { get; init; }

    /// <summary>The replayed kernel trace's own counts; null when the run replays none.</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public WorkloadTraceStats? WorkloadTrace { get; init; }

    /// <summary>The process's memory when a stress run ended (null for deterministic runs and older reports), so a
    /// user sees a leak before the machine does.</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public MemoryStats? Memory { get; init; }
}

/// <summary>
/// The cost model of one run, in simulated time. <see cref="MapCalls"/> and <see cref="UnmapCalls"/> count dma_map
/// and dma_unmap calls (a trace's events), whatever their size. <see cref="VmExitsByPath"/> splits every VM exit
/// of the run (each hypercall is one; they sum to <c>stats.vmExits</c>) by the guest path that made it: init, map,
/// unmap (strict iotlb_sync flushes; lazy mode's flush-queue flushes), domainSwitch, teardown.
/// <see cref="VmExitsPerUnmap"/> is the unmap path's exits per unmap call, <see cref="VmExitsPerMap"/> the map
/// path's per map call (a large leaf replacing an emptied table must be flushed). <see cref="ListEntries"/> are the entries all HVCALL_FLUSH_DEVICE_DOMAIN_LIST calls carried.
/// <see cref="CollateralInvalidations"/> are IOTLB entries of still-mapped IOVAs that flushes dropped (a domain
/// flush drops every entry of the domain; a list flush only those its blocks overlap).
/// <see cref="WalkReferencesPerDma"/> are nested-walk memory references over DMA translations.
/// <see cref="CostNsPerOp"/> is every charged nanosecond over the maps and unmaps; <see cref="SimulatedNs"/> the
/// run's length on the per-vCPU timelines (trace events start no earlier than their scaled timestamps);
/// <see cref="DmaTranslationNs"/> the percentiles of each translation's modelled latency.
/// </summary>
public sealed record CostStats(
    long MapCalls,
    long UnmapCalls,
    IReadOnlyDictionary<string, long> VmExitsByPath,
    double VmExitsPerUnmap,
    double VmExitsPerMap,
    long FlushHypercalls,
    long ListEntries,
    double? IotlbHitRate,
    double? AtcHitRate,
    double? WalkCacheHitRate,
    double WalkReferencesPerDma,
    long CollateralInvalidations,
    long FlushNs,
    long TotalNs,
    double CostNsPerOp,
    long SimulatedNs,
    double SimulatedOpsPerSecond,
    LatencySummary DmaTranslationNs,
    IReadOnlyDictionary<string, long> NsByKind)
{
    /// <summary>The distribution behind <see cref="DmaTranslationNs"/>: (ns, fraction at or below), ascending.</summary>
    public IReadOnlyList<CdfPoint> DmaTranslationCdf { get; init; } = [];
}

/// <summary>
/// A stress run's memory in bytes, read when the run ended: the resident set then and at its peak (the whole
/// process), the managed heap the last garbage collection left, the full collections so far, and the mapping
/// records the oracle still held (live, last unmapped per IOVA, awaiting a flush): bounded by the IOVAs in use,
/// not by the operations run.
/// </summary>
public sealed record MemoryStats(long RssBytes, long PeakRssBytes, long ManagedHeapBytes, int Gen2Collections, long OracleRecords);

/// <summary>
/// What a replayed ftrace holds, counted from the file (equal to its own counts): map and unmap events, bytes
/// they name, the traced CPUs, and the lines skipped (header, other events). <see cref="RelocatedMaps"/> counts maps
/// the replay placed at an IOVA alias because their traced range was still held by a flush queue or a flush in
/// progress; <see cref="LongLivedMaps"/> maps the trace never unmaps.
/// </summary>
public sealed record WorkloadTraceStats(
    string File,
    long MapEvents,
    long UnmapEvents,
    ulong BytesMapped,
    ulong BytesUnmapped,
    IReadOnlyList<int> Cpus,
    long SkippedLines,
    long OtherEvents,
    string Ordering,
    long LongLivedMaps,
    long RelocatedMaps);

/// <summary>Hits and misses of one IOMMU translation cache (the IOTLB, or a device's ATC under ATS).</summary>
public sealed record CacheStats(long Hits, long Misses)
{
    /// <summary>Hits over lookups, or null when there were no lookups.</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public double? HitRate => Hits + Misses == 0 ? null : (double)Hits / (Hits + Misses);
}

/// <summary>
/// What the maps wrote: <see cref="LeavesBySize"/> counts leaves by page size ("4K", "2M", "1G"; iommu_pgsize's choices
/// for the synthetic and the traced maps); <see cref="TablesReplacedByLeaves"/> are page-table pages a large leaf replaced
/// (each freed after the map path's flush, H19). <see cref="Iova"/> sums the domains' IOVA allocators.
/// </summary>
public sealed record MappingStats(IReadOnlyDictionary<string, long> LeavesBySize, long TablesReplacedByLeaves, IovaAllocatorStats Iova);

/// <summary>The IOVA allocators of all domains (drivers/iommu/iova.c): <see cref="CacheHits"/> allocations a per-vCPU
/// magazine or the depot served, <see cref="TreeAllocations"/> those the tree's top-down walk served,
/// <see cref="CacheFlushes"/> allocation failures that flushed every range cache back to the tree,
/// <see cref="DepotTrims"/> depot magazines the delayed work returned to the tree.</summary>
public sealed record IovaAllocatorStats(long CacheHits, long TreeAllocations, long CacheFlushes, long DepotTrims);
