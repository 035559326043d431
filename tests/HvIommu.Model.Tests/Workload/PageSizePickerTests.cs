using HvIommu.Model.PageTables;
using HvIommu.Model.Workload;

namespace HvIommu.Model.Tests.Workload;

/// <summary>iommu_pgsize's choice: the largest supported page that fits what is left and the alignment of IOVA | PA.</summary>
[Trait("Category", "Model")]
public sealed class PageSizePickerTests
{
    private const ulong All = (1UL << 12) | (1UL << 21) | (1UL << 30);

    [Fact]
    public void A_2M_aligned_2M_range_is_one_large_leaf()
    {
        var pieces = PageSizePicker.Split(0x4020_0000, 0x0120_0000, 2 << 20, All);
        Assert.Equal([new MapPiece(0x4020_0000, 0x0120_0000, PageSize.Size2M)], pieces);
    }

    [Fact]
    public void Misaligned_physical_addresses_keep_4K_leaves()
    {
        var pieces = PageSizePicker.Split(0x4020_0000, 0x0120_1000, 2 << 20, All);
        Assert.Equal(512, pieces.Count);
        Assert.All(pieces, p => Assert.Equal(PageSize.Size4K, p.Size));
    }

    [Fact]
    public void A_range_straddling_a_2M_boundary_uses_4K_up_to_it_then_2M_then_4K()
    {
        var pieces = PageSizePicker.Split(0x1F_F000, 0x1F_F000, 0x1000 + (2 << 20) + 0x1000, All);
        Assert.Equal(PageSize.Size4K, pieces[0].Size);
        Assert.Equal(new MapPiece(0x20_0000, 0x20_0000, PageSize.Size2M), pieces[1]);
        Assert.Equal(new MapPiece(0x40_0000, 0x40_0000, PageSize.Size4K), pieces[2]);
        Assert.Equal(3, pieces.Count);
    }

    [Fact]
    public void Without_2M_in_the_bitmap_everything_is_4K()
    {
        var pieces = PageSizePicker.Split(0x20_0000, 0x20_0000, 2 << 20, 1UL << 12);
        Assert.Equal(512, pieces.Count);
    }
}
