using HvIommu.Model.Hypercalls;
using HvIommu.Model.PageTables;
using HvIommu.Model.Randomness;

namespace HvIommu.Model.Caches;

/// <summary>
/// An endpoint's device TLB — the ATS address translation cache (brief §4): one per device, untagged by domain,
/// invalidated by the host's flush handler after the IOTLB (order matters, H4) and when ATS is disabled (H9).
/// Bounded with seeded random replacement; safe for concurrent use.
/// </summary>
public sealed class DeviceTlb
{
    // The device's cache has no domain tag; the shared engine is keyed with this constant.
    private const uint Untagged = 0;
    private readonly TranslationCache<DeviceTlbEntry> _cache;

    /// <param name="capacityEntries">Most entries held at once.</param>
    /// <param name="random">A generator derived for this device's cache.</param>
    public DeviceTlb(int capacityEntries, SeededRandom random) => _cache = new(capacityEntries, random);

    public int Capacity => _cache.Capacity;

    public int Count => _cache.Count;

    public CacheStats Stats => _cache.Stats();

    public bool TryLookup(ulong iova, out DeviceTlbEntry entry) => _cache.TryLookup(Untagged, iova, out entry);

    private long _invalidations;

    /// <summary>
    /// How many invalidations have begun (every source: a flush's ATS invalidation, ATTACH/DETACH, an ATS toggle,
    /// a stage-2 change). A translation request reads it before it goes to the IOMMU and fills only through
    /// <see cref="FillUnlessInvalidated"/>: the PCIe ATS rule that a Translation Completion overtaken by an
    /// Invalidate Request must not be cached (the device answers the invalidation only after its outstanding
    /// translation requests are dealt with), so no invalidation can be passed by a fill begun before it.
    /// </summary>
    public long Invalidations => Interlocked.Read(ref _invalidations);

    public void Fill(ulong iova, DeviceTlbEntry entry) => _cache.Fill(Untagged, iova, entry);

    /// <summary>Caches the completion of a translation request issued when <see cref="Invalidations"/> read
    /// <paramref name="invalidationsAtRequest"/>; if any invalidation began since, the entry is dropped again
    /// (it may have been filled after that invalidation ran). True when the entry stays.</summary>
    public bool FillUnlessInvalidated(ulong iova, DeviceTlbEntry entry, long invalidationsAtRequest)
    {
        _cache.Fill(Untagged, iova, entry);
        if (Invalidations == invalidationsAtRequest)
            return true;
        var page = iova & ~(entry.Size.Bytes() - 1);
        _cache.InvalidatePages(Untagged, [FlushVa.FromRange(page, page + entry.Size.Bytes() - 1)]);
        return false;
    }

    public int InvalidatePages(ReadOnlySpan<FlushVa> blocks)
    {
        Interlocked.Increment(ref _invalidations);
        return _cache.InvalidatePages(Untagged, blocks);
    }

    public int InvalidateAll()
    {
        Interlocked.Increment(ref _invalidations);
        return _cache.InvalidateAll();
    }
}
