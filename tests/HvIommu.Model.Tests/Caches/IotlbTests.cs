using HvIommu.Model.Caches;
using HvIommu.Model.Hypercalls;
using HvIommu.Model.PageTables;
using HvIommu.Model.Randomness;

namespace HvIommu.Model.Tests.Caches;

[Trait("Category", "Model")]
public class IotlbTests
{
    private static Iotlb NewIotlb(int capacity = 1024, ulong seed = 1) => new(capacity, new SeededRandom(seed).Derive("iotlb"));

    private static IotlbEntry Entry(ulong gpa, PageSize size, bool writable = true) =>
        new(Hpa: gpa + 0x10_0000_0000, Gpa: gpa, size, writable, FrameGeneration: 1);

    [Theory]
    [InlineData(PageSize.Size4K, 0x4000_0000UL, 0x4000_0123UL)]
    [InlineData(PageSize.Size2M, 0x4000_0000UL, 0x401F_F123UL)]
    [InlineData(PageSize.Size1G, 0x4000_0000UL, 0x7FFF_F123UL)]
    public void Lookup_finds_the_entry_covering_the_iova(PageSize size, ulong iovaBase, ulong iova)
    {
        var iotlb = NewIotlb();
        iotlb.Fill(1, iovaBase, Entry(0x8000_0000, size));
        Assert.True(iotlb.TryLookup(1, iova, out var hit));
        Assert.Equal(size, hit.Size);
        Assert.Equal(0x10_8000_0000UL | (iova & (size.Bytes() - 1)), hit.Translate(iova));
        Assert.False(iotlb.TryLookup(1, iovaBase + size.Bytes(), out _));
        Assert.False(iotlb.TryLookup(2, iova, out _));
    }

    [Fact]
    public void Fill_assigns_increasing_serials_and_replaces_the_same_tag()
    {
        var iotlb = NewIotlb();
        var first = iotlb.Fill(1, 0x1000, Entry(0x5000, PageSize.Size4K));
        var second = iotlb.Fill(1, 0x1000, Entry(0x6000, PageSize.Size4K, writable: false));
        Assert.True(second.FillSerial > first.FillSerial);
        Assert.Equal(1, iotlb.Count);
        Assert.True(iotlb.TryLookup(1, 0x1000, out var hit));
        Assert.Equal(second, hit);
    }

    [Fact]
    public void Misaligned_gpa_is_refused() =>
        Assert.Throws<ArgumentException>(() => NewIotlb().Fill(1, 0, Entry(0x1000, PageSize.Size2M)));

    [Fact]
    public void Invalidating_one_domain_keeps_the_other()
    {
        var iotlb = NewIotlb();
        for (ulong i = 0; i < 10; i++)
        {
            iotlb.Fill(1, i << 12, Entry(i << 12, PageSize.Size4K));
            iotlb.Fill(2, i << 12, Entry(i << 12, PageSize.Size4K));
        }
        Assert.Equal(10, iotlb.InvalidateDomain(1));
        Assert.False(iotlb.TryLookup(1, 0x3000, out _));
        Assert.True(iotlb.TryLookup(2, 0x3000, out _));
        Assert.Equal(10, iotlb.Count);
    }

    [Fact]
    public void Page_list_invalidation_removes_overlapping_entries_of_every_size()
    {
        var iotlb = NewIotlb();
        iotlb.Fill(1, 0x20_0000, Entry(0x20_0000, PageSize.Size2M));   // pages 0x200..0x3FF
        iotlb.Fill(1, 0x40_0000, Entry(0x40_0000, PageSize.Size4K));   // page 0x400
        iotlb.Fill(1, 0x4000_0000, Entry(0x4000_0000, PageSize.Size1G));
        iotlb.Fill(2, 0x20_0000, Entry(0x20_0000, PageSize.Size2M));
        var removed = iotlb.InvalidatePages(1, [new FlushVa(0x300, 0)]);
        Assert.Equal(1, removed);
        Assert.False(iotlb.TryLookup(1, 0x20_0000, out _));
        Assert.True(iotlb.TryLookup(1, 0x40_0000, out _));
        Assert.True(iotlb.TryLookup(1, 0x4000_0000, out _));
        Assert.True(iotlb.TryLookup(2, 0x20_0000, out _));
        Assert.Equal(1, iotlb.InvalidatePages(1, [new FlushVa(0x4_0000 + 0x1234, 0)]));
        Assert.False(iotlb.TryLookup(1, 0x4000_0000, out _));
    }

    [Fact]
    public void Large_blocks_scan_and_small_blocks_probe_with_the_same_result()
    {
        var probed = NewIotlb();
        var scanned = NewIotlb();
        foreach (var iotlb in new[] { probed, scanned })
        {
            for (ulong page = 0; page < 600; page++)
                iotlb.Fill(1, page << 12, Entry(page << 12, PageSize.Size4K));
        }
        var removedByProbing = 0;
        for (ulong page = 0; page < 512; page += 64)
            removedByProbing += probed.InvalidatePages(1, [new FlushVa(page, 6)]);
        var removedByScanning = scanned.InvalidatePages(1, [new FlushVa(0, 9)]);
        Assert.Equal(512, removedByProbing);
        Assert.Equal(512, removedByScanning);
        Assert.Equal(88, scanned.Count);
        Assert.Equal(probed.Count, scanned.Count);
    }

    [Fact]
    public void Whole_space_block_removes_the_domain()
    {
        var iotlb = NewIotlb();
        iotlb.Fill(1, 0xFFFF_FFFF_FFFF_F000, Entry(0x1000, PageSize.Size4K));
        iotlb.Fill(1, 0, Entry(0x1000, PageSize.Size4K));
        Assert.Equal(2, iotlb.InvalidatePages(1, [FlushVa.FromRange(0, ulong.MaxValue)]));
    }

    [Fact]
    public void Malformed_block_is_refused() =>
        Assert.Throws<ArgumentException>(() => NewIotlb().InvalidatePages(1, [new FlushVa(1, 1)]));

    [Fact]
    public void Gpa_invalidation_reaches_every_domain_and_large_pages()
    {
        var iotlb = NewIotlb();
        iotlb.Fill(1, 0x1000, Entry(0x7000, PageSize.Size4K));
        iotlb.Fill(2, 0x9000, Entry(0x7000, PageSize.Size4K));
        iotlb.Fill(3, 0x20_0000, Entry(0x0, PageSize.Size2M));        // GPA pages 0..0x1FF
        iotlb.Fill(3, 0x40_0000, Entry(0x20_0000, PageSize.Size2M));  // GPA pages 0x200..0x3FF
        Assert.Equal(3, iotlb.InvalidateWhereGpa(0x7));
        Assert.Equal(1, iotlb.Count);
        Assert.True(iotlb.TryLookup(3, 0x40_0000, out _));
    }

    [Fact]
    public void Counters_track_hits_misses_fills_and_invalidations()
    {
        var iotlb = NewIotlb();
        iotlb.Fill(1, 0x1000, Entry(0x1000, PageSize.Size4K));
        iotlb.TryLookup(1, 0x1000, out _);
        iotlb.TryLookup(1, 0x1000, out _);
        iotlb.TryLookup(1, 0x2000, out _);
        iotlb.InvalidateAll();
        Assert.Equal(new CacheStats(Hits: 2, Misses: 1, Fills: 1, Evictions: 0, Invalidated: 1), iotlb.Stats);
        Assert.Equal(2.0 / 3, iotlb.Stats.HitRate, 9);
        Assert.Equal(0, CacheStats.Empty.HitRate);
    }
}
