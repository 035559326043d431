using System.Diagnostics;

namespace HvIommu.Actors.Metrics;

/// <summary>
/// The process's memory at one moment, as the runtime and the OS report it: resident set (RSS), its peak, and
/// the managed heap the last garbage collection left (live objects plus fragmentation, without the garbage
/// allocated since). All in bytes.
/// </summary>
/// <param name="RssBytes">Resident set size now (Linux: /proc/self/stat, through <see cref="Environment.WorkingSet"/>).</param>
/// <param name="PeakRssBytes">The highest resident set size of the process so far (Linux: VmHWM of /proc/self/status).</param>
/// <param name="ManagedHeapBytes">The GC heap after the last collection (<see cref="GCMemoryInfo.HeapSizeBytes"/>
/// less <see cref="GCMemoryInfo.FragmentedBytes"/>); 0 before the first collection.</param>
/// <param name="Gen2Collections">Full (generation 2) collections so far.</param>
public readonly record struct MemorySample(long RssBytes, long PeakRssBytes, long ManagedHeapBytes, int Gen2Collections)
{
    /// <summary>Reads the figures now; cheap enough for every progress update (no collection is forced).</summary>
    public static MemorySample Now()
    {
        var gc = GC.GetGCMemoryInfo(GCKind.Any);
        long peak;
        using (var self = Process.GetCurrentProcess())
            peak = self.PeakWorkingSet64;
        var rss = Environment.WorkingSet;
        return new MemorySample(rss, Math.Max(peak, rss), Math.Max(0, gc.HeapSizeBytes - gc.FragmentedBytes), GC.CollectionCount(2));
    }

    /// <summary><c>rss 182 MB (peak 190 MB), heap 41 MB</c>: whole megabytes (10^6 bytes).</summary>
    public string Describe() => FormattableString.Invariant($"rss {Mb(RssBytes)} MB (peak {Mb(PeakRssBytes)} MB), heap {Mb(ManagedHeapBytes)} MB");

    private static long Mb(long bytes) => (bytes + 500_000) / 1_000_000;
}
