using HvIommu.Model.Caches;
using HvIommu.Model.Hypercalls;
using HvIommu.Model.PageTables;
using HvIommu.Model.Randomness;

namespace HvIommu.Model.Tests.Caches;

/// <summary>The IOTLB shows each entry an invalidation drops, so the cost model can count collateral ones.</summary>
[Trait("Category", "Model")]
public sealed class CollateralInvalidationTests
{
    private static Iotlb Filled()
    {
        var iotlb = new Iotlb(64, new SeededRandom(1));
        for (ulong i = 0; i < 8; i++)
            iotlb.Fill(3, i << 12, new IotlbEntry(0x1000_0000 + (i << 12), i << 12, PageSize.Size4K, true, 0));
        iotlb.Fill(4, 0, new IotlbEntry(0x2000_0000, 0, PageSize.Size4K, true, 0));
        return iotlb;
    }

    [Fact]
    public void A_domain_flush_shows_every_entry_of_the_domain_and_no_other()
    {
        var seen = new List<ulong>();
        Assert.Equal(8, Filled().InvalidateDomain(3, e => seen.Add(e.Gpa)));
        Assert.Equal(Enumerable.Range(0, 8).Select(i => (ulong)i << 12), seen.Order());
    }

    [Fact]
    public void A_page_list_flush_shows_only_the_entries_its_blocks_overlap()
    {
        var seen = new List<ulong>();
        var iotlb = Filled();
        Assert.Equal(2, iotlb.InvalidatePages(3, [FlushVa.FromRange(0x2000, 0x3FFF)], e => seen.Add(e.Gpa)));
        Assert.Equal(new ulong[] { 0x2000, 0x3000 }, seen.Order());
        Assert.Equal(7, iotlb.Count);
    }
}
