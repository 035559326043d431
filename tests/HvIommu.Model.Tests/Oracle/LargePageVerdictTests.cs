using HvIommu.Model.Iommu;
using HvIommu.Model.Translation;
using HvIommu.Model.Mappings;
using HvIommu.Model.Memory;
using HvIommu.Model.Oracle;
using HvIommu.Model.PageTables;
using HvIommu.Model.Tests.Iommu;

namespace HvIommu.Model.Tests.Oracle;

/// <summary>A 2 MiB DMA buffer is 512 guest frames with generations of their own; the oracle judges it by
/// the frame the translation captured, whichever 4 KiB of it the DMA touches.</summary>
[Trait("Category", "Model")]
public sealed class LargePageVerdictTests
{
    private const ulong Iova = 0x4000_0000;
    private readonly IommuRig _rig = new IommuRig().WithPagingDomain();

    /// <summary>Allocates a 2 MiB-aligned run of 512 buffer frames whose head frame was used once before.</summary>
    private ulong AllocateLargeBuffer()
    {
        while ((_rig.Frames.Allocate(FrameOwner.Kernel, 0) & 0x1F_FFFF) != 0x1F_F000)
        {
        }
        var head = _rig.Frames.Allocate(FrameOwner.DmaBuffer, 0);
        _rig.Frames.Free(head);
        Assert.Equal(head, _rig.Frames.Allocate(FrameOwner.DmaBuffer, 0));
        for (var i = 1; i < 512; i++)
            Assert.Equal(head + ((ulong)i << GuestMemory.PageShift), _rig.Frames.Allocate(FrameOwner.DmaBuffer, 0));
        Assert.NotEqual(_rig.Frames.GenerationOf(head), _rig.Frames.GenerationOf(head + 0x1000));
        return head;
    }

    private MappingRecord MapLarge(ulong buffer)
    {
        var record = _rig.Mappings.Register(IommuRig.DomainId, Iova, buffer, PageSize.Size2M, true, 0, 0);
        Assert.Equal(MapStatus.Mapped, _rig.Table.Map(Iova, buffer, PageSize.Size2M, true));
        _rig.Mappings.Mapped(record);
        return record;
    }

    [Theory]
    [InlineData(0x0UL)]
    [InlineData(0x1000UL)]
    [InlineData(0x1F_F008UL)]
    public void Dma_anywhere_in_a_live_2m_mapping_is_allowed(ulong offset)
    {
        MapLarge(AllocateLargeBuffer());

        var walk = _rig.Translate(_rig.Nic, Iova + offset);
        var cached = _rig.Translate(_rig.Nic, Iova + (offset ^ 0x10_0000));

        Assert.Equal((TranslationSource.Walk, TranslationSource.Iotlb), (walk.Source, cached.Source));
        Assert.Null(_rig.Access(_rig.Nic, walk));
        Assert.Null(_rig.Access(_rig.Nic, cached));
    }

    [Fact]
    public void Dma_through_an_unbacked_2m_leaf_is_judged_by_the_same_frame_on_every_hit()
    {
        var buffer = AllocateLargeBuffer();
        Assert.Equal(MapStatus.Mapped, _rig.Table.Map(Iova, buffer, PageSize.Size2M, true));

        var walk = _rig.Translate(_rig.Nic, Iova + 0x1000);
        var cached = _rig.Translate(_rig.Nic, Iova);

        Assert.Equal(walk.FrameGeneration, cached.FrameGeneration);
        Assert.Null(_rig.Access(_rig.Nic, walk));
        Assert.Null(_rig.Access(_rig.Nic, cached));
    }

    [Fact]
    public void Large_buffer_freed_and_reused_after_the_flush_is_still_caught_at_any_offset()
    {
        var record = MapLarge(AllocateLargeBuffer());
        var t = _rig.Translate(_rig.Nic, Iova + 0x3000);
        _rig.Unmap(record, length: PageSize.Size2M.Bytes());
        _rig.FlushDomain();
        _rig.FreeAndReuse(record);

        var v = _rig.Access(_rig.Nic, t);

        Assert.Equal(ViolationKind.DmaToFreedFrame, v?.Kind);
        Assert.Equal(record.Gpa, v!.Frame);
    }
}
