using HvIommu.Model.Caches;
using HvIommu.Model.Randomness;

namespace HvIommu.Model.Tests.Caches;

[Trait("Category", "Model")]
public class PagingStructureCacheTests
{
    private static PagingStructureCache NewCache() => new(256, new SeededRandom(5).Derive("walk"));

    [Fact]
    public void Deepest_cached_level_wins()
    {
        var walk = NewCache();
        const ulong iova = 0x0000_1234_5678_9000;
        walk.Fill(1, 3, iova, 0xA000); // PML4E → PDPT
        walk.Fill(1, 2, iova, 0xB000); // PDPTE → PD
        Assert.True(walk.TryLookupDeepest(1, iova, 3, out var level, out var table));
        Assert.Equal((2, 0xB000UL), (level, table));
        walk.Fill(1, 1, iova, 0xC000); // PDE → PT
        Assert.True(walk.TryLookupDeepest(1, iova, 3, out level, out table));
        Assert.Equal((1, 0xC000UL), (level, table));
    }

    [Fact]
    public void Entry_serves_every_iova_under_its_prefix_only()
    {
        var walk = NewCache();
        walk.Fill(1, 1, 0x20_0000, 0xC000); // covers the 2 MiB span 0x200000..0x3FFFFF
        Assert.True(walk.TryLookupDeepest(1, 0x3F_F000, 3, out _, out _));
        Assert.False(walk.TryLookupDeepest(1, 0x40_0000, 3, out _, out _));
        Assert.False(walk.TryLookupDeepest(2, 0x20_0000, 3, out _, out _));
    }

    [Fact]
    public void Levels_above_the_top_are_ignored()
    {
        var walk = NewCache();
        walk.Fill(1, 4, 0, 0xD000);
        Assert.False(walk.TryLookupDeepest(1, 0, 3, out _, out _));
        Assert.True(walk.TryLookupDeepest(1, 0, 4, out var level, out _));
        Assert.Equal(4, level);
    }

    [Fact]
    public void Domain_invalidation_is_selective()
    {
        var walk = NewCache();
        walk.Fill(1, 1, 0, 0x1000);
        walk.Fill(2, 1, 0, 0x2000);
        Assert.Equal(1, walk.InvalidateDomain(1));
        Assert.False(walk.TryLookupDeepest(1, 0, 3, out _, out _));
        Assert.True(walk.TryLookupDeepest(2, 0, 3, out _, out var table));
        Assert.Equal(0x2000UL, table);
        Assert.Equal(1, walk.InvalidateAll());
        Assert.Equal(0, walk.Count);
        Assert.Equal(new CacheStats(Hits: 1, Misses: 1, Fills: 2, Evictions: 0, Invalidated: 2), walk.Stats);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(5)]
    public void Levels_are_1_to_4(int level)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => NewCache().Fill(1, level, 0, 0x1000));
        Assert.Throws<ArgumentOutOfRangeException>(() => NewCache().TryLookupDeepest(1, 0, level, out _, out _));
    }

    [Fact]
    public void Table_gpa_must_be_page_aligned() =>
        Assert.Throws<ArgumentException>(() => NewCache().Fill(1, 1, 0, 0x1001));
}
