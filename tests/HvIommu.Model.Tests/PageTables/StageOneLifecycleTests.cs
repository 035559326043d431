using HvIommu.Model.PageTables;

namespace HvIommu.Model.Tests.PageTables;

/// <summary>Table replacement on map (hazard H19), table freeing on unmap (H1) and pt_iommu_deinit (H10).</summary>
[Trait("Category", "Model")]
public sealed class StageOneLifecycleTests
{
    [Fact]
    public void Large_map_over_an_empty_table_replaces_it_and_hands_it_to_the_gather()
    {
        var guest = new TestGuest();
        var table = guest.NewTable();
        Assert.Equal(MapStatus.Mapped, table.Map(0x1000, 0x5000, PageSize.Size4K, true));
        var unmapGather = new IotlbGather();
        Assert.Equal(0x1000UL, table.Unmap(0x1000, 0x1000, unmapGather));
        Assert.Empty(unmapGather.FreeList);
        Assert.Equal((0x1000UL, 0x1FFFUL), (unmapGather.Start, unmapGather.End));
        Assert.True(table.TryIovaToPhys(0, out _, out _, out _) is false);
        var pt = TestGuest.TableBaseGpa + 0x3000;

        Assert.Equal(MapStatus.AlreadyMapped, table.Map(0, 0x20_0000, PageSize.Size2M, true));
        var gather = new IotlbGather();
        Assert.Equal(MapStatus.Mapped, table.Map(0, 0x20_0000, PageSize.Size2M, true, gather));

        Assert.Equal([pt], gather.FreeList);
        Assert.Equal((0UL, 0x1F_FFFFUL), (gather.Start, gather.End));
        Assert.Equal(3, table.TablePageCount);
        Assert.True(table.TryIovaToPhys(0x1234, out var gpa, out var size, out _));
        Assert.Equal((0x20_1234UL, PageSize.Size2M), (gpa, size));
    }

    [Fact]
    public void Large_map_over_a_table_holding_a_leaf_is_refused()
    {
        var table = new TestGuest().NewTable();
        table.Map(0x1000, 0x5000, PageSize.Size4K, true);
        var gather = new IotlbGather();
        Assert.Equal(MapStatus.AlreadyMapped, table.Map(0, 0x4000_0000, PageSize.Size1G, true, gather));
        Assert.True(gather.IsEmpty);
    }

    [Fact]
    public void Partial_unmap_from_the_start_of_a_large_leaf_removes_all_of_it()
    {
        var table = new TestGuest().NewTable();
        table.Map(0x20_0000, 0x40_0000, PageSize.Size2M, true);
        var gather = new IotlbGather();
        Assert.Equal(0x20_0000UL, table.Unmap(0x20_0000, 0x1000, gather));
        // The whole leaf was unmapped, so the whole leaf is gathered (iommu_pt.h unmap_pages, ee6e69d03255).
        Assert.Equal((0x20_0000UL, 0x3F_FFFFUL), (gather.Start, gather.End));
        Assert.False(table.TryIovaToPhys(0x3F_F000, out _, out _, out _));
    }

    [Fact]
    public void Unmap_of_a_fully_covered_range_lists_the_tables_without_freeing_them()
    {
        var guest = new TestGuest();
        var table = guest.NewTable();
        for (ulong i = 0; i < 512; i++)
            table.Map(i << 12, 0x40_0000 + (i << 12), PageSize.Size4K, true);
        var gather = new IotlbGather();
        Assert.Equal(0x20_0000UL, table.Unmap(0, 1UL << 30, gather));
        Assert.Single(gather.FreeList);
        Assert.Equal(3, table.TablePageCount);
        // Not freed: the driver frees after the flush (hazard H1).
        Assert.Equal(4, guest.PageTableFrames);
    }

    [Theory]
    [InlineData(4)]
    [InlineData(5)]
    public void Deinit_frees_every_table_page(int levels)
    {
        var guest = new TestGuest();
        var baseline = guest.Frames.AllocatedCount;
        var table = guest.NewTable(levels);
        table.Map(0x1000, 0x5000, PageSize.Size4K, true);
        table.Map(3UL << 39, 0x4000_0000, PageSize.Size1G, false);
        table.Map(5UL << 21, 0x20_0000, PageSize.Size2M, true);
        var count = table.TablePageCount;

        var freed = new List<ulong>();
        table.Deinit(freed);

        Assert.Equal(count, freed.Distinct().Count());
        Assert.Equal(baseline, guest.Frames.AllocatedCount);
        Assert.Equal(0, table.TablePageCount);
        Assert.Throws<InvalidOperationException>(() => table.Map(0, 0, PageSize.Size4K, true));
        Assert.Throws<InvalidOperationException>(() => table.Unmap(0, 0x1000, new IotlbGather()));
        Assert.Throws<InvalidOperationException>(() => table.TryIovaToPhys(0, out _, out _, out _));
    }

    [Fact]
    public void Gather_starts_empty_and_resets()
    {
        var gather = new IotlbGather();
        Assert.True(gather.IsEmpty);
        Assert.Equal((ulong.MaxValue, 0UL), (gather.Start, gather.End));
        gather.AddRange(ulong.MaxValue - 0xFFF, 0x1000);
        gather.AddRange(0x1000, 0x1000);
        gather.FreeList.Add(0x1000);
        Assert.Equal((0x1000UL, ulong.MaxValue), (gather.Start, gather.End));
        gather.Reset();
        Assert.True(gather.IsEmpty);
        Assert.Empty(gather.FreeList);
    }
}
