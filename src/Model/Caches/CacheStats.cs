namespace HvIommu.Model.Caches;

/// <summary>
/// A snapshot of one IOMMU cache's counters (brief §4, §7): lookups that hit or missed, fills, entries
/// evicted for capacity, and entries removed by invalidation.
/// </summary>
public sealed record CacheStats(long Hits, long Misses, long Fills, long Evictions, long Invalidated)
{
    public static CacheStats Empty { get; } = new(0, 0, 0, 0, 0);

    /// <summary>Hits over lookups, 0 when nothing was looked up.</summary>
    public double HitRate => Hits + Misses == 0 ? 0 : (double)Hits / (Hits + Misses);

    public CacheStats Add(CacheStats other) => new(
        Hits + other.Hits, Misses + other.Misses, Fills + other.Fills,
        Evictions + other.Evictions, Invalidated + other.Invalidated);
}
