using HvIommu.Model.Iommu;
using HvIommu.Model.Translation;
using HvIommu.Model.Mappings;
using HvIommu.Model.Oracle;
using HvIommu.Model.Tests.Iommu;

namespace HvIommu.Model.Tests.Oracle;

/// <summary>
/// Lazy mode's accepted window (H3) ends when the flush queue releases the unmap's IOVA: a stale access
/// after that is a use-after-free, which is what a broken flush-queue counter (H2, brief §5.3) produces.
/// </summary>
[Trait("Category", "Model")]
public sealed class FlushQueueReleaseVerdictTests
{
    private const ulong Iova = 0xFFFF_F000;
    private readonly IommuRig _rig = new IommuRig().WithPagingDomain();

    /// <summary>A device translation made while mapped, then a queued unmap whose buffer is reused at once.</summary>
    private (MappingRecord Record, DmaTranslation Translation) UnmapLazilyAndReuse()
    {
        var record = _rig.MapBuffer(Iova);
        var t = _rig.Translate(_rig.Nic, Iova);
        _rig.Unmap(record, queued: true);
        _rig.FreeAndReuse(record);
        return (record, t);
    }

    [Fact]
    public void A_stale_access_after_the_queue_released_the_unflushed_iova_is_DmaToFreedFrame()
    {
        var (record, t) = UnmapLazilyAndReuse();
        Assert.Equal(ViolationKind.LazyWindowStaleAccess, _rig.Access(_rig.Nic, t)?.Kind);

        _rig.Mappings.FlushQueueReleased(record);

        Assert.False(record.Queued);
        Assert.Equal(MappingState.Unmapped, record.State);
        var v = _rig.Access(_rig.Nic, t);
        Assert.Equal(ViolationKind.DmaToFreedFrame, v?.Kind);
        Assert.Contains("H2", v!.Explanation);
    }

    [Fact]
    public void Release_after_the_covering_flush_changes_no_verdict()
    {
        var (record, t) = UnmapLazilyAndReuse();
        _rig.FlushDomain();
        var before = _rig.Access(_rig.Nic, t)?.Kind;

        _rig.Mappings.FlushQueueReleased(record);

        Assert.Equal(MappingState.Flushed, record.State);
        Assert.Equal(before, _rig.Access(_rig.Nic, t)?.Kind);
    }
}
