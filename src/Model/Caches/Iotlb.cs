using HvIommu.Model.Hypercalls;
using HvIommu.Model.Randomness;

namespace HvIommu.Model.Caches;

/// <summary>
/// The IOMMU's IOTLB for nested translation (brief §4): IOVA → HPA entries tagged by the stage-1 device-domain
/// id, of 4 KiB, 2 MiB or 1 GiB. Invalidated by the guest's flush hypercalls (domain-wide <c>HVCALL_FLUSH_DEVICE_DOMAIN</c>,
/// page-selective <c>HVCALL_FLUSH_DEVICE_DOMAIN_LIST</c>, §2.2, §2.4) and by the host when stage 2 changes the
/// backing of a GPA (<see cref="InvalidateWhereGpa"/>, H14). Bounded, with seeded random replacement; safe for
/// concurrent lookups, fills and invalidations. An invalidation removes everything filled before it began;
/// a fill racing with it may survive, as a walk in flight would on hardware.
/// </summary>
public sealed class Iotlb
{
    private readonly TranslationCache<IotlbEntry> _cache;
    private long _fillSerial;

    /// <param name="capacityEntries">Most entries held at once.</param>
    /// <param name="random">A generator derived for this cache; its shards derive their own from it by name.</param>
    public Iotlb(int capacityEntries, SeededRandom random) => _cache = new(capacityEntries, random);

    public int Capacity => _cache.Capacity;

    public int Count => _cache.Count;

    public CacheStats Stats => _cache.Stats();

    /// <summary>Empties the IOTLB and restarts its fill serials and victim choice: afterwards it behaves exactly as
    /// <c>new Iotlb(Capacity, random)</c> (an explorer reuses one across schedules instead of rebuilding its shards).</summary>
    public void Reset(SeededRandom random)
    {
        _cache.Reset(random);
        Interlocked.Exchange(ref _fillSerial, 0);
    }

    /// <summary>Finds the 4 KiB, 2 MiB or 1 GiB entry of <paramref name="domain"/> covering <paramref name="iova"/>.</summary>
    public bool TryLookup(uint domain, ulong iova, out IotlbEntry entry) => _cache.TryLookup(domain, iova, out entry);

    /// <summary>Caches the translation of the page holding <paramref name="iova"/>; returns it with its fill serial.</summary>
    public IotlbEntry Fill(uint domain, ulong iova, IotlbEntry entry)
    {
        var stored = entry with { FillSerial = Interlocked.Increment(ref _fillSerial) };
        _cache.Fill(domain, iova, stored);
        return stored;
    }

    /// <summary>Domain-selective invalidation; returns the number of entries removed.</summary>
    /// <param name="removing">Shown each entry the invalidation drops (the cost model counts collateral ones).</param>
    public int InvalidateDomain(uint domain, Action<IotlbEntry>? removing = null) => _cache.InvalidateDomain(domain, removing);

    /// <summary>Removes every entry of the domain overlapping any block (a 2 MiB entry overlapping a 4 KiB block goes).</summary>
    public int InvalidatePages(uint domain, ReadOnlySpan<FlushVa> blocks, Action<IotlbEntry>? removing = null) => _cache.InvalidatePages(domain, blocks, removing);

    public int InvalidateAll() => _cache.InvalidateAll();

    /// <summary>Removes, across all domains, entries derived from 4 KiB guest frame <paramref name="gpaPage"/> (H14).</summary>
    public int InvalidateWhereGpa(ulong gpaPage) => _cache.InvalidateWhereGpa(gpaPage);
}
