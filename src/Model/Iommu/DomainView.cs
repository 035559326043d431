using HvIommu.Model.Caches;
using HvIommu.Model.Hypercalls;

namespace HvIommu.Model.Iommu;

/// <summary>
/// What the IOMMU applies to a device's DMA right now (brief §2.2 CONFIGURE settings, §4): its domain id,
/// whether stage 1 is on (off = identity, stage 2 only), whether all DMA is blocked, and the stage-1 root.
/// Immutable: the hypervisor swaps a device's view atomically, the device reads it once per translation.
/// </summary>
/// <param name="AttachedNowhere">The device is in no domain (never attached, or after DETACH): the guest can
/// neither flush nor drain what it does, so any DMA that gets through is outside the guest's control (H9).</param>
/// <param name="LeftIn">The domain an ATTACH failed to take the device out of (hypervisor.behaviour.attach-leaves-old-domain
/// = on, H9; cloud-hypervisor #6298): what the new domain does not translate, the old one still does. Null normally.</param>
public sealed record DomainView(uint DomainId, bool TranslationEnabled, bool Blocked, int Levels, ulong RootGpa, bool AttachedNowhere = false, DomainView? LeftIn = null)
{
    /// <summary>A device attached nowhere: every DMA faults ([UNKNOWN] in the brief, §8 q3; blocked is the safe guess).</summary>
    public static DomainView Detached { get; } = new(DeviceDomainId.Null, false, true, 4, 0, AttachedNowhere: true);

    /// <summary>A detached device passed through (hypervisor.behaviour.detached-translation = identity, §8 q3).</summary>
    public static DomainView DetachedIdentity { get; } = new(DeviceDomainId.Null, false, false, 4, 0, AttachedNowhere: true);
}

/// <summary>
/// One assigned PCI endpoint as the host IOMMU sees it: its logical device id (brief §1.1), whether the
/// pvIOMMU manages it, its ATC when ATS is enabled, and the domain it is attached to.
/// </summary>
/// <param name="vmbusInstance">The VMBus instance GUID of its vPCI bus (the logical id is built from its bytes 4–7).</param>
public sealed class DeviceSlot(string name, ulong logicalDeviceId, bool iommuEnabled, DeviceTlb? atc, Guid vmbusInstance = default)
{
    private DomainView _view = DomainView.Detached;

    public string Name { get; } = name;
    public ulong LogicalDeviceId { get; } = logicalDeviceId;

    /// <summary>The VMBus instance GUID of the device's vPCI bus.</summary>
    public Guid VmbusInstance { get; } = vmbusInstance;
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

    private volatile bool _atsEnabled = atc is not null;

    /// <summary>ATS is enabled in the device's config space: its ATC may serve translations on its own, even
    /// while the IOMMU blocks the device (why later revisions disable ATS before blocking, brief §4, H9).
    /// The RFC enables it at probe and never disables it.</summary>
    public bool AtsEnabled => _atsEnabled;

    /// <summary>The driver disables ATS (Linux arm-smmu-v3 arm_smmu_disable_ats): pci_disable_ats, then, with
    /// <paramref name="invalidate"/>, the ATC is invalidated so nothing cached before survives to a later enable.
    /// Without it the entries stay in the device and are served again once ATS is re-enabled (H9).</summary>
    public void DisableAts(bool invalidate = true)
    {
        _atsEnabled = false;
        if (invalidate)
            Atc?.InvalidateAll();
    }

    /// <summary>The driver enables ATS (arm_smmu_enable_ats): with <paramref name="invalidate"/> the ATC is invalidated
    /// first, then pci_enable_ats (a device without an ATC stays without ATS).</summary>
    public void EnableAts(bool invalidate = true)
    {
        if (invalidate)
            Atc?.InvalidateAll();
        _atsEnabled = Atc is not null;
    }

    internal void SetView(DomainView view) => Volatile.Write(ref _view, view);

    private volatile bool _disconnected;

    /// <summary>The device was surprise-removed (link down): what pci_dev_is_disconnected() tells the host. It answers
    /// nothing from now on (no ATS invalidation completion, no drain).</summary>
    public bool Disconnected => _disconnected;

    /// <summary>The device leaves the bus without an orderly removal.</summary>
    public void Disconnect() => _disconnected = true;

    private int _contextSeq;

    /// <summary>
    /// A sequence count of context changes (ATTACH, DETACH), odd while one is under way: the new view and the ATC
    /// invalidation that goes with it are one step for the device, as an ATTACH hypercall is for the guest. A
    /// translation that read an odd count, or a different one after it finished, is redone (a seqlock): without it
    /// a DMA could see the new (blocked) view and still hit an ATC entry the invalidation was about to drop.
    /// </summary>
    public int ContextSeq => Volatile.Read(ref _contextSeq);

    internal void BeginContextChange() => Interlocked.Increment(ref _contextSeq);

    internal void EndContextChange() => Interlocked.Increment(ref _contextSeq);
}
