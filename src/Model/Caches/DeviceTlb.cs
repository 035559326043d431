using HvIommu.Model.Hypercalls;
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

    public void Fill(ulong iova, DeviceTlbEntry entry) => _cache.Fill(Untagged, iova, entry);

    public int InvalidatePages(ReadOnlySpan<FlushVa> blocks) => _cache.InvalidatePages(Untagged, blocks);

    public int InvalidateAll() => _cache.InvalidateAll();
}
