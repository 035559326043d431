using HvIommu.Model.Hypercalls;
using HvIommu.Model.Iommu;
using HvIommu.Model.Memory;
using HvIommu.Model.Oracle;
using HvIommu.Model.Randomness;
using HvIommu.Model.Settings;
using HvIommu.Model.Translation;

namespace HvIommu.Model.Tests.Iommu;

/// <summary>The [UNKNOWN] host behaviour knobs (brief §8 q3, q4) and the device lifecycle around them (H9, H10, H11).</summary>
[Trait("Category", "Model")]
public sealed class HostBehaviourTests
{
    private static (IommuRig Rig, HostIommu Host, IommuTranslator Translator) Rig(DetachedTranslation detached, bool deleteInvalidates = true, bool attachInvalidatesAtc = true,
        bool attachLeavesOldDomain = false)
    {
        var rig = new IommuRig();
        var host = new HostIommu(rig.Memory, rig.Stage2, IommuRig.DefaultSettings, new SeededRandom(1),
            new HostBehaviourSettings(detached, deleteInvalidates, AttachInvalidatesAtc: attachInvalidatesAtc, AttachLeavesOldDomain: attachLeavesOldDomain));
        host.AddDevice(rig.Nic);
        host.AddDevice(rig.AtsDevice);
        Assert.Equal(HvStatus.Success, host.CreateDomain(new CreateDeviceDomainInput(IommuRig.Domain(IommuRig.DomainId))));
        Assert.Equal(HvStatus.Success, host.ConfigureDomain(new ConfigureDeviceDomainInput(IommuRig.Domain(IommuRig.DomainId), DeviceDomainSettings.Paging(rig.Table.RootGpa, FirstStagePagingMode.FourLevel))));
        foreach (var d in new[] { rig.Nic, rig.AtsDevice })
            Assert.Equal(HvStatus.Success, host.Attach(new AttachDeviceDomainInput(IommuRig.Domain(IommuRig.DomainId), d.LogicalDeviceId)));
        return (rig, host, new IommuTranslator(rig.Memory, host, rig.Frames, rig.Mappings, rig.Events, rig.Table.MaxIova));
    }

    private static AccessContext Ctx(DeviceSlot d) =>
        new(d.Name, "vcpu0", d.View.DomainId, d.View.Blocked, false, 1, 1000, d.View.AttachedNowhere);

    /// <summary>cloud-hypervisor #6298: an ATTACH that leaves the device in its old domain lets the old domain's mappings
    /// through while the device is in the blocking domain; a replacing ATTACH blocks them, and the device can come back.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void An_attach_that_leaves_the_device_in_its_old_domain_lets_the_old_mappings_through(bool leaves)
    {
        var (rig, host, translator) = Rig(DetachedTranslation.Blocked, attachLeavesOldDomain: leaves);
        var record = rig.MapBuffer(0x30_0000);
        var blocking = IommuRig.DomainId + 1;
        Assert.Equal(HvStatus.Success, host.CreateDomain(new CreateDeviceDomainInput(IommuRig.Domain(blocking))));
        Assert.Equal(HvStatus.Success, host.ConfigureDomain(new ConfigureDeviceDomainInput(IommuRig.Domain(blocking), DeviceDomainSettings.BlockAll)));
        Assert.Equal(HvStatus.Success, host.Attach(new AttachDeviceDomainInput(IommuRig.Domain(blocking), rig.Nic.LogicalDeviceId)));
        Assert.True(rig.Nic.View.Blocked);
        Assert.Equal(leaves, host.DevicesIn(IommuRig.DomainId).Contains(rig.Nic));
        var t = translator.Translate(rig.Nic, record.Iova, AccessKind.Write, Ctx(rig.Nic));
        Assert.Equal(leaves, t.Ok);
        if (leaves)
            Assert.Equal(ViolationKind.IsolationBreach, rig.Oracle.CheckAccess(t, Ctx(rig.Nic))?.Kind);
        Assert.Equal(HvStatus.Success, host.Attach(new AttachDeviceDomainInput(IommuRig.Domain(IommuRig.DomainId), rig.Nic.LogicalDeviceId)));
        Assert.Equal(IommuRig.DomainId, rig.Nic.View.DomainId);
        Assert.Equal(HvStatus.DeviceAlreadyInDomain, host.Attach(new AttachDeviceDomainInput(IommuRig.Domain(IommuRig.DomainId), rig.Nic.LogicalDeviceId)));
    }

    [Theory]
    [InlineData(DetachedTranslation.Blocked, false)]
    [InlineData(DetachedTranslation.Identity, true)]
    [InlineData(DetachedTranslation.LastDomain, true)]
    public void A_detached_device_whose_dma_gets_through_is_an_isolation_breach(DetachedTranslation detached, bool breach)
    {
        var (rig, host, translator) = Rig(detached);
        var record = rig.MapBuffer(0x10_0000 + IommuRig.FramesBaseGpa);
        Assert.Equal(HvStatus.Success, host.Detach(new DetachDeviceDomainInput(HvInputDeviceDomain.PartitionIdSelf, rig.Nic.LogicalDeviceId)));
        Assert.True(rig.Nic.View.AttachedNowhere);
        var t = translator.Translate(rig.Nic, record.Iova, AccessKind.Write, Ctx(rig.Nic));
        Assert.Equal(!breach, !t.Ok);
        if (t.Ok)
            Assert.Equal(ViolationKind.IsolationBreach, rig.Oracle.CheckAccess(t, Ctx(rig.Nic))?.Kind);
    }

    [Fact]
    public void A_detached_device_with_ats_enabled_is_served_by_its_atc_until_ats_is_disabled_when_the_host_keeps_it()
    {
        var (rig, host, translator) = Rig(DetachedTranslation.Blocked, attachInvalidatesAtc: false);
        var record = rig.MapBuffer(0x20_0000);
        Assert.True(translator.Translate(rig.AtsDevice, record.Iova, AccessKind.Read, Ctx(rig.AtsDevice)).Ok);
        Assert.Equal(HvStatus.Success, host.Detach(new DetachDeviceDomainInput(HvInputDeviceDomain.PartitionIdSelf, rig.AtsDevice.LogicalDeviceId)));
        var t = translator.Translate(rig.AtsDevice, record.Iova, AccessKind.Read, Ctx(rig.AtsDevice));
        Assert.Equal(TranslationSource.Atc, t.Source);
        Assert.Equal(ViolationKind.IsolationBreach, rig.Oracle.CheckAccess(t, Ctx(rig.AtsDevice))?.Kind);
        rig.AtsDevice.DisableAts();
        Assert.False(translator.Translate(rig.AtsDevice, record.Iova, AccessKind.Read, Ctx(rig.AtsDevice)).Ok);
    }

    [Fact]
    public void Detach_and_attach_invalidate_an_ats_enabled_devices_atc_by_default()
    {
        var (rig, host, translator) = Rig(DetachedTranslation.Blocked);
        var record = rig.MapBuffer(0x20_0000);
        Assert.True(translator.Translate(rig.AtsDevice, record.Iova, AccessKind.Read, Ctx(rig.AtsDevice)).Ok);
        Assert.True(rig.AtsDevice.Atc!.Count > 0);
        Assert.Equal(HvStatus.Success, host.Detach(new DetachDeviceDomainInput(HvInputDeviceDomain.PartitionIdSelf, rig.AtsDevice.LogicalDeviceId)));
        Assert.Equal(0, rig.AtsDevice.Atc.Count);
        Assert.False(translator.Translate(rig.AtsDevice, record.Iova, AccessKind.Read, Ctx(rig.AtsDevice)).Ok);

        Assert.Equal(HvStatus.Success, host.Attach(new AttachDeviceDomainInput(IommuRig.Domain(IommuRig.DomainId), rig.AtsDevice.LogicalDeviceId)));
        Assert.True(translator.Translate(rig.AtsDevice, record.Iova, AccessKind.Read, Ctx(rig.AtsDevice)).Ok);
        Assert.True(rig.AtsDevice.Atc.Count > 0);
        // ATS disabled: no ATS invalidation is sent; the driver's enable path invalidates (arm_smmu_enable_ats).
        rig.AtsDevice.DisableAts(invalidate: false);
        Assert.Equal(HvStatus.Success, host.Detach(new DetachDeviceDomainInput(HvInputDeviceDomain.PartitionIdSelf, rig.AtsDevice.LogicalDeviceId)));
        Assert.True(rig.AtsDevice.Atc.Count > 0);
        rig.AtsDevice.EnableAts();
        Assert.Equal(0, rig.AtsDevice.Atc.Count);
    }

    [Theory]
    [InlineData(true, 0)]
    [InlineData(false, 1)]
    public void Delete_drops_the_domains_iotlb_entries_only_when_the_host_says_so(bool deleteInvalidates, int left)
    {
        var (rig, host, translator) = Rig(DetachedTranslation.Blocked, deleteInvalidates);
        var record = rig.MapBuffer(0x30_0000);
        Assert.True(translator.Translate(rig.Nic, record.Iova, AccessKind.Read, Ctx(rig.Nic)).Ok);
        foreach (var d in new[] { rig.Nic, rig.AtsDevice })
            host.Detach(new DetachDeviceDomainInput(HvInputDeviceDomain.PartitionIdSelf, d.LogicalDeviceId));
        Assert.Equal(HvStatus.Success, host.DeleteDomain(new DeleteDeviceDomainInput(IommuRig.Domain(IommuRig.DomainId))));
        Assert.Equal(left, host.Iotlb.TryLookup(IommuRig.DomainId, record.Iova, out _) ? 1 : 0);
    }

    [Fact]
    public void A_raw_gpa_address_from_before_init_that_faults_after_attach_is_a_lost_mapping_and_a_moved_device_faulting_is_not()
    {
        var (rig, _, translator) = Rig(DetachedTranslation.Blocked);
        var gpa = rig.Frames.Allocate(FrameOwner.DmaBuffer, 0);
        var direct = rig.Mappings.RegisterDirect(gpa, 0, 0);
        var t = translator.Translate(rig.Nic, gpa, AccessKind.Write, Ctx(rig.Nic));
        Assert.False(t.Ok);
        Assert.Equal(ViolationKind.LostMapping, rig.Oracle.CheckFault(t, Ctx(rig.Nic), direct)?.Kind);

        var other = rig.MapBuffer(0x40_0000);
        var elsewhere = Ctx(rig.Nic) with { DeviceDomain = 99 };
        Assert.Null(rig.Oracle.CheckFault(DmaTranslation.Faulted(WalkFault.NotPresent, TranslationSource.Walk, 99, other.Iova), elsewhere, other));
    }
}
