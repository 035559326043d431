using HvIommu.Model.Hypercalls;
using HvIommu.Model.Iommu;
using HvIommu.Model.Randomness;
using HvIommu.Model.Settings;

namespace HvIommu.Model.Tests.Iommu;

/// <summary>§8 q2: does a domain flush still reach a device that left the domain (attach-as-replace or detach)?</summary>
[Trait("Category", "Model")]
public sealed class DepartedDevicesTests
{
    private static (HostIommu Host, IommuRig Rig) Host(bool coversDeparted)
    {
        var rig = new IommuRig();
        var host = new HostIommu(rig.Memory, rig.Stage2, IommuRig.DefaultSettings, new SeededRandom(1),
            new HostBehaviourSettings(DetachedTranslation.Blocked, true, coversDeparted));
        host.AddDevice(rig.Nic);
        foreach (var id in new uint[] { IommuRig.DomainId, IommuRig.DomainId + 1 })
        {
            Assert.Equal(HvStatus.Success, host.CreateDomain(new CreateDeviceDomainInput(IommuRig.Domain(id))));
            Assert.Equal(HvStatus.Success, host.ConfigureDomain(new ConfigureDeviceDomainInput(IommuRig.Domain(id), DeviceDomainSettings.Paging(rig.Table.RootGpa, FirstStagePagingMode.FourLevel))));
        }
        Assert.Equal(HvStatus.Success, host.Attach(new AttachDeviceDomainInput(IommuRig.Domain(IommuRig.DomainId), rig.Nic.LogicalDeviceId)));
        return (host, rig);
    }

    [Fact]
    public void Flushes_of_the_old_domain_reach_a_device_that_moved_away_until_one_that_reached_it_completes()
    {
        var (host, rig) = Host(coversDeparted: true);
        Assert.Equal(HvStatus.Success, host.Attach(new AttachDeviceDomainInput(IommuRig.Domain(IommuRig.DomainId + 1), rig.Nic.LogicalDeviceId)));
        Assert.Empty(host.DevicesIn(IommuRig.DomainId));
        Assert.Equal([rig.Nic], host.DevicesToFlush(IommuRig.DomainId, out var first));
        // A second flush starting while the first is still draining must reach the device too: it may complete first.
        Assert.Equal([rig.Nic], host.DevicesToFlush(IommuRig.DomainId, out _));
        host.FlushReachedDeparted(IommuRig.DomainId, first);
        Assert.Empty(host.DevicesToFlush(IommuRig.DomainId, out _));
        Assert.Equal([rig.Nic], host.DevicesToFlush(IommuRig.DomainId + 1, out _));
    }

    [Fact]
    public void A_device_that_leaves_again_after_a_flush_took_it_stays_on_the_list()
    {
        var (host, rig) = Host(coversDeparted: true);
        Assert.Equal(HvStatus.Success, host.Attach(new AttachDeviceDomainInput(IommuRig.Domain(IommuRig.DomainId + 1), rig.Nic.LogicalDeviceId)));
        host.DevicesToFlush(IommuRig.DomainId, out var mark);
        Assert.Equal(HvStatus.Success, host.Attach(new AttachDeviceDomainInput(IommuRig.Domain(IommuRig.DomainId), rig.Nic.LogicalDeviceId)));
        Assert.Equal(HvStatus.Success, host.Attach(new AttachDeviceDomainInput(IommuRig.Domain(IommuRig.DomainId + 1), rig.Nic.LogicalDeviceId)));
        host.FlushReachedDeparted(IommuRig.DomainId, mark);
        Assert.Equal([rig.Nic], host.DevicesToFlush(IommuRig.DomainId, out _));
    }

    [Fact]
    public void A_detached_device_is_reached_by_the_next_flush_of_its_old_domain()
    {
        var (host, rig) = Host(coversDeparted: true);
        Assert.Equal(HvStatus.Success, host.Detach(new DetachDeviceDomainInput(HvInputDeviceDomain.PartitionIdSelf, rig.Nic.LogicalDeviceId)));
        Assert.Equal([rig.Nic], host.DevicesToFlush(IommuRig.DomainId, out _));
    }

    [Fact]
    public void A_host_that_flushes_only_attached_devices_misses_the_departed_one()
    {
        var (host, rig) = Host(coversDeparted: false);
        Assert.Equal(HvStatus.Success, host.Attach(new AttachDeviceDomainInput(IommuRig.Domain(IommuRig.DomainId + 1), rig.Nic.LogicalDeviceId)));
        Assert.Empty(host.DevicesToFlush(IommuRig.DomainId, out _));
    }
}
