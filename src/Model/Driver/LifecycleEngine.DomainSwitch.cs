using HvIommu.Model.Hypercalls;
using HvIommu.Model.Iommu;
using HvIommu.Model.Settings;

namespace HvIommu.Model.Driver;

/// <summary>
/// H9: vCPU 0 moves the first device to another domain and back while DMA is in flight (brief §1.6, §5.5):
/// the RFC's DETACH → FLUSH(old) → ATTACH(new), or later revisions' ATTACH(new) that replaces, then FLUSH(old).
/// The workload keeps programming the device with its home domain's IOVAs, which fault while it is away.
/// </summary>
public sealed partial class LifecycleEngine
{
    private long _opsSinceSwitch;
    private bool _deviceAway;

    /// <summary>After an unmap: moves the first device when <see cref="DriverLifecycle.SwitchDue"/> says so.</summary>
    public async GuestTask MaybeSwitchDomainAsync()
    {
        var life = _world.Settings.Lifecycle;
        if (!DriverLifecycle.SwitchDue(life, _cpu.Index, ++_opsSinceSwitch))
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

    private async GuestTask SwitchDomainAsync(DeviceSlot device, HvInputDeviceDomain from, HvInputDeviceDomain to, LifecycleSettings life)
    {
        foreach (var step in DriverLifecycle.SwitchPlan(life, toBlocking: to.DomainId.Id == DriverWorld.BlockingDomainId))
        {
            switch (step)
            {
                case DomainSwitchStep.DisableAts:
                    device.DisableAts(life.AtsToggleInvalidatesAtc);
                    break;
                case DomainSwitchStep.Detach:
                    await _cpu.Hypercall(new DetachDeviceDomainInput(HvInputDeviceDomain.PartitionIdSelf, device.LogicalDeviceId), ExitPath.DomainSwitch);
                    break;
                case DomainSwitchStep.FlushOld:
                    await _cpu.Hypercall(new FlushDeviceDomainInput(from), ExitPath.DomainSwitch);
                    break;
                case DomainSwitchStep.Attach:
                    await AttachOrLogAsync(device, to);
                    break;
                case DomainSwitchStep.EnableAts:
                    device.EnableAts(life.AtsToggleInvalidatesAtc);
                    break;
            }
        }
    }

    private async GuestTask AttachOrLogAsync(DeviceSlot device, HvInputDeviceDomain to)
    {
        var status = (await _cpu.Hypercall(new AttachDeviceDomainInput(to, device.LogicalDeviceId), ExitPath.DomainSwitch)).Status;
        if (status != HvStatus.Success && status != HvStatus.DeviceAlreadyInDomain)
            _cpu.Log(DriverLogLevel.Error, "{Vcpu}: attach of {Device} to domain {DomainId} failed: {Status}", Name, device.Name, to.DomainId.Id, status.LinuxName());
    }
}
