using HvIommu.Model.Memory;
using HvIommu.Model.PageTables;
using HvIommu.Model.Translation;

namespace HvIommu.Model.Tests.PageTables;

/// <summary>
/// The page-table cases derived from Linux's generic_pt kunit tests (drivers/iommu/generic_pt/kunit_iommu_pt.h
/// test_unmap_split, test_map_table_to_oa, test_pgsize_boundary, test_mixed, do_unmap; kunit_generic_pt.h
/// __check_all_levels, test_lvl_entry_oa) and fmt/x86_64.h (x86_64_pt_install_leaf_entry,
/// x86_64_pt_install_table, x86_64_pt_iommu_set_prot), with the core's loop from drivers/iommu/iommu.c
/// (__iommu_unmap, iommu_pgsize). Ids A1–K2 name the rows of the case list; the E rows (argument parsing)
/// are in the pagetable command's tests. A 48-bit table without sign extension unless a case says 5 levels.
/// </summary>
[Trait("Category", "Model")]
public sealed class GenericPtCaseTests
{
    private static readonly Stage2 FullGpaSpace = Stage2.Flat(1UL << 52);
    private readonly TestGuest _guest = new();

    private StageOnePageTable Table(int levels = 4) => _guest.NewTable(levels);

    private WalkResult Walk(StageOnePageTable table, ulong iova, AccessKind access = AccessKind.Read)
        => NestedWalker.Walk(_guest.Memory, FullGpaSpace, table.RootGpa, table.Levels, table.MaxIova, iova, access);

    private static void Mapped(StageOnePageTable table, ulong iova, ulong gpa, PageSize size, bool writable = true)
        => Assert.Equal(MapStatus.Mapped, table.Map(iova, gpa, size, writable));

    private static ulong Unmap(StageOnePageTable table, ulong iova, ulong length) => table.Unmap(iova, length, new IotlbGather());

    // ---- A: descriptor bits (fmt/x86_64.h) ----

    [Theory]
    [InlineData("A1", true, 0x0000_0000_0020_0067UL)]
    [InlineData("A2", false, 0x0000_0000_0020_0025UL)]
    public void A_4K_leaf_and_table_pointer_bits(string id, bool writable, ulong leaf)
    {
        var table = Table();
        Mapped(table, 0x1000, 0x20_0000, PageSize.Size4K, writable);
        var walk = Walk(table, 0x1000);
        Assert.True(walk.Ok, id);
        Assert.All(walk.Chain.Take(3), s => Assert.Equal(0x27UL, s.Entry & 0xFFF));
        Assert.Equal(leaf, walk.Chain[^1].Entry);
        Assert.Equal(writable, walk.Writable);
    }

    [Theory]
    [InlineData("A3", PageSize.Size2M, 0x20_0000UL, 0x40_0000UL, true, 0x40_00e7UL, 0x2a_bcdeUL, 0x4a_bcdeUL)]
    [InlineData("A4", PageSize.Size2M, 0x20_0000UL, 0x40_0000UL, false, 0x40_00a5UL, 0x2a_bcdeUL, 0x4a_bcdeUL)]
    [InlineData("A5", PageSize.Size1G, 0x4000_0000UL, 0x4000_0000UL, true, 0x4000_00e7UL, 0x4000_0123UL, 0x4000_0123UL)]
    [InlineData("A6", PageSize.Size1G, 0x4000_0000UL, 0x4000_0000UL, false, 0x4000_00a5UL, 0x4000_0123UL, 0x4000_0123UL)]
    public void A_large_leaves_carry_PS_and_preset_A_D(string id, PageSize size, ulong iova, ulong gpa, bool writable, ulong leaf, ulong probe, ulong expectedGpa)
    {
        var table = Table();
        Mapped(table, iova, gpa, size, writable);
        var walk = Walk(table, probe);
        Assert.True(walk.Ok, id);
        Assert.Equal(size.Level(), walk.Chain[^1].Level);
        Assert.Equal(1, walk.Chain[^1].Index);
        Assert.Equal(leaf, walk.Chain[^1].Entry);
        Assert.Equal(expectedGpa, walk.Gpa);
    }

    [Theory]
    [InlineData("A7", false, WalkFault.WriteToReadOnly)]
    [InlineData("A8", true, WalkFault.None)]
    public void A_device_write_needs_RW(string id, bool writable, WalkFault fault)
    {
        var table = Table();
        Mapped(table, 0x1000, 0x20_0000, PageSize.Size4K, writable);
        Assert.True(fault == Walk(table, 0x1000, AccessKind.Write).Fault, id);
    }

    // ---- B: layout, widths, aperture (x86_64_pt_iommu_fmt_init, pt_check_range, __check_all_levels) ----

    [Theory]
    [InlineData("B1", 5, 0x1000UL, new[] { 0, 0, 0, 0, 1 })]
    [InlineData("B2", 4, 0xFFFF_FFFF_F000UL, new[] { 511, 511, 511, 511 })]
    [InlineData("B3", 5, 0x1FF_FFFF_FFFF_F000UL, new[] { 511, 511, 511, 511, 511 })]
    [InlineData("B11", 5, 1UL << 48, new[] { 1, 0, 0, 0, 0 })]
    public void B_indices_without_sign_extension(string id, int levels, ulong iova, int[] indices)
    {
        var table = Table(levels);
        Mapped(table, iova, 0x20_0000, PageSize.Size4K);
        var walk = Walk(table, iova);
        Assert.True(walk.Ok, id);
        Assert.Equal(Enumerable.Range(0, levels).Select(i => levels - 1 - i), walk.Chain.Select(s => s.Level));
        Assert.Equal(indices, walk.Chain.Select(s => s.Index));
    }

    [Theory]
    [InlineData("B4", 4, 1UL << 48, 0x1000UL)]
    [InlineData("B5", 5, 1UL << 57, 0x1000UL)]
    [InlineData("B6", 4, 0xFFFF_8000_0000_0000UL, 0x1000UL)]
    [InlineData("B7", 5, 0xFF00_0000_0000_0000UL, 0x1000UL)]
    [InlineData("B14", 4, 0x1000UL, 1UL << 52)]
    public void B_out_of_range_maps_are_refused(string id, int levels, ulong iova, ulong gpa)
    {
        var table = Table(levels);
        Assert.True(MapStatus.OutOfRange == table.Map(iova, gpa, PageSize.Size4K, true), id);
        Assert.Equal(0UL, Unmap(table, iova, 0x1000));
    }

    [Theory]
    [InlineData("B8", 1UL << 48)]
    [InlineData("B9", 0xFFFF_FFFF_FFFF_F000UL)]
    public void B_walk_outside_the_width_has_no_translation(string id, ulong iova)
    {
        var table = Table();
        Mapped(table, 0x1000, 0x20_0000, PageSize.Size4K);
        var walk = Walk(table, iova);
        Assert.True(walk.Fault == WalkFault.OutsideAperture, id);
        Assert.Empty(walk.Chain);
    }

    [Fact]
    public void B10_last_gigabyte_of_the_space()
    {
        var table = Table();
        Mapped(table, 0xFFFF_C000_0000, 0x4000_0000, PageSize.Size1G);
        var walk = Walk(table, 0xFFFF_FFFF_FFFF);
        Assert.Equal(new[] { 511, 511 }, walk.Chain.Select(s => s.Index));
        Assert.Equal(0x7FFF_FFFFUL, walk.Gpa);
    }

    [Fact]
    public void B12_generic_pt_builds_3_levels_that_the_paging_mode_flag_cannot_describe()
    {
        // x86_64_pt_iommu_fmt_init (RFC era): top level (39 - 31) / 9 + 2 = 2, a 3-level table; the hypercall's
        // first_stage_paging_mode has only 4- and 5-level (H15).
        Assert.Equal(3, HvIommu.Model.Driver.TableDepth.Levels(39, HvIommu.Model.Settings.TableDepthRule.FromWidth));
        var table = new StageOnePageTable(_guest.Memory, _guest.Frames, 3, TestGuest.DomainId, 39);
        Mapped(table, 0x7F_FFFF_F000, 0x20_0000, PageSize.Size4K);
        Assert.Equal(new[] { 511, 511, 511 }, Walk(table, 0x7F_FFFF_F000).Chain.Select(s => s.Index));
        Assert.Equal(HvIommu.Model.Hypercalls.FirstStagePagingMode.FourLevel, HvIommu.Model.Driver.TableDepth.PagingMode(table.Levels));
        Assert.Equal(MapStatus.OutOfRange, table.Map(1UL << 39, 0x20_0000, PageSize.Size4K, true));
    }

    [Fact]
    public void B13_more_than_5_levels_is_refused()
        => Assert.Contains("levels 6", Assert.Throws<ArgumentException>(() => new StageOnePageTable(_guest.Memory, _guest.Frames, 6, TestGuest.DomainId, 57)).Message);

    [Theory]
    [InlineData(32, 3, 4)]
    [InlineData(39, 3, 4)]
    [InlineData(40, 4, 4)]
    [InlineData(48, 4, 4)]
    [InlineData(49, 5, 5)]
    [InlineData(57, 5, 5)]
    public void Depth_from_the_width_and_from_the_later_revisions_top_level(int width, int fromWidth, int topLevel)
    {
        Assert.Equal(fromWidth, HvIommu.Model.Driver.TableDepth.Levels(width, HvIommu.Model.Settings.TableDepthRule.FromWidth));
        Assert.Equal(topLevel, HvIommu.Model.Driver.TableDepth.Levels(width, HvIommu.Model.Settings.TableDepthRule.TopLevel));
        Assert.Equal(48, HvIommu.Model.Driver.TableDepth.DriverIovaWidth(57, fiveLevelCapable: false));
    }

    [Theory]
    [InlineData("B15", 0xF_FFFF_FFFF_F000UL, 0x000F_FFFF_FFFF_F067UL)]
    [InlineData("B16", 0x20_8B95_D000UL, 0x0000_0020_8B95_D067UL)]
    public void B_boundary_output_addresses_are_stored_and_translate(string id, ulong gpa, ulong leaf)
    {
        var table = Table();
        Mapped(table, 0xFEF8_0000, gpa, PageSize.Size4K);
        var walk = Walk(table, 0xFEF8_0000);
        Assert.True(walk.Ok, id);
        Assert.Equal(leaf, walk.Chain[^1].Entry);
        Assert.Equal(gpa, walk.Gpa);
    }

    // ---- C: map over an existing mapping (-EADDRINUSE: __map_range, clear_contig, __collect_tables) ----

    [Theory]
    [InlineData("C1", 0x1000UL, PageSize.Size4K, 0x1000UL, PageSize.Size4K)]
    [InlineData("C2", 0x20_0000UL, PageSize.Size2M, 0x20_1000UL, PageSize.Size4K)]
    [InlineData("C3", 0x20_1000UL, PageSize.Size4K, 0x20_0000UL, PageSize.Size2M)]
    [InlineData("C4", 0x4020_0000UL, PageSize.Size2M, 0x4000_0000UL, PageSize.Size1G)]
    [InlineData("C5", 0x20_0000UL, PageSize.Size2M, 0x20_0000UL, PageSize.Size2M)]
    [InlineData("C6", 0x4000_0000UL, PageSize.Size1G, 0x4000_0000UL, PageSize.Size1G)]
    [InlineData("C7", 0x4000_0000UL, PageSize.Size1G, 0x4000_1000UL, PageSize.Size4K)]
    public void C_overlapping_map_is_refused_even_with_a_gather(string id, ulong first, PageSize firstSize, ulong second, PageSize secondSize)
    {
        var table = Table();
        Mapped(table, first, first, firstSize);
        var gather = new IotlbGather();
        Assert.True(MapStatus.AlreadyMapped == table.Map(second, second, secondSize, true, gather), id);
        Assert.True(gather.IsEmpty);
        Assert.True(table.TryIovaToPhys(first, out var gpa, out _, out _));
        Assert.Equal(first, gpa);
    }

    [Fact]
    public void C8_adjacent_2M_leaves_both_map()
    {
        var table = Table();
        Mapped(table, 0x20_0000, 0x40_0000, PageSize.Size2M);
        Mapped(table, 0x40_0000, 0x60_0000, PageSize.Size2M);
        var walk = Walk(table, 0x40_0000);
        Assert.Equal((2, 0x60_00e7UL), (walk.Chain[^1].Index, walk.Chain[^1].Entry));
    }

    // ---- D: unmap (__unmap_range, unmap_pages, __iommu_unmap) ----

    [Theory]
    [InlineData("D1", PageSize.Size2M, 0x20_0000UL, 0x1000UL)]
    [InlineData("D3", PageSize.Size1G, 0x4000_0000UL, 0x1000UL)]
    [InlineData("D4b", PageSize.Size1G, 0x4000_0000UL, 0x20_0000UL)]
    public void D_unmap_at_the_start_of_a_large_leaf_removes_it_whole(string id, PageSize size, ulong iova, ulong length)
    {
        var table = Table();
        Mapped(table, iova, iova, size);
        var gather = new IotlbGather();
        Assert.True(size.Bytes() == table.Unmap(iova, length, gather), id);
        Assert.False(table.TryIovaToPhys(iova + size.Bytes() - 0x1000, out _, out _, out _));
        // gather_range_pages records what was unmapped — the whole leaf — not the range asked for (iommu_pt.h
        // unmap_pages since ee6e69d03255 "iommupt: Fix short gather if the unmap goes into a large mapping").
        Assert.Equal((iova, iova + size.Bytes() - 1), (gather.Start, gather.End));
    }

    [Theory]
    [InlineData("D2", PageSize.Size2M, 0x20_0000UL, 0x1000UL)]
    [InlineData("D4", PageSize.Size1G, 0x4000_0000UL, 0x20_0000UL)]
    public void D_unmap_does_not_keep_going_into_the_next_leaf(string id, PageSize size, ulong iova, ulong length)
    {
        var table = Table();
        Mapped(table, iova, iova, size);
        Mapped(table, iova + size.Bytes(), iova + size.Bytes(), size);
        Assert.True(size.Bytes() == Unmap(table, iova, length), id);
        Assert.False(table.TryIovaToPhys(iova, out _, out _, out _));
        Assert.True(table.TryIovaToPhys(iova + size.Bytes(), out _, out _, out _));
    }

    [Theory]
    [InlineData("D5", PageSize.Size2M, 0x20_0000UL, 0x20_1000UL, 0x1000UL)]
    [InlineData("D6", PageSize.Size1G, 0x4000_0000UL, 0x4020_0000UL, 0x20_0000UL)]
    public void D_start_inside_a_large_leaf_unmaps_nothing(string id, PageSize size, ulong leaf, ulong iova, ulong length)
    {
        var table = Table();
        Mapped(table, leaf, leaf, size);
        var gather = new IotlbGather();
        Assert.True(0UL == table.Unmap(iova, length, gather), id);
        Assert.True(table.TryIovaToPhys(leaf, out _, out var found, out _));
        Assert.Equal(size, found);
        Assert.Empty(gather.FreeList);
    }

    [Fact]
    public void D7_an_empty_entry_stops_the_unmap()
    {
        var table = Table();
        Mapped(table, 0x1000, 0x20_0000, PageSize.Size4K);
        Mapped(table, 0x3000, 0x20_2000, PageSize.Size4K);
        var gather = new IotlbGather();
        Assert.Equal(0x1000UL, table.Unmap(0x1000, 0x3000, gather));
        Assert.False(table.TryIovaToPhys(0x1000, out _, out _, out _)); // D7b
        Assert.True(table.TryIovaToPhys(0x3000, out _, out _, out _));
        // gather_range_pages adds what each unmap_pages call cleared: the page at 0x1000, nothing for the hole.
        Assert.Equal((0x1000UL, 0x1FFFUL), (gather.Start, gather.End));
    }

    [Fact]
    public void D8_range_starting_at_an_empty_slot_unmaps_nothing()
    {
        var table = Table();
        Mapped(table, 0x3000, 0x20_2000, PageSize.Size4K);
        Assert.Equal(0UL, Unmap(table, 0x1000, 0x3000));
        Assert.True(table.TryIovaToPhys(0x3000, out _, out _, out _));
    }

    [Fact]
    public void D9_a_table_not_fully_populated_is_kept()
    {
        var table = Table();
        Mapped(table, 0x20_0000, 0x40_0000, PageSize.Size4K);
        var pages = table.TablePageCount;
        var gather = new IotlbGather();
        Assert.Equal(0x1000UL, table.Unmap(0x20_0000, 0x20_0000, gather));
        Assert.Empty(gather.FreeList);
        Assert.Equal(pages, table.TablePageCount);
        var walk = Walk(table, 0x20_0000);
        Assert.Equal(0, walk.Chain[^1].Level);
        Assert.Equal(WalkFault.NotPresent, walk.Fault);
    }

    [Theory]
    [InlineData("D10", 0x1000UL, 0UL)]
    [InlineData("D11", 0x1000UL, ulong.MaxValue)]
    [InlineData("D13", 1UL << 48, 0x1000UL)]
    [InlineData("D15", 0x1000UL, 0x800UL)]
    [InlineData("D15b", 0x1800UL, 0x1000UL)]
    public void D_rejected_or_empty_unmaps_leave_the_mapping(string id, ulong iova, ulong length)
    {
        var table = Table();
        Mapped(table, 0x1000, 0x20_0000, PageSize.Size4K);
        var gather = new IotlbGather();
        Assert.True(0UL == table.Unmap(iova, length, gather), id);
        Assert.True(gather.IsEmpty);
        Assert.True(table.TryIovaToPhys(0x1000, out _, out _, out _));
    }

    [Fact]
    public void D12_whole_width_unmap_goes_through_the_core_loop()
    {
        var table = Table();
        Mapped(table, 0x1000, 0x20_0000, PageSize.Size4K);
        Mapped(table, 0x4000_0000, 0x4000_0000, PageSize.Size1G);
        Assert.Equal(0x1000UL, Unmap(table, 0x1000, 1UL << 48));
        Assert.True(table.TryIovaToPhys(0x4000_0000, out _, out _, out _));
    }

    [Fact]
    public void D14_the_hole_protects_a_following_large_leaf()
    {
        var table = Table();
        Mapped(table, 0x1000, 0x20_0000, PageSize.Size4K);
        Mapped(table, 0x20_0000, 0x40_0000, PageSize.Size2M);
        Assert.Equal(0x1000UL, Unmap(table, 0x1000, 0x20_0000));
        Assert.True(table.TryIovaToPhys(0x20_0000, out _, out var size, out _));
        Assert.Equal(PageSize.Size2M, size);
    }

    [Fact]
    public void D16_a_fully_populated_and_covered_table_is_freed_through_the_gather()
    {
        var table = Table();
        for (ulong i = 0; i < 512; i++)
            Mapped(table, 0x20_0000 + (i << 12), 0x40_0000 + (i << 12), PageSize.Size4K);
        var leafTable = Pte.Address(Walk(table, 0x20_0000).Chain[^2].Entry);
        var gather = new IotlbGather();
        Assert.Equal(0x20_0000UL, table.Unmap(0x20_0000, 0x20_0000, gather));
        Assert.Equal([leafTable], gather.FreeList);
        var walk = Walk(table, 0x20_0000);
        Assert.Equal((1, 0UL), (walk.Chain[^1].Level, walk.Chain[^1].Entry));
    }

    [Fact]
    public void D17_half_unmap_keeps_the_table_and_the_other_half()
    {
        var table = Table();
        for (ulong i = 0; i < 512; i++)
            Mapped(table, 0x20_0000 + (i << 12), 0x40_0000 + (i << 12), PageSize.Size4K);
        var gather = new IotlbGather();
        Assert.Equal(0x10_0000UL, table.Unmap(0x20_0000, 0x10_0000, gather));
        Assert.Empty(gather.FreeList);
        var kept = Walk(table, 0x30_0000);
        Assert.True(kept.Ok);
        Assert.Equal(256, kept.Chain[^1].Index);
        Assert.Equal(0UL, Walk(table, 0x20_0000).Chain[^1].Entry); // D17b
    }

    [Fact]
    public void D_unmap_ending_inside_a_large_leaf_removes_it_and_reports_more_than_asked()
    {
        var table = Table();
        Mapped(table, 0x1F_F000, 0x1000, PageSize.Size4K);
        Mapped(table, 0x20_0000, 0x40_0000, PageSize.Size2M);
        Assert.Equal(0x20_1000UL, Unmap(table, 0x1F_F000, 0x2000));
        Assert.False(table.TryIovaToPhys(0x3F_F000, out _, out _, out _));
    }

    [Fact]
    public void D_map_table_to_oa_maps_a_2M_leaf_over_the_table_an_unmap_emptied()
    {
        // test_map_table_to_oa: the table emptied by unmap is replaced by the leaf; map_pages must then flush (H19).
        var table = Table();
        for (ulong i = 0; i < 512; i += 2)
            Mapped(table, 0x20_0000 + (i << 12), 0x40_0000 + (i << 12), PageSize.Size4K);
        for (ulong i = 0; i < 512; i += 2)
            Assert.Equal(0x1000UL, Unmap(table, 0x20_0000 + (i << 12), 0x1000));
        var gather = new IotlbGather();
        Assert.Equal(MapStatus.Mapped, table.Map(0x20_0000, 0x40_0000, PageSize.Size2M, true, gather));
        Assert.Single(gather.FreeList);
        Assert.Equal((0x20_0000UL, 0x3F_FFFFUL), (gather.Start, gather.End));
    }

    // ---- K: kunit range tests replayed as single-leaf maps ----

    [Fact]
    public void K1_pgsize_boundary_pages_translate()
    {
        var table = Table();
        for (ulong i = 0; i < 32; i++)
            Mapped(table, 0xFEF8_0000 + (i << 12), 0x20_8B95_D000 + (i << 12), PageSize.Size4K);
        for (ulong i = 0; i < 32; i++)
        {
            var walk = Walk(table, 0xFEF8_0000 + (i << 12) + 0x10);
            Assert.True(walk.Ok);
            Assert.Equal(0x20_8B95_D010 + (i << 12), walk.Gpa);
        }
        Assert.Equal(0x0000_0020_8B97_C067UL, Walk(table, 0xFEF9_F000).Chain[^1].Entry);
    }

    [Fact]
    public void K2_mixed_sizes_map_identity()
    {
        var table = Table();
        var leaves = new List<(ulong Iova, PageSize Size)>();
        ulong va = 0x3_FE40_0000;
        void Add(int n, PageSize size)
        {
            for (var i = 0; i < n; i++, va += size.Bytes())
            {
                Mapped(table, va, va, size);
                leaves.Add((va, size));
            }
        }
        Add(14, PageSize.Size2M);
        Add(3, PageSize.Size1G);
        Add(3, PageSize.Size2M);
        Assert.Equal(0x4_C060_0000UL, va);
        Assert.Equal(20, leaves.Count);
        foreach (var (iova, size) in leaves)
        {
            var walk = Walk(table, iova + size.Bytes() - 8);
            Assert.True(walk.Ok);
            Assert.Equal((size, iova + size.Bytes() - 8), (walk.Size, walk.Gpa));
        }
        Assert.Equal(WalkFault.NotPresent, Walk(table, va).Fault);
        // __iommu_unmap of the whole mixed range cuts it at each size boundary and clears all 20 leaves.
        var gather = new IotlbGather();
        Assert.Equal(va - 0x3_FE40_0000, table.Unmap(0x3_FE40_0000, va - 0x3_FE40_0000, gather));
        Assert.Equal((0x3_FE40_0000UL, va - 1), (gather.Start, gather.End));
        Assert.All(leaves, l => Assert.False(table.TryIovaToPhys(l.Iova, out _, out _, out _)));
    }

    // ---- iommu_pgsize ----

    [Theory]
    [InlineData(0x1000UL, 0x3000UL, 0x1000UL, 3UL)]
    [InlineData(0x1000UL, 1UL << 48, 0x1000UL, 0x1FFUL)]
    [InlineData(0x20_0000UL, 0x20_0000UL, 0x20_0000UL, 1UL)]
    [InlineData(0x20_0000UL, 0x20_1000UL, 0x20_0000UL, 1UL)]
    [InlineData(0x3_FE40_0000UL, 0xC220_0000UL, 0x20_0000UL, 14UL)]
    [InlineData(0x4_0000_0000UL, 0xC060_0000UL, 0x4000_0000UL, 3UL)]
    public void Iommu_pgsize_picks_the_largest_size_and_counts_up_to_the_next_boundary(ulong iova, ulong size, ulong pageSize, ulong count)
    {
        Assert.Equal(pageSize, PageSizeChoice.Choose(PageSizeChoice.X86Bitmap, iova, iova, size, out var n));
        Assert.Equal(count, n);
    }
}
