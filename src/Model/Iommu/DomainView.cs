using HvIommu.Model.Caches;
using HvIommu.Model.Hypercalls;

namespace HvIommu.Model.Iommu;

/// <summary>
/// What the IOMMU applies to a device's DMA right now (brief §2.2 CONFIGURE settings, §4): its domain id,
/// whether stage 1 is on (off = identity, stage 2 only), whether all DMA is blocked, and the stage-1 root.
/// Immutable: the hypervisor swaps a device's view atomically, the device reads it once per translation.
/// </summary>
public sealed record DomainView(uint DomainId, bool TranslationEnabled, bool Blocked, int Levels, ulong RootGpa)
{
    /// <summary>A device attached nowhere: every DMA faults ([UNKNOWN] in the brief, §8 q3; blocked is the safe guess).</summary>
    public static DomainView Detached { get; } = new(DeviceDomainId.Null, false, true, 4, 0);
}

/// <summary>
/// One assigned PCI endpoint as the host IOMMU sees it: its logical device id (brief §1.1), whether the
/// pvIOMMU manages it, its ATC when ATS is enabled, and the domain it is attached to.
/// </summary>
public sealed class DeviceSlot(string name, ulong logicalDeviceId, bool iommuEnabled, DeviceTlb? atc)
{
    private DomainView _view = DomainView.Detached;

    public string Name { get; } = name;
    public ulong LogicalDeviceId { get; } = logicalDeviceId;
    public bool IommuEnabled { get; } = iommuEnabled;

    /// <summary>The device's ATS translation cache, or null without ATS.</summary>
    public DeviceTlb? Atc { get; } = atc;

    public DomainView View => Volatile.Read(ref _view);

    private int _inFlight;

    /// <summary>DMA transactions translated (or being translated) whose data has not moved yet. A flush
    /// that reads zero after invalidating its caches has nothing of this device to drain.</summary>
    public int InFlight => Volatile.Read(ref _inFlight);

    public void TranslationStarted() => Interlocked.Increment(ref _inFlight);

    public void TransferFinished() => Interlocked.Decrement(ref _inFlight);

    internal void SetView(DomainView view) => Volatile.Write(ref _view, view);
}
