using HvIommu.Model.Caches;
using HvIommu.Model.Iommu;
using HvIommu.Model.Memory;
using HvIommu.Model.PageTables;
using HvIommu.Model.Randomness;

namespace HvIommu.Model.Tests.Caches;

/// <summary>
/// An explorer resets the IOMMU caches of its previous schedule instead of building new ones: a reset cache must be
/// indistinguishable from a new one of the same seed — the same entries survive the same evictions, the same counters,
/// the same fill serials — whatever it held before.
/// </summary>
[Trait("Category", "Model")]
public sealed class CacheResetTests
{
    [Theory]
    [InlineData(64)]
    [InlineData(7)]
    [InlineData(1)]
    public void A_reset_iotlb_behaves_as_a_new_one_of_the_same_seed(int capacity)
    {
        var reused = new Iotlb(capacity, new SeededRandom(11).Derive("iotlb"));
        Drive(reused, domains: 5, pages: 700); // fill, evict and invalidate under another seed first
        var seed = new SeededRandom(42).Derive("iotlb");
        reused.Reset(seed);
        Assert.Equal((0, CacheStats.Empty), (reused.Count, reused.Stats));

        var fresh = new Iotlb(capacity, new SeededRandom(42).Derive("iotlb"));
        Assert.Equal(Drive(fresh, domains: 3, pages: 500), Drive(reused, domains: 3, pages: 500));
        Assert.Equal(fresh.Stats, reused.Stats);
    }

    [Fact]
    public void A_reset_walk_cache_behaves_as_a_new_one_of_the_same_seed()
    {
        var reused = new PagingStructureCache(48, new SeededRandom(5));
        Drive(reused, 900);
        reused.Reset(new SeededRandom(6));
        var fresh = new PagingStructureCache(48, new SeededRandom(6));
        Assert.Equal(Drive(fresh, 600), Drive(reused, 600));
        Assert.Equal(fresh.Stats, reused.Stats);
    }

    [Fact]
    public void A_host_takes_over_and_resets_the_caches_of_a_previous_one_only_when_their_sizes_match()
    {
        var memory = new GuestMemory(1UL << 24);
        var stage2 = new Stage2(memory.SizeBytes);
        var settings = Iommu.IommuRig.DefaultSettings;
        var first = new HostIommu(memory, stage2, settings, new SeededRandom(1));
        first.Iotlb.Fill(3, 0x1000, new IotlbEntry(0x5000, 0x5000, PageSize.Size4K, true, 0));

        var second = new HostIommu(memory, stage2, settings, new SeededRandom(2), reuseCachesOf: first);
        Assert.Same(first.Iotlb, second.Iotlb);
        Assert.Same(first.WalkCache, second.WalkCache);
        Assert.Equal(0, second.Iotlb.Count);

        var resized = new HostIommu(memory, stage2, settings with { IotlbEntries = settings.IotlbEntries * 2 }, new SeededRandom(2), reuseCachesOf: second);
        Assert.NotSame(second.Iotlb, resized.Iotlb);
        Assert.Same(second.WalkCache, resized.WalkCache);
    }

    /// <summary>Fills pages of several domains (evicting once full) with domain and page-list invalidations between;
    /// returns what every lookup found and the fill serials, in order.</summary>
    private static List<string> Drive(Iotlb iotlb, int domains, int pages)
    {
        var seen = new List<string>();
        for (ulong i = 0; i < (ulong)pages; i++)
        {
            var domain = 3 + (uint)(i % (ulong)domains);
            seen.Add("fill " + iotlb.Fill(domain, i << 12, new IotlbEntry(0x1000_0000 + (i << 12), i << 12, PageSize.Size4K, true, 0)).FillSerial);
            if (i % 97 == 96)
                seen.Add("invalidate " + iotlb.InvalidateDomain(domain));
        }
        for (ulong i = 0; i < (ulong)pages; i++)
            seen.Add(iotlb.TryLookup(3 + (uint)(i % (ulong)domains), i << 12, out var e) ? $"hit {e.Hpa:x}/{e.FillSerial}" : "miss");
        return seen;
    }

    private static List<string> Drive(PagingStructureCache cache, int tables)
    {
        var seen = new List<string>();
        for (ulong i = 0; i < (ulong)tables; i++)
            cache.Fill(3 + (uint)(i % 4), 1 + (int)(i % 3), i << 30, 0x10_0000 + (i << 12));
        for (ulong i = 0; i < (ulong)tables; i++)
            seen.Add(cache.TryLookupDeepest(3 + (uint)(i % 4), i << 30, 4, out var level, out var gpa) ? $"{level}:{gpa:x}" : "miss");
        return seen;
    }
}
