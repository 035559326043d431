using HvIommu.Model.Oracle;
using HvIommu.Model.Settings;

namespace HvIommu.Model.Tests.Iommu;

/// <summary>H14: the host moves a guest page; the nested IOTLB/ATC entries derived from the old stage-2 entry must go too.</summary>
[Trait("Category", "Model")]
public sealed class StageTwoMigrationTests
{
    private static IommuRig Rig(bool invalidates) =>
        new IommuRig(behaviour: new HostBehaviourSettings(DetachedTranslation.Blocked, true, true, S2MigrationEveryFlushes: 1, S2ChangeInvalidatesIotlb: invalidates)).WithPagingDomain();

    [Fact]
    public void A_host_that_invalidates_the_nested_entries_sends_the_next_dma_to_the_new_host_page()
    {
        var rig = Rig(invalidates: true);
        var m = rig.MapBuffer(0x40_0000);
        var before = rig.Translate(rig.AtsDevice, 0x40_0000);
        var newHpa = rig.Host.MigrateFrame(m.Gpa, IommuRig.DomainId, [rig.AtsDevice]);

        Assert.False(rig.Host.Iotlb.TryLookup(IommuRig.DomainId, 0x40_0000, out _));
        Assert.Equal(0, rig.AtsDevice.Atc!.Count);
        var after = rig.Translate(rig.AtsDevice, 0x40_0000);
        Assert.NotEqual(before.Hpa, after.Hpa);
        Assert.Equal(newHpa, after.Hpa & ~0xFFFUL);
        Assert.Null(rig.Access(rig.AtsDevice, after));
    }

    [Fact]
    public void A_host_that_keeps_them_lets_dma_reach_the_old_host_page_which_is_an_isolation_breach()
    {
        var rig = Rig(invalidates: false);
        var m = rig.MapBuffer(0x40_0000);
        var before = rig.Translate(rig.Nic, 0x40_0000);
        rig.Host.MigrateFrame(m.Gpa, IommuRig.DomainId, [rig.AtsDevice]);

        var stale = rig.Translate(rig.Nic, 0x40_0000);
        Assert.Equal(before.Hpa, stale.Hpa);
        var v = rig.Access(rig.Nic, stale);
        Assert.Equal(ViolationKind.IsolationBreach, v!.Kind);
        Assert.Contains("H14", v.Explanation);
    }
}
