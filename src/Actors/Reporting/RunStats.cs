namespace HvIommu.Actors.Reporting;

/// <summary>
/// The counts and timings of one run: messages, DMA transactions, maps and unmaps, hypercalls by
/// name (e.g. <c>FlushDeviceDomain</c>), VM exits, IOTLB and device ATC hits, wall and simulated time,
/// and latency percentiles per operation.
/// </summary>
public sealed record RunStats(
    long MessagesDelivered,
    long DmaTransactions,
    long Maps,
    long Unmaps,
    IReadOnlyDictionary<string, long> Hypercalls,
    long VmExits,
    CacheStats Iotlb,
    CacheStats Atc,
    double WallSeconds,
    long SimulatedNs,
    long Steps,
    IReadOnlyDictionary<string, LatencySummary> Latencies)
{
    /// <summary>VM exits per unmap, the cost the pvIOMMU's batched flushes try to lower; 0 with no unmaps.</summary>
    public double VmExitsPerUnmap => Unmaps == 0 ? 0 : (double)VmExits / Unmaps;

    /// <summary>Everything the oracle found, by kind, counted whole (the report keeps only the first
    /// violations in full); includes LazyWindowStaleAccess, which is a violation only when asked (H3).</summary>
    public IReadOnlyDictionary<string, long> Findings { get; init; } = new Dictionary<string, long>();

    /// <summary>The replayed kernel trace's own counts; null when the run replays none.</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public WorkloadTraceStats? WorkloadTrace { get; init; }

    /// <summary>The process's memory when a stress run ended (null for deterministic runs and older reports), so a
    /// user sees a leak before the machine does.</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public MemoryStats? Memory { get; init; }
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

/// <summary>Latency percentiles of one operation (map, unmap, flush, DMA, …) in nanoseconds.</summary>
public sealed record LatencySummary(
    long Count,
    long MinNs,
    long P50Ns,
    long P90Ns,
    long P99Ns,
    long P999Ns,
    long MaxNs,
    double MeanNs)
{
    /// <summary>The summary of an operation that never happened.</summary>
    public static LatencySummary Empty { get; } = new(0, 0, 0, 0, 0, 0, 0, 0);
}
