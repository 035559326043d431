using HvIommu.Model.Caches;
using HvIommu.Model.PageTables;
using HvIommu.Model.Randomness;

namespace HvIommu.Model.Tests.Caches;

[Trait("Category", "Model")]
public class EvictionTests
{
    private static List<ulong> Survivors(ulong seed, int capacity, int fills)
    {
        var iotlb = new Iotlb(capacity, new SeededRandom(seed).Derive("iotlb"));
        for (ulong page = 0; page < (ulong)fills; page++)
        {
            iotlb.Fill(1, page << 12, new IotlbEntry(page << 12, page << 12, PageSize.Size4K, true, 0));
            Assert.True(iotlb.Count <= capacity);
        }
        return Enumerable.Range(0, fills).Select(p => (ulong)p).Where(p => iotlb.TryLookup(1, p << 12, out _)).ToList();
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(64)]
    [InlineData(100)]
    public void Count_never_exceeds_capacity_and_a_full_cache_stays_full(int capacity)
    {
        var iotlb = new Iotlb(capacity, new SeededRandom(7));
        for (ulong page = 0; page < 1000; page++)
            iotlb.Fill(1, page << 12, new IotlbEntry(0, 0, PageSize.Size4K, true, 0));
        Assert.Equal(capacity, iotlb.Capacity);
        Assert.True(iotlb.Count <= capacity);
        Assert.Equal(1000, iotlb.Stats.Fills);
        Assert.Equal(1000 - iotlb.Count, iotlb.Stats.Evictions);
    }

    [Fact]
    public void Same_seed_evicts_the_same_victims() =>
        Assert.Equal(Survivors(42, 64, 1000), Survivors(42, 64, 1000));

    [Fact]
    public void Another_seed_evicts_other_victims() =>
        Assert.NotEqual(Survivors(42, 64, 1000), Survivors(43, 64, 1000));

    [Fact]
    public void Capacity_must_be_positive() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new Iotlb(0, new SeededRandom(1)));

    [Fact]
    public void Walk_cache_and_device_tlb_are_bounded_too()
    {
        var walk = new PagingStructureCache(16, new SeededRandom(1));
        var atc = new DeviceTlb(16, new SeededRandom(1));
        for (ulong i = 0; i < 200; i++)
        {
            walk.Fill(1, 1, i << 21, 0x1000);
            atc.Fill(i << 12, new DeviceTlbEntry(0, 0, PageSize.Size4K, true, 0));
        }
        Assert.Equal(16, walk.Count);
        Assert.Equal(16, atc.Count);
        Assert.Equal(184, walk.Stats.Evictions);
    }
}
