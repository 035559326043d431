using HvIommu.Model.Memory;
using HvIommu.Model.PageTables;
using HvIommu.Model.Tests.PageTables;
using HvIommu.Model.Translation;

namespace HvIommu.Model.Tests.Translation;

/// <summary>The nested stage-1 over stage-2 walk (brief §4): faults and the 2-D reference count.</summary>
[Trait("Category", "Model")]
public sealed class NestedWalkerTests
{
    private const ulong Page = 0x8000_1000; // PML4 0, PDPT 2, PD 0, PT 1

    private readonly TestGuest _guest = new();
    private readonly StageOnePageTable _table;

    public NestedWalkerTests()
    {
        _table = _guest.NewTable();
        _table.Map(Page, 0x5000, PageSize.Size4K, writable: false);
    }

    private WalkResult Walk(ulong iova, AccessKind access = AccessKind.Read, Stage2? stage2 = null)
        => NestedWalker.Walk(_guest.Memory, stage2 ?? TestGuest.Stage2, _table.RootGpa, 4, _table.MaxIova, iova, access);

    [Theory]
    [InlineData(1UL << 39, 1)]          // PML4E not present
    [InlineData(Page + (1UL << 30), 2)] // PDPTE not present
    [InlineData(Page + (1UL << 21), 3)] // PDE not present
    [InlineData(Page + 0x1000, 4)]      // PTE not present
    public void Not_present_at_each_level_ends_the_chain_there(ulong iova, int chainLength)
    {
        var walk = Walk(iova);
        Assert.Equal(WalkFault.NotPresent, walk.Fault);
        Assert.Equal(chainLength, walk.Chain.Length);
        Assert.Equal(4 - chainLength, walk.Chain[^1].Level);
        Assert.Equal(0UL, walk.Chain[^1].Entry);
    }

    [Fact]
    public void Write_through_a_read_only_leaf_faults_and_a_read_succeeds()
    {
        Assert.Equal(WalkFault.WriteToReadOnly, Walk(Page, AccessKind.Write).Fault);
        var read = Walk(Page + 0x10);
        Assert.True(read.Ok);
        Assert.Equal((0x5010UL, 0x5010UL + Stage2.DefaultHostOffset, false), (read.Gpa, read.Hpa, read.Writable));
    }

    [Fact]
    public void Iova_above_the_aperture_faults_before_any_read()
    {
        var walk = NestedWalker.Walk(_guest.Memory, TestGuest.Stage2, _table.RootGpa, 4, 0xFFFF_FFFF, Page + (4UL << 30), AccessKind.Read);
        Assert.Equal(WalkFault.OutsideAperture, walk.Fault);
        Assert.Empty(walk.Chain);
        Assert.Equal(0, walk.MemoryReferences);
    }

    [Fact]
    public void Table_gpa_without_stage2_backing_faults()
    {
        var small = new Stage2(TestGuest.TableBaseGpa); // ends just below the first table page
        var walk = Walk(Page, stage2: small);
        Assert.Equal(WalkFault.Stage2Fault, walk.Fault);
        Assert.Empty(walk.Chain);
    }

    [Fact]
    public void Leaf_gpa_without_stage2_backing_faults_after_the_full_chain()
    {
        _table.Map(0x1000, 1UL << 32, PageSize.Size4K, true); // GPA 4 GiB: beyond the shared stage 2
        var walk = Walk(0x1000);
        Assert.Equal(WalkFault.Stage2Fault, walk.Fault);
        Assert.Equal(4, walk.Chain.Length);
    }

    [Theory]
    [InlineData(4, PageSize.Size4K, 24)] // (4+1)×(4+1)−1
    [InlineData(4, PageSize.Size2M, 19)]
    [InlineData(5, PageSize.Size4K, 29)]
    public void Cold_walk_costs_the_2d_reference_count(int levels, PageSize size, int references)
    {
        var table = _guest.NewTable(levels);
        table.Map(0, 0, size, true);
        var walk = NestedWalker.Walk(_guest.Memory, TestGuest.Stage2, table.RootGpa, levels, table.MaxIova, 0x10, AccessKind.Write);
        Assert.True(walk.Ok);
        Assert.Equal(references, walk.MemoryReferences);
    }

    [Fact]
    public void Walk_from_a_cached_lower_table_skips_the_upper_levels()
    {
        var full = Walk(Page);
        var pd = full.Chain[2];
        var partial = NestedWalker.WalkFrom(_guest.Memory, TestGuest.Stage2, pd.Level, pd.TableGpa, _table.MaxIova, Page, AccessKind.Read);
        Assert.Equal(full.Chain.Skip(2).ToArray(), partial.Chain.ToArray());
        Assert.Equal((full.Gpa, full.Hpa), (partial.Gpa, partial.Hpa));
        Assert.Equal(2 + 3 * NestedWalker.Stage2Levels, partial.MemoryReferences);
    }
}
