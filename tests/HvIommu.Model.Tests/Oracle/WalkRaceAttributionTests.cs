using HvIommu.Model.Tests.Iommu;

namespace HvIommu.Model.Tests.Oracle;

/// <summary>
/// A walk reads a leaf just before dma_unmap clears it and looks the mapping up just after — even after the
/// IOVA was mapped again to another frame. The translation must still be attributed to the mapping whose
/// leaf it read, or a later stale access inside lazy mode's window is misjudged.
/// </summary>
[Trait("Category", "Model")]
public sealed class WalkRaceAttributionTests
{
    [Fact]
    public void The_mapping_is_found_by_the_frame_the_leaf_pointed_at_after_the_iova_was_mapped_again()
    {
        var rig = new IommuRig().WithPagingDomain();
        var old = rig.MapBuffer(0x40_0000);
        rig.Unmap(old, queued: true);
        var again = rig.MapBuffer(0x40_0000);
        Assert.NotEqual(old.Gpa, again.Gpa);

        Assert.Same(old, rig.Mappings.FindMapping(IommuRig.DomainId, 0x40_0000, old.Gpa));
        Assert.Same(again, rig.Mappings.FindMapping(IommuRig.DomainId, 0x40_0000, again.Gpa));
        Assert.Null(rig.Mappings.FindMapping(IommuRig.DomainId, 0x40_0000, 0x7000_0000));
    }
}
