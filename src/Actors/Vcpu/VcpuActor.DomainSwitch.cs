using Akka.Event;
using HvIommu.Actors.Metrics;
using HvIommu.Actors.Simulation;
using HvIommu.Model.Driver;
using HvIommu.Model.Hypercalls;
using HvIommu.Model.Settings;

namespace HvIommu.Actors.Vcpu;

/// <summary>
/// H9: vCPU 0 moves the first device to another domain and back while DMA is in flight (brief §1.6, §5.5):
/// the RFC's DETACH → FLUSH(old) → ATTACH(new), or later revisions' ATTACH(new) that replaces, then FLUSH(old).
/// The workload keeps programming the device with its home domain's IOVAs, which fault while it is away.
/// </summary>
internal sealed partial class VcpuActor
{
    private long _opsSinceSwitch;
    private bool _deviceAway;

    private async GuestTask MaybeSwitchDomainAsync()
    {
        var life = _world.Settings.Lifecycle;
        if (life.DomainSwitch == DomainSwitchMode.None || _index != 0 || ++_opsSinceSwitch < life.DomainSwitchEveryOps)
            return;
        _opsSinceSwitch = 0;
        var home = _world.DomainOfDevice[0].Identity;
        // A device would land in another device's paging domain with its driver still programming its old IOVAs: Linux
        // refuses that (the DMA-API driver holds the group on its default domain, iommu.c iommu_device_use_default_domain),
        // Xen since XSA-302 quarantines the device; lifecycle.quarantine-moved-device = off is the hazard (H9).
        var away = life.QuarantineMovedDevice && _world.Settings.SwitchesIntoPopulatedDomain ? BlockingDomain : SwitchTarget(life.DomainSwitchTo);
        var (from, to) = _deviceAway ? (away, home) : (home, away);
        _deviceAway = !_deviceAway;
        await SwitchDomainAsync(_world.Devices[0], from, to, life);
    }

    private HvInputDeviceDomain SwitchTarget(string to)
    {
        if (to == "blocking")
            return BlockingDomain;
        if (to.Length > 0)
            return _world.DomainByName[to].Identity;
        var home = _world.DomainOfDevice[0];
        return _world.Domains[(_world.Domains.IndexOf(home) + 1) % _world.Domains.Length].Identity;
    }

    private async GuestTask SwitchDomainAsync(Model.Iommu.DeviceSlot device, HvInputDeviceDomain from, HvInputDeviceDomain to, LifecycleSettings life)
    {
        var toBlocking = to.DomainId.Id == SimWorld.BlockingDomainId;
        if (toBlocking && life.DisableAtsBeforeBlock)
            device.DisableAts(life.AtsToggleInvalidatesAtc);
        if (life.DomainSwitch == DomainSwitchMode.DetachAttach)
        {
            await HypercallAsync(new DetachDeviceDomainInput(HvInputDeviceDomain.PartitionIdSelf, device.LogicalDeviceId), ExitPath.DomainSwitch);
            await HypercallAsync(new FlushDeviceDomainInput(from), ExitPath.DomainSwitch);
            await AttachOrLogAsync(device, to);
        }
        else
        {
            await AttachOrLogAsync(device, to);
            await HypercallAsync(new FlushDeviceDomainInput(from), ExitPath.DomainSwitch);
        }
        if (!toBlocking && life.DisableAtsBeforeBlock)
            device.EnableAts(life.AtsToggleInvalidatesAtc);
    }

    private async GuestTask AttachOrLogAsync(Model.Iommu.DeviceSlot device, HvInputDeviceDomain to)
    {
        var status = (await HypercallAsync(new AttachDeviceDomainInput(to, device.LogicalDeviceId), ExitPath.DomainSwitch)).Status;
        if (status != HvStatus.Success && status != HvStatus.DeviceAlreadyInDomain)
            _log.Error("{Vcpu}: attach of {Device} to domain {DomainId} failed: {Status}", Name, device.Name, to.DomainId.Id, status.LinuxName());
    }
}
