using HvIommu.Model.Caches;
using HvIommu.Model.Hypercalls;
using HvIommu.Model.PageTables;
using HvIommu.Model.Randomness;

namespace HvIommu.Model.Tests.Caches;

[Trait("Category", "Model")]
public class DeviceTlbTests
{
    [Fact]
    public void Holds_translations_until_invalidated()
    {
        var atc = new DeviceTlb(64, new SeededRandom(3).Derive("atc"));
        atc.Fill(0x20_0000, new DeviceTlbEntry(0x10_0020_0000, 0x20_0000, PageSize.Size2M, true, 4));
        atc.Fill(0x1000, new DeviceTlbEntry(0x10_0000_5000, 0x5000, PageSize.Size4K, false, 1));
        Assert.True(atc.TryLookup(0x21_2345, out var hit));
        Assert.Equal(0x10_0021_2345UL, hit.Translate(0x21_2345));
        Assert.Equal(4u, hit.FrameGeneration);

        Assert.Equal(1, atc.InvalidatePages([new FlushVa(0x3FF, 0)]));
        Assert.False(atc.TryLookup(0x21_2345, out _));
        Assert.True(atc.TryLookup(0x1000, out _));
        Assert.Equal(1, atc.InvalidateAll());
        Assert.Equal(0, atc.Count);
        Assert.Equal(64, atc.Capacity);
    }

    [Fact]
    public void A_translation_completion_overtaken_by_an_invalidation_is_not_cached()
    {
        var atc = new DeviceTlb(64, new SeededRandom(3).Derive("atc"));
        var entry = new DeviceTlbEntry(0x10_0000_5000, 0x5000, PageSize.Size4K, true, 1);
        atc.Fill(0x2000, entry);

        // The request is issued, an invalidation (DETACH, ATS toggle, a flush) begins and runs, then the completion arrives.
        var atRequest = atc.Invalidations;
        atc.InvalidateAll();
        Assert.False(atc.FillUnlessInvalidated(0x1000, entry, atRequest));
        Assert.False(atc.TryLookup(0x1000, out _));

        // With no invalidation in between the completion is cached.
        Assert.True(atc.FillUnlessInvalidated(0x1000, entry, atc.Invalidations));
        Assert.True(atc.TryLookup(0x1000, out _));
        // Page-selective invalidations count too.
        atRequest = atc.Invalidations;
        atc.InvalidatePages([new FlushVa(0x7, 0)]);
        Assert.False(atc.FillUnlessInvalidated(0x9000, entry, atRequest));
        Assert.False(atc.TryLookup(0x9000, out _));
    }
}
