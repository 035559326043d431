using HvIommu.Model.Hypercalls;
using HvIommu.Model.Iommu;
using HvIommu.Model.Memory;
using HvIommu.Model.Randomness;

namespace HvIommu.Model.Tests.Iommu;

/// <summary>The host side of each pvIOMMU hypercall (brief §2.2) and the HV_STATUS it returns (§2.3).</summary>
[Trait("Category", "Model")]
public sealed class HostIommuTests
{
    private const ulong OtherPartition = 7;
    private readonly IommuRig _rig = new();

    private HostIommu Host => _rig.Host;

    private static HvInputDeviceDomain D(uint id) => IommuRig.Domain(id);

    private HvStatus Create(uint id) => Host.CreateDomain(new CreateDeviceDomainInput(D(id)));

    private HvStatus Configure(uint id, DeviceDomainSettings settings) => Host.ConfigureDomain(new ConfigureDeviceDomainInput(D(id), settings));

    private HvStatus Attach(uint id, ulong device = IommuRig.NicId) => Host.Attach(new AttachDeviceDomainInput(D(id), device));

    private HvStatus Detach(ulong device = IommuRig.NicId) => Host.Detach(new DetachDeviceDomainInput(HvInputDeviceDomain.PartitionIdSelf, device));

    private HvStatus Delete(uint id) => Host.DeleteDomain(new DeleteDeviceDomainInput(D(id)));

    private void CreateConfigured(uint id, DeviceDomainSettings settings)
    {
        Assert.Equal(HvStatus.Success, Create(id));
        Assert.Equal(HvStatus.Success, Configure(id, settings));
    }

    [Fact]
    public void Capabilities_report_the_configured_fields()
    {
        Assert.Equal(HvStatus.Success, Host.GetCapabilities(new GetIommuCapabilitiesInput(), out var output));

        Assert.NotNull(output);
        Assert.Equal(IommuRig.DefaultSettings.CapabilityBits, (ulong)output.IommuCap);
        Assert.Equal((48, 0, 0x4020_1000UL), ((int)output.MaxIovaWidth, (int)output.MaxPasidWidth, output.PgsizeBitmap));
    }

    [Fact]
    public void Capabilities_without_present_answer_invalid_hypercall_code()
    {
        var rig = new IommuRig(settings: IommuRig.DefaultSettings with { CapabilityBits = 0 });
        Assert.Equal(HvStatus.InvalidHypercallCode, rig.Host.GetCapabilities(new GetIommuCapabilitiesInput(), out var output));
        Assert.Null(output);
    }

    [Fact]
    public void Every_call_from_another_partition_is_refused()
    {
        var foreign = new HvInputDeviceDomain(OtherPartition, 0, DeviceDomainId.S1(1));
        Assert.Equal(HvStatus.InvalidPartitionId, Host.GetCapabilities(new GetIommuCapabilitiesInput(OtherPartition), out _));
        Assert.Equal(HvStatus.InvalidPartitionId, Host.GetLogicalDeviceProperty(new GetLogicalDevicePropertyInput(OtherPartition, IommuRig.NicId), out _));
        Assert.Equal(HvStatus.InvalidPartitionId, Host.CreateDomain(new CreateDeviceDomainInput(foreign)));
        Assert.Equal(HvStatus.InvalidPartitionId, Host.ConfigureDomain(new ConfigureDeviceDomainInput(foreign, DeviceDomainSettings.Identity)));
        Assert.Equal(HvStatus.InvalidPartitionId, Host.Attach(new AttachDeviceDomainInput(foreign, IommuRig.NicId)));
        Assert.Equal(HvStatus.InvalidPartitionId, Host.Detach(new DetachDeviceDomainInput(OtherPartition, IommuRig.NicId)));
        Assert.Equal(HvStatus.InvalidPartitionId, Host.DeleteDomain(new DeleteDeviceDomainInput(foreign)));
        Assert.Equal(HvStatus.InvalidPartitionId, Host.CheckFlushTarget(foreign));
        Assert.Equal(0, Host.DomainCount);
    }

    [Fact]
    public void Logical_device_property_tells_which_endpoints_the_pviommu_manages()
    {
        var unmanaged = new DeviceSlot("gpu", 0x300, iommuEnabled: false, atc: null);
        Host.AddDevice(unmanaged);

        Assert.Equal(HvStatus.Success, Host.GetLogicalDeviceProperty(new GetLogicalDevicePropertyInput(HvInputDeviceDomain.PartitionIdSelf, IommuRig.NicId), out var nic));
        Assert.Equal(HvStatus.Success, Host.GetLogicalDeviceProperty(new GetLogicalDevicePropertyInput(HvInputDeviceDomain.PartitionIdSelf, 0x300), out var gpu));
        Assert.Equal(HvStatus.InvalidDeviceId, Host.GetLogicalDeviceProperty(new GetLogicalDevicePropertyInput(HvInputDeviceDomain.PartitionIdSelf, 0x999), out var none));
        Assert.Equal(HvStatus.InvalidParameter, Host.GetLogicalDeviceProperty(new GetLogicalDevicePropertyInput(HvInputDeviceDomain.PartitionIdSelf, IommuRig.NicId, (LogicalDeviceProperty)3), out _));
        Assert.Equal((true, false, (GetLogicalDevicePropertyOutput?)null), (nic!.IommuEnabled, gpu!.IommuEnabled, none));
    }

    [Theory]
    [InlineData(DeviceDomainId.Default)]
    [InlineData(DeviceDomainId.Null)]
    public void Reserved_domain_ids_are_invalid_parameters(uint id)
    {
        Assert.Equal(HvStatus.InvalidParameter, Create(id));
        Assert.Equal(HvStatus.InvalidParameter, Configure(id, DeviceDomainSettings.Identity));
        Assert.Equal(HvStatus.InvalidParameter, Attach(id));
        Assert.Equal(HvStatus.InvalidParameter, Delete(id));
        Assert.Equal(HvStatus.InvalidParameter, Host.CheckFlushTarget(D(id)));
    }

    [Fact]
    public void Create_refuses_a_duplicate_id_and_runs_out_at_max_domains()
    {
        Assert.Equal(HvStatus.Success, Create(1));
        Assert.Equal(HvStatus.InvalidParameter, Create(1));
        Assert.Equal(HvStatus.Success, Create(2));
        Assert.Equal(HvStatus.Success, Create(0xFFFF_FFFE));
        Assert.Equal(HvStatus.Success, Create(3));
        Assert.Equal(HvStatus.InsufficientDeviceDomains, Create(4));
        Assert.Equal(4, Host.DomainCount);
        Assert.Equal(HvStatus.Success, Delete(2));
        Assert.Equal(HvStatus.Success, Create(4));
    }

    [Fact]
    public void Configure_of_an_unknown_domain_is_an_invalid_parameter()
    {
        Assert.Equal(HvStatus.InvalidParameter, Configure(9, DeviceDomainSettings.Identity));
        Assert.Equal(HvStatus.InvalidParameter, Configure(9, DeviceDomainSettings.Paging(_rig.Table.RootGpa)));
    }

    [Theory]
    [InlineData(0x0010_0800UL)]             // not 4 KiB aligned
    [InlineData(IommuRig.MemoryBytes)]      // just past guest memory
    [InlineData(0x10_0000_0000UL)]          // far outside
    public void Paging_root_must_be_an_aligned_guest_frame(ulong root)
    {
        Assert.Equal(HvStatus.Success, Create(1));
        Assert.Equal(HvStatus.InvalidParameter, Configure(1, DeviceDomainSettings.Paging(root)));
        Assert.Equal(HvStatus.InvalidDeviceState, Attach(1));
    }

    [Fact]
    public void Five_level_paging_needs_the_capability()
    {
        Assert.Equal(HvStatus.Success, Create(1));
        Assert.Equal(HvStatus.InvalidParameter, Configure(1, DeviceDomainSettings.Paging(_rig.Table.RootGpa, FirstStagePagingMode.FiveLevel)));

        var capable = new IommuRig(settings: IommuRig.DefaultSettings with
        {
            CapabilityBits = IommuRig.DefaultSettings.CapabilityBits | (ulong)IommuCapabilities.S1FiveLevel,
        });
        Assert.Equal(HvStatus.Success, capable.Host.CreateDomain(new CreateDeviceDomainInput(D(1))));
        Assert.Equal(HvStatus.Success, capable.Host.ConfigureDomain(new ConfigureDeviceDomainInput(D(1), DeviceDomainSettings.Paging(capable.Table.RootGpa, FirstStagePagingMode.FiveLevel))));
        Assert.Equal(HvStatus.Success, capable.Host.Attach(new AttachDeviceDomainInput(D(1), IommuRig.NicId)));
        Assert.Equal(5, capable.Nic.View.Levels);
    }

    [Fact]
    public void Identity_and_blocked_settings_ignore_the_root()
    {
        Assert.Equal(HvStatus.Success, Create(1));
        Assert.Equal(HvStatus.Success, Configure(1, DeviceDomainSettings.Identity with { PageTableRoot = 0x123 }));
        Assert.Equal(HvStatus.Success, Configure(1, DeviceDomainSettings.BlockAll with { TranslationEnabled = true, PageTableRoot = 0x123 }));
    }

    [Fact]
    public void Attach_checks_device_then_domain_then_configuration()
    {
        Assert.Equal(HvStatus.Success, Create(1));
        Assert.Equal(HvStatus.InvalidDeviceId, Attach(1, device: 0x999));
        Assert.Equal(HvStatus.InvalidParameter, Attach(2));
        Assert.Equal(HvStatus.InvalidDeviceState, Attach(1));
        Assert.Same(DomainView.Detached, _rig.Nic.View);
    }

    [Fact]
    public void Attach_twice_to_the_same_domain_is_already_in_domain_and_elsewhere_replaces()
    {
        CreateConfigured(1, DeviceDomainSettings.Identity);
        CreateConfigured(2, DeviceDomainSettings.BlockAll);

        Assert.Equal(HvStatus.Success, Attach(1));
        Assert.Equal(HvStatus.DeviceAlreadyInDomain, Attach(1));
        Assert.Equal(HvStatus.Success, Attach(2));

        Assert.Equal(2u, _rig.Nic.View.DomainId);
        Assert.Empty(Host.DevicesIn(1));
        Assert.Same(_rig.Nic, Assert.Single(Host.DevicesIn(2)));
        Assert.Equal(HvStatus.Success, Delete(1));
    }

    [Fact]
    public void Detach_leaves_the_device_blocked_and_a_second_detach_is_refused()
    {
        CreateConfigured(1, DeviceDomainSettings.Identity);
        Assert.Equal(HvStatus.InvalidDeviceState, Detach());
        Assert.Equal(HvStatus.Success, Attach(1));

        Assert.Equal(HvStatus.Success, Detach());

        Assert.Same(DomainView.Detached, _rig.Nic.View);
        Assert.True(_rig.Nic.View.Blocked);
        Assert.Equal(HvStatus.InvalidDeviceState, Detach());
        Assert.Equal(HvStatus.InvalidDeviceId, Detach(device: 0x999));
    }

    [Fact]
    public void Delete_refuses_unknown_domains_and_domains_with_devices()
    {
        CreateConfigured(1, DeviceDomainSettings.Identity);
        Assert.Equal(HvStatus.InvalidParameter, Delete(2));
        Assert.Equal(HvStatus.Success, Attach(1));

        Assert.Equal(HvStatus.InvalidDeviceState, Delete(1));
        Assert.Equal(HvStatus.Success, Detach());
        Assert.Equal(HvStatus.Success, Delete(1));
        Assert.Equal(0, Host.DomainCount);
        Assert.Equal(HvStatus.InvalidParameter, Host.CheckFlushTarget(D(1)));
    }

    [Fact]
    public void Device_slot_sees_blocked_identity_and_paging_views()
    {
        CreateConfigured(1, DeviceDomainSettings.Identity);
        CreateConfigured(2, DeviceDomainSettings.BlockAll);
        CreateConfigured(3, DeviceDomainSettings.Paging(_rig.Table.RootGpa));

        Assert.Equal(HvStatus.Success, Attach(1));
        Assert.Equal(new DomainView(1, false, false, 4, 0), _rig.Nic.View);
        Assert.Equal(HvStatus.Success, Attach(2));
        Assert.Equal(new DomainView(2, true, true, 4, 0), _rig.Nic.View);
        Assert.Equal(HvStatus.Success, Attach(3));
        Assert.Equal(new DomainView(3, true, false, 4, _rig.Table.RootGpa), _rig.Nic.View);
    }

    [Fact]
    public void Reconfiguring_a_domain_updates_the_view_of_every_attached_device()
    {
        CreateConfigured(1, DeviceDomainSettings.Paging(_rig.Table.RootGpa));
        Assert.Equal(HvStatus.Success, Attach(1, IommuRig.NicId));
        Assert.Equal(HvStatus.Success, Attach(1, IommuRig.AtsDeviceId));

        Assert.Equal(HvStatus.Success, Configure(1, DeviceDomainSettings.BlockAll));

        Assert.True(_rig.Nic.View.Blocked);
        Assert.True(_rig.AtsDevice.View.Blocked);
        Assert.Equal(2, Host.DevicesIn(1).Count);
    }

    [Fact]
    public void Epochs_are_per_domain_and_only_grow()
    {
        Host.BumpEpoch(1);
        Host.BumpEpoch(1);
        Host.BumpEpoch(2);
        Assert.Equal((2L, 1L, 0L), (Host.Epoch(1), Host.Epoch(2), Host.Epoch(3)));
    }

    [Fact]
    public void Host_owns_caches_sized_from_its_settings()
    {
        var host = new HostIommu(new GuestMemory(1 << 20), new Stage2(1 << 20), IommuRig.DefaultSettings with { IotlbEntries = 128, WalkCacheEntries = 32 }, new SeededRandom(1));
        Assert.Equal((128, 32), (host.Iotlb.Capacity, host.WalkCache.Capacity));
    }
}
