using HvIommu.Model.Driver;
using HvIommu.Model.Hypercalls;
using HvIommu.Model.Iommu;
using HvIommu.Model.Tests.Iommu;

namespace HvIommu.Model.Tests.Driver;

/// <summary>
/// The per-device probe-failure path (drivers/iommu/iommu.c probe_iommu_group / __iommu_probe_device with
/// drivers/iommu/hyperv/iommu.c hv_iommu_probe_device) and H13, logical device-ID aliasing: the id is built from
/// GUID bytes 4–7 + function only (hv_build_logical_dev_id), the host matches exactly those bytes.
/// </summary>
[Trait("Category", "Model")]
public sealed class DeviceProbeTests
{
    // Bytes 4–7 of both (Data2 = 0x44d5, Data3 = 0x4e6f, little-endian: d5 44 6f 4e) agree; everything else differs.
    private static readonly Guid Nic0Bus = Guid.Parse("6f1c2a3b-44d5-4e6f-8a9b-0c1d2e3f4a5b");
    private static readonly Guid Nic1Bus = Guid.Parse("0a0b0c0d-44d5-4e6f-9f9f-111111111111");
    private static readonly Guid Nic2Bus = Guid.Parse("0a0b0c0d-1234-5678-9f9f-222222222222");

    [Fact]
    public void Two_buses_that_agree_only_in_guid_bytes_4_to_7_get_the_same_logical_id()
    {
        Assert.Equal(LogicalDeviceId.BuildLogicalDeviceId(Nic0Bus, 0), LogicalDeviceId.BuildLogicalDeviceId(Nic1Bus, 0));
        Assert.NotEqual(LogicalDeviceId.BuildLogicalDeviceId(Nic0Bus, 0), LogicalDeviceId.BuildLogicalDeviceId(Nic2Bus, 0));
        // (b[5]<<24)|(b[4]<<16)|(b[7]<<8)|(b[6]&0xf8)|func: b[4..7] = d5 44 6f 4e.
        Assert.Equal(0x44d5_4e68UL, LogicalDeviceId.BuildLogicalDeviceId(Nic0Bus, 0));
        // The low three bits of byte 6 are dropped too: 0x4e6f and 0x4e68 alias as well.
        Assert.Equal(LogicalDeviceId.BuildLogicalDeviceId(Nic0Bus, 3), LogicalDeviceId.BuildLogicalDeviceId(Guid.Parse("00000000-44d5-4e68-0000-000000000000"), 3));
    }

    [Fact]
    public void The_registry_marks_both_buses_of_a_shared_prefix_ambiguous_and_no_other()
    {
        var registry = new LogicalIdRegistry();
        foreach (var bus in new[] { Nic0Bus, Nic1Bus, Nic2Bus, Nic2Bus })
            registry.Register(bus);
        Assert.True(registry.IsAmbiguous(Nic0Bus));
        Assert.True(registry.IsAmbiguous(Nic1Bus));
        Assert.False(registry.IsAmbiguous(Nic2Bus)); // registered twice: still one bus
        Assert.Equal([Nic0Bus, Nic1Bus], registry.SharingWith(Nic1Bus));
        Assert.Empty(registry.SharingWith(Guid.Parse("ffffffff-0000-0000-0000-000000000000")));
    }

    [Theory]
    // Safe driver: an ambiguous id is refused before any hypercall (-ENODEV).
    [InlineData(true, false, null, false, ProbeResult.NoDevice)]
    // RFC: the id is used; the host answers for the device it matched.
    [InlineData(true, true, HvStatus.Success, true, ProbeResult.Managed)]
    // hv_iommu_probe_device: failed property hypercall or HV_DEVICE_IOMMU_ENABLED clear → -ENODEV.
    [InlineData(false, false, HvStatus.InvalidDeviceId, false, ProbeResult.NoDevice)]
    [InlineData(false, false, HvStatus.Success, false, ProbeResult.NoDevice)]
    [InlineData(false, false, HvStatus.Success, true, ProbeResult.Managed)]
    public void Probe_device_returns_enodev_for_what_it_does_not_manage(bool ambiguous, bool trust, HvStatus? status, bool enabled, ProbeResult expected)
    {
        Assert.Equal(expected, DeviceProbe.Probe(ambiguous, trust, status, enabled));
        Assert.Equal(!ambiguous || trust, DeviceProbe.AsksHypervisor(ambiguous, trust));
    }

    [Fact]
    public void Probe_iommu_group_goes_on_after_enodev_and_stops_on_any_other_error()
    {
        Assert.True(DeviceProbe.ContinuesBusProbe(ProbeResult.Managed));
        Assert.True(DeviceProbe.ContinuesBusProbe(ProbeResult.NoDevice));
        Assert.False(DeviceProbe.ContinuesBusProbe(ProbeResult.Failed));
    }

    [Fact]
    public void With_aliased_ids_the_host_attaches_the_device_assigned_first_whichever_device_the_driver_meant()
    {
        var rig = new IommuRig();
        var id = LogicalDeviceId.BuildLogicalDeviceId(Nic0Bus, 0);
        var nic0 = new DeviceSlot("nic0", id, iommuEnabled: true, atc: null, Nic0Bus);
        var nic1 = new DeviceSlot("nic1", LogicalDeviceId.BuildLogicalDeviceId(Nic1Bus, 0), iommuEnabled: true, atc: null, Nic1Bus);
        rig.Host.AddDevice(nic0);
        rig.Host.AddDevice(nic1);
        foreach (var domain in new uint[] { 10, 11 })
        {
            Assert.Equal(HvStatus.Success, rig.Host.CreateDomain(new CreateDeviceDomainInput(IommuRig.Domain(domain))));
            Assert.Equal(HvStatus.Success, rig.Host.ConfigureDomain(new ConfigureDeviceDomainInput(IommuRig.Domain(domain), DeviceDomainSettings.Paging(rig.Table.RootGpa))));
        }

        Assert.Equal(HvStatus.Success, rig.Host.Attach(new AttachDeviceDomainInput(IommuRig.Domain(10), id)));
        // nic1's ATTACH (same id) reaches nic0 and moves it; nic1 stays attached nowhere.
        Assert.Equal(HvStatus.Success, rig.Host.Attach(new AttachDeviceDomainInput(IommuRig.Domain(11), nic1.LogicalDeviceId)));

        Assert.Equal(11u, nic0.View.DomainId);
        Assert.True(nic1.View.AttachedNowhere);
    }
}
