using HvIommu.Model.PageTables;
using HvIommu.Model.Translation;

namespace HvIommu.Model.Tests.PageTables;

/// <summary>Raw entries checked against hand-computed x86-64 encodings (brief §3).</summary>
[Trait("Category", "Model")]
public sealed class StageOneEncodingTests
{
    /// <summary>Indices 2 (PML5), 3 (PML4), 5 (PDPT), 7 (PD), 9 (PT).</summary>
    private static ulong Iova(int levels, PageSize size)
    {
        var iova = (3UL << 39) + (5UL << 30) + (7UL << 21) + (9UL << 12);
        if (levels == 5)
            iova += 2UL << 48;
        return iova & ~(size.Bytes() - 1);
    }

    [Theory]
    [InlineData(4, PageSize.Size4K, true, 0x67UL)]
    [InlineData(4, PageSize.Size4K, false, 0x25UL)]
    [InlineData(4, PageSize.Size2M, true, 0xE7UL)]
    [InlineData(4, PageSize.Size2M, false, 0xA5UL)]
    [InlineData(4, PageSize.Size1G, true, 0xE7UL)]
    [InlineData(5, PageSize.Size4K, true, 0x67UL)]
    [InlineData(5, PageSize.Size2M, false, 0xA5UL)]
    [InlineData(5, PageSize.Size1G, false, 0xA5UL)]
    public void Entries_and_indices_match_the_hand_computed_encoding(int levels, PageSize size, bool writable, ulong leafFlags)
    {
        var guest = new TestGuest();
        var table = guest.NewTable(levels);
        var iova = Iova(levels, size);
        const ulong gpa = 0x4000_0000;
        Assert.Equal(MapStatus.Mapped, table.Map(iova, gpa, size, writable));

        var walk = NestedWalker.Walk(guest.Memory, TestGuest.Stage2, table.RootGpa, levels, table.MaxIova, iova, AccessKind.Read);

        Assert.True(walk.Ok);
        Assert.Equal(levels - size.Level(), walk.Chain.Length);
        int[] indices = levels == 5 ? [2, 3, 5, 7, 9] : [3, 5, 7, 9];
        for (var i = 0; i < walk.Chain.Length; i++)
        {
            var step = walk.Chain[i];
            Assert.Equal(levels - 1 - i, step.Level);
            Assert.Equal(indices[i], step.Index);
            // Tables come out of the allocator in ascending order: root, then one per level.
            Assert.Equal(TestGuest.TableBaseGpa + ((ulong)i << 12), step.TableGpa);
            var expected = i == walk.Chain.Length - 1 ? gpa | leafFlags : (TestGuest.TableBaseGpa + ((ulong)(i + 1) << 12)) | 0x27;
            Assert.Equal(expected, step.Entry);
        }
        Assert.Equal((gpa, size, writable), (walk.Gpa, walk.Size, walk.Writable));
        Assert.True(table.TryIovaToPhys(iova + 0x123, out var soft, out _, out _));
        Assert.Equal(gpa + 0x123, soft);
    }

    [Theory]
    [InlineData(2, 30)]
    [InlineData(6, 57)]
    [InlineData(3, 40)]
    [InlineData(4, 49)]
    [InlineData(5, 58)]
    public void Constructor_rejects_levels_and_widths_that_do_not_fit(int levels, int width)
    {
        var guest = new TestGuest();
        var e = Assert.Throws<ArgumentException>(() => new StageOnePageTable(guest.Memory, guest.Frames, levels, 1, width));
        Assert.Contains(levels is < 3 or > 5 ? $"levels {levels}" : $"width {width}", e.Message);
    }

    [Fact]
    public void Map_rejects_misaligned_and_out_of_range_requests()
    {
        var table = new TestGuest().NewTable();
        Assert.Equal(MapStatus.Misaligned, table.Map(0x1000, 0x1000, PageSize.Size2M, true));
        Assert.Equal(MapStatus.Misaligned, table.Map(0x20_0000, 0x1000, PageSize.Size2M, true));
        Assert.Equal(MapStatus.OutOfRange, table.Map(1UL << 48, 0, PageSize.Size4K, true));
        Assert.Equal(MapStatus.OutOfRange, table.Map(0, 1UL << 52, PageSize.Size4K, true));
        Assert.Equal(MapStatus.Mapped, table.Map(table.MaxIova & ~0xFFFUL, 0, PageSize.Size4K, true));
    }
}
