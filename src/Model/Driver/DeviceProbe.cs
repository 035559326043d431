using HvIommu.Model.Hypercalls;

namespace HvIommu.Model.Driver;

/// <summary>What one device's probe returned, as the IOMMU core sees it.</summary>
public enum ProbeResult
{
    /// <summary>probe_device returned the iommu_device: the device gets a group, a default domain and is attached.</summary>
    Managed,
    /// <summary>probe_device returned ERR_PTR(-ENODEV): "not translated by this IOMMU". probe_iommu_group turns it into
    /// 0, so bus_iommu_probe goes on with the next device; this device is left to dma-direct.</summary>
    NoDevice,
    /// <summary>Any other error: probe_iommu_group returns it, bus_for_each_dev stops and iommu_device_register fails
    /// (it unregisters and returns the error, hv_iommu_init takes its register-failure label, H16).</summary>
    Failed,
}

/// <summary>
/// The per-device probe-failure path of the IOMMU core (drivers/iommu/iommu.c) with the Hyper-V driver's probe_device
/// (drivers/iommu/hyperv/iommu.c hv_iommu_probe_device, brief §1.6):
/// <list type="bullet">
/// <item>__iommu_probe_device: ops->probe_device fails → dev_iommu_free and return the error (nothing of the device
/// was set up, so release_device is not called); a failure after probe_device (group, default-domain attach) unwinds
/// through ops->release_device before dev_iommu_free.</item>
/// <item>probe_iommu_group (the register-time walk of bus_iommu_probe): <c>if (ret == -ENODEV) ret = 0;</c> — a device
/// the IOMMU does not manage does not stop the others; any other error ends the walk and fails iommu_device_register.</item>
/// <item>hv_iommu_probe_device: a failed HVCALL_GET_LOGICAL_DEVICE_PROPERTY (v2: or a failed lookup of the logical
/// device id, hv_iommu_lookup_logical_dev_id) or HV_DEVICE_IOMMU_ENABLED clear → ERR_PTR(-ENODEV).</item>
/// </list>
/// </summary>
public static class DeviceProbe
{
    /// <summary>Whether bus_iommu_probe goes on with the next device after <paramref name="result"/> (probe_iommu_group).</summary>
    public static bool ContinuesBusProbe(ProbeResult result) => result != ProbeResult.Failed;

    /// <summary>
    /// hv_iommu_probe_device's verdict for one device. <paramref name="idAmbiguous"/>: another vPCI bus's instance GUID
    /// shares this one's bytes 4–7, so the logical device id names two devices at the host (H13). The safe driver's id
    /// registry refuses such an id (the lookup fails, -ENODEV); with <paramref name="trustAmbiguousId"/> (the RFC's
    /// hv_build_logical_dev_id, no check) the id is used anyway and the property hypercall answers for whichever device
    /// the host matches first.
    /// </summary>
    /// <param name="propertyStatus">The status of HVCALL_GET_LOGICAL_DEVICE_PROPERTY (null: not issued).</param>
    /// <param name="iommuEnabled">device_iommu &amp; HV_DEVICE_IOMMU_ENABLED of its output.</param>
    public static ProbeResult Probe(bool idAmbiguous, bool trustAmbiguousId, HvStatus? propertyStatus, bool iommuEnabled)
    {
        if (idAmbiguous && !trustAmbiguousId)
            return ProbeResult.NoDevice;
        return propertyStatus == HvStatus.Success && iommuEnabled ? ProbeResult.Managed : ProbeResult.NoDevice;
    }

    /// <summary>Whether probe_device looks the id up with the hypervisor at all (the safe registry fails first).</summary>
    public static bool AsksHypervisor(bool idAmbiguous, bool trustAmbiguousId) => !idAmbiguous || trustAmbiguousId;
}

/// <summary>
/// The guest's logical-device-id registry (v2 moved it to drivers/hv/hv_common.c; brief §1.9 "Patch 1/5"): pci-hyperv
/// registers each vPCI bus (hv_pci_probe, VMBus, long before the IOMMU probes) and the IOMMU driver looks the id up at
/// probe. The id is <see cref="LogicalDeviceId.BuildLogicalDeviceId"/>: only GUID bytes 4–7 take part, and the host
/// matches against exactly those bytes, so two buses whose GUIDs agree there cannot be told apart by any id the guest
/// sends (Michael Kelley's review: only the whole GUID is unique). The registry therefore knows which ids are ambiguous.
/// </summary>
public sealed class LogicalIdRegistry
{
    private readonly Dictionary<ulong, List<Guid>> _buses = new();

    /// <summary>Registers a vPCI bus by its VMBus instance GUID; the same bus twice is one registration.</summary>
    public void Register(Guid bus)
    {
        var prefix = LogicalDeviceId.BuildLogicalDeviceId(bus, 0);
        if (!_buses.TryGetValue(prefix, out var list))
            _buses[prefix] = list = new List<Guid>();
        if (!list.Contains(bus))
            list.Add(bus);
    }

    /// <summary>True when another registered bus shares <paramref name="bus"/>'s id prefix (H13).</summary>
    public bool IsAmbiguous(Guid bus) =>
        _buses.TryGetValue(LogicalDeviceId.BuildLogicalDeviceId(bus, 0), out var list) && list.Count > 1;

    /// <summary>The buses that share <paramref name="bus"/>'s prefix (itself included), in registration order.</summary>
    public IReadOnlyList<Guid> SharingWith(Guid bus) =>
        _buses.TryGetValue(LogicalDeviceId.BuildLogicalDeviceId(bus, 0), out var list) ? list : [];
}
