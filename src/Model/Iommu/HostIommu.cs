using HvIommu.Model.Caches;
using HvIommu.Model.Hypercalls;
using HvIommu.Model.Memory;
using HvIommu.Model.Randomness;
using HvIommu.Model.Settings;
using System.Runtime.CompilerServices;

namespace HvIommu.Model.Iommu;

/// <summary>
/// The hypervisor's side of the pvIOMMU (brief §2): the device-domain table, device attachments, and the
/// IOMMU hardware caches (IOTLB, paging-structure cache). Each hypercall is a method returning the
/// <see cref="HvStatus"/> a guest would see; which call returns which status is [UNKNOWN] in the brief, so
/// this follows its plausible mapping (§2.3). Domain-table changes take a lock; devices read their
/// <see cref="DomainView"/> lock-free.
/// </summary>
public sealed class HostIommu
{
    private readonly object _lock = new();
    private readonly Dictionary<uint, HostDomain> _domains = new();
    private readonly Dictionary<ulong, DeviceSlot> _devices = new();
    private readonly GuestMemory _memory;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<uint, StrongBox<long>> _epochs = new();

    /// <param name="reuseCachesOf">A host no longer in use (an explorer's previous schedule): its IOTLB and walk cache,
    /// when of the configured sizes, are reset (<see cref="Iotlb.Reset"/>) and taken over instead of built; the result
    /// is the same as with new caches.</param>
    public HostIommu(GuestMemory memory, Stage2 stage2, IommuSettings settings, SeededRandom random, HostBehaviourSettings? behaviour = null, HostIommu? reuseCachesOf = null)
    {
        _memory = memory;
        Behaviour = behaviour ?? HostBehaviourSettings.Safe;
        Stage2 = stage2;
        Settings = settings;
        var (iotlbRandom, walkRandom) = (random.Derive("iotlb"), random.Derive("walk-cache"));
        if (reuseCachesOf?.Iotlb is { } iotlb && iotlb.Capacity == settings.IotlbEntries)
            iotlb.Reset(iotlbRandom);
        else
            iotlb = new Iotlb(settings.IotlbEntries, iotlbRandom);
        Iotlb = iotlb;
        if (reuseCachesOf?.WalkCache is { } walkCache && walkCache.Capacity == settings.WalkCacheEntries)
            walkCache.Reset(walkRandom);
        else
            walkCache = new PagingStructureCache(settings.WalkCacheEntries, walkRandom);
        WalkCache = walkCache;
    }

    public IommuSettings Settings { get; }

    /// <summary>The [UNKNOWN] host behaviour this run assumes (brief §8 q3, q4).</summary>
    public HostBehaviourSettings Behaviour { get; }
    public Stage2 Stage2 { get; }
    public Iotlb Iotlb { get; }
    public PagingStructureCache WalkCache { get; }
    public IommuCapabilities Capabilities => (IommuCapabilities)Settings.CapabilityBits;

    /// <summary>Device domains that exist in the hypervisor now (the H16 baseline check).</summary>
    public int DomainCount
    {
        get
        {
            lock (_lock)
                return _domains.Count;
        }
    }

    /// <summary>Registers an assigned endpoint (done by the host when the VM starts, not by a hypercall). The host
    /// finds a device by its logical id, i.e. by GUID bytes 4–7 + function (brief §1.9 "Patch 1/5"); when two
    /// endpoints share that id, every hypercall naming it reaches the one assigned first ([UNKNOWN] which one a real
    /// host picks; any fixed choice aliases the other device, H13).</summary>
    public void AddDevice(DeviceSlot device)
    {
        lock (_lock)
            _devices.TryAdd(device.LogicalDeviceId, device);
    }

    /// <summary>sizeof(struct hv_output_get_iommu_capabilities): u32 size, u16 reserved, u8 + u8 widths, u64 cap, u64 pgsize_bitmap (brief §2.2).</summary>
    public const uint GetIommuCapabilitiesOutputSize = 24;

    /// <summary>HVCALL_GET_IOMMU_CAPABILITIES.</summary>
    public HvStatus GetCapabilities(GetIommuCapabilitiesInput input, out GetIommuCapabilitiesOutput? output)
    {
        output = null;
        if (input.PartitionId != HvInputDeviceDomain.PartitionIdSelf)
            return HvStatus.InvalidPartitionId;
        if (!Capabilities.HasFlag(IommuCapabilities.Present))
            return HvStatus.InvalidHypercallCode;
        output = new GetIommuCapabilitiesOutput(GetIommuCapabilitiesOutputSize, (byte)Settings.MaxIovaWidth, (byte)Settings.MaxPasidWidth, Capabilities, Settings.PageSizeBitmap);
        return HvStatus.Success;
    }

    /// <summary>HVCALL_GET_LOGICAL_DEVICE_PROPERTY with HV_LOGICAL_DEVICE_PROPERTY_PVIOMMU.</summary>
    public HvStatus GetLogicalDeviceProperty(GetLogicalDevicePropertyInput input, out GetLogicalDevicePropertyOutput? output)
    {
        output = null;
        if (input.PartitionId != HvInputDeviceDomain.PartitionIdSelf)
            return HvStatus.InvalidPartitionId;
        if (input.PropertyCode != LogicalDeviceProperty.PvIommu)
            return HvStatus.InvalidParameter;
        lock (_lock)
        {
            if (!_devices.TryGetValue(input.LogicalDeviceId, out var device))
                return HvStatus.InvalidDeviceId;
            output = new GetLogicalDevicePropertyOutput(device.IommuEnabled ? DeviceIommuFlags.Enabled : DeviceIommuFlags.None);
            return HvStatus.Success;
        }
    }

    /// <summary>HVCALL_CREATE_DEVICE_DOMAIN with a guest-chosen id.</summary>
    public HvStatus CreateDomain(CreateDeviceDomainInput input)
    {
        var status = CheckIdentity(input.Domain);
        if (status != HvStatus.Success)
            return status;
        lock (_lock)
        {
            if (_domains.ContainsKey(input.Domain.DomainId.Id))
                return HvStatus.InvalidParameter;
            if (_domains.Count >= Settings.MaxDomains)
                return HvStatus.InsufficientDeviceDomains;
            _domains.Add(input.Domain.DomainId.Id, new HostDomain(input.Domain.DomainId.Id));
            return HvStatus.Success;
        }
    }

    /// <summary>HVCALL_CONFIGURE_DEVICE_DOMAIN: identity, blocked or paging with a stage-1 root.</summary>
    public HvStatus ConfigureDomain(ConfigureDeviceDomainInput input)
    {
        var status = CheckIdentity(input.Domain);
        if (status != HvStatus.Success)
            return status;
        var s = input.Settings;
        var fiveLevel = s.FirstStagePagingMode == FirstStagePagingMode.FiveLevel;
        if (s.TranslationEnabled && !s.Blocked)
        {
            if ((s.PageTableRoot & GuestMemory.PageMask) != 0 || !_memory.Contains(s.PageTableRoot))
                return HvStatus.InvalidParameter;
            if (fiveLevel && !Capabilities.HasFlag(IommuCapabilities.S1FiveLevel))
                return HvStatus.InvalidParameter;
        }
        lock (_lock)
        {
            if (!_domains.TryGetValue(input.Domain.DomainId.Id, out var domain))
                return HvStatus.InvalidParameter;
            domain.View = new DomainView(domain.Id, s.TranslationEnabled, s.Blocked, fiveLevel ? 5 : 4, s.PageTableRoot);
            foreach (var device in domain.Devices)
                if (device.View.DomainId == domain.Id)
                    device.SetView(domain.View);
            return HvStatus.Success;
        }
    }

    /// <summary>HVCALL_ATTACH_DEVICE_DOMAIN. Attaching a device that is in another domain replaces it (later
    /// revisions use attach as "replace", §1.10); the same domain again gives DEVICE_ALREADY_IN_DOMAIN. With
    /// <see cref="HostBehaviourSettings.AttachLeavesOldDomain"/> (a host bug, H9) the device stays a member of its old
    /// domain as well, and the old domain still translates for it (<see cref="DomainView.LeftIn"/>).</summary>
    public HvStatus Attach(AttachDeviceDomainInput input)
    {
        var status = CheckIdentity(input.Domain);
        if (status != HvStatus.Success)
            return status;
        lock (_lock)
        {
            if (!_devices.TryGetValue(input.DeviceId, out var device))
                return HvStatus.InvalidDeviceId;
            if (!_domains.TryGetValue(input.Domain.DomainId.Id, out var domain))
                return HvStatus.InvalidParameter;
            if (domain.View is null)
                return HvStatus.InvalidDeviceState;
            var previous = device.View;
            if (domain.Devices.Contains(device) && (!Behaviour.AttachLeavesOldDomain || previous.DomainId == domain.Id))
                return HvStatus.DeviceAlreadyInDomain;
            var view = domain.View;
            if (!Behaviour.AttachLeavesOldDomain)
            {
                foreach (var other in _domains.Values)
                    if (other.Devices.Remove(device))
                        Depart(other, device);
            }
            else if (!previous.AttachedNowhere)
                view = view with { LeftIn = previous with { LeftIn = null } };
            if (!domain.Devices.Contains(device))
                domain.Devices.Add(device);
            domain.Refresh();
            domain.AttachedSinceFlush = true;
            device.BeginContextChange();
            device.SetView(view);
            InvalidateAtcOnContextChange(device);
            device.EndContextChange();
            return HvStatus.Success;
        }
    }

    /// <summary>HVCALL_DETACH_DEVICE_DOMAIN (RFC only): the device leaves whatever domain it is in.</summary>
    public HvStatus Detach(DetachDeviceDomainInput input)
    {
        if (input.PartitionId != HvInputDeviceDomain.PartitionIdSelf)
            return HvStatus.InvalidPartitionId;
        lock (_lock)
        {
            if (!_devices.TryGetValue(input.DeviceId, out var device))
                return HvStatus.InvalidDeviceId;
            var from = _domains.Values.FirstOrDefault(d => d.Id == device.View.DomainId && d.Devices.Contains(device))
                ?? _domains.Values.FirstOrDefault(d => d.Devices.Contains(device));
            if (from is null)
                return HvStatus.InvalidDeviceState;
            // The device leaves every domain it is a member of (more than one only after an ATTACH that left it in
            // its old domain as well, attach-leaves-old-domain).
            foreach (var member in _domains.Values)
                if (member.Devices.Remove(device))
                    Depart(member, device);
            device.BeginContextChange();
            device.SetView(DetachedView(from));
            InvalidateAtcOnContextChange(device);
            device.EndContextChange();
            return HvStatus.Success;
        }
    }

    /// <summary>
    /// The device now translates through another context: an ATS-enabled device's ATC (untagged) is invalidated
    /// after the switch, as VT-d flushes the device TLB after reprogramming a context entry and arm-smmu-v3's
    /// arm_smmu_attach_commit invalidates the ATC when ATS stays enabled across the change. A device with ATS
    /// disabled gets no ATS invalidation (the driver invalidates when it enables ATS again). Off is H9.
    /// </summary>
    private void InvalidateAtcOnContextChange(DeviceSlot device)
    {
        if (Behaviour.AttachInvalidatesAtc && device.AtsEnabled)
            device.Atc?.InvalidateAll();
    }

    /// <summary>What a detached device gets (§8 q3): blocked, pass-through, or its last domain's tables —
    /// the last without membership, so flushes of that domain no longer reach the device (H9).</summary>
    private DomainView DetachedView(HostDomain from) => Behaviour.DetachedTranslation switch
    {
        DetachedTranslation.Identity => DomainView.DetachedIdentity,
        DetachedTranslation.LastDomain when from.View is { } last => last with { AttachedNowhere = true },
        _ => DomainView.Detached,
    };

    /// <summary>HVCALL_DELETE_DEVICE_DOMAIN. Refused while devices are attached (a careful host; [UNKNOWN]).
    /// Whether it drops the domain's IOTLB and walk-cache entries is [UNKNOWN] too (§8 q4, H10).</summary>
    public HvStatus DeleteDomain(DeleteDeviceDomainInput input)
    {
        var status = CheckIdentity(input.Domain);
        if (status != HvStatus.Success)
            return status;
        lock (_lock)
        {
            if (!_domains.TryGetValue(input.Domain.DomainId.Id, out var domain))
                return HvStatus.InvalidParameter;
            if (domain.Devices.Count > 0)
                return HvStatus.InvalidDeviceState;
            _domains.Remove(domain.Id);
        }
        if (Behaviour.DeleteInvalidatesCaches)
        {
            BumpEpoch(input.Domain.DomainId.Id);
            Iotlb.InvalidateDomain(input.Domain.DomainId.Id);
            WalkCache.InvalidateDomain(input.Domain.DomainId.Id);
        }
        return HvStatus.Success;
    }

    /// <summary>
    /// The domain's invalidation epoch. A flush bumps it before invalidating; a translation that began
    /// before the bump must not leave its fill in the caches (real IOMMUs order in-flight walks before an
    /// invalidation's completion), so the translator re-checks it after filling.
    /// </summary>
    public long Epoch(uint domainId) => Volatile.Read(ref EpochBox(domainId).Value);

    public void BumpEpoch(uint domainId) => Interlocked.Increment(ref EpochBox(domainId).Value);

    private StrongBox<long> EpochBox(uint domainId) => _epochs.GetOrAdd(domainId, static _ => new StrongBox<long>());

    private ulong _nextMigrationHpa;

    private int _dmaQuiesced;

    /// <summary>The host holds DMA off for a stage-2 change (<see cref="TryQuiesceDma"/>): a device that has published
    /// a translation (<see cref="DeviceSlot.TranslationStarted"/>) waits until this is false before it translates.</summary>
    public bool DmaQuiesced => Volatile.Read(ref _dmaQuiesced) != 0;

    /// <summary>
    /// Before a stage-2 change (H14): holds new DMA off, then checks that none of <paramref name="devices"/> has DMA in
    /// flight. True: DMA stays held off until <see cref="ResumeDma"/>. False (some DMA in flight): nothing is held and
    /// the change must wait. Each side publishes before it reads the other's word (a device increments its in-flight
    /// count, then reads <see cref="DmaQuiesced"/>; this sets the word, then reads the counts), both with full
    /// fences, so a translation either is seen here or sees the hold: none can read the old stage-2 entry and move
    /// data after the change, as one checked only by a read of the counts could in stress mode.
    /// </summary>
    public bool TryQuiesceDma(IEnumerable<DeviceSlot> devices)
    {
        Interlocked.Exchange(ref _dmaQuiesced, 1);
        if (devices.All(d => d.InFlight == 0))
            return true;
        ResumeDma();
        return false;
    }

    /// <summary>Ends the hold of <see cref="TryQuiesceDma"/>.</summary>
    public void ResumeDma() => Volatile.Write(ref _dmaQuiesced, 0);

    /// <summary>
    /// The host moves guest frame <paramref name="gpa"/> to a fresh host frame (page migration). With
    /// <see cref="HostBehaviourSettings.S2ChangeInvalidatesIotlb"/> it then invalidates, in the same step, every
    /// IOTLB entry derived from the old stage-2 entry and the ATCs of the given devices (brief §4); without it,
    /// those nested entries keep the old HPA (H14). The caller holds DMA off (<see cref="TryQuiesceDma"/>).
    /// </summary>
    public ulong MigrateFrame(ulong gpa, uint domainId, IEnumerable<DeviceSlot> atsDevices)
    {
        var frame = gpa & ~GuestMemory.PageMask;
        if (_nextMigrationHpa == 0)
            _nextMigrationHpa = Stage2.HostOffset + ((_memory.SizeBytes + GuestMemory.PageMask) & ~GuestMemory.PageMask);
        var newHpa = _nextMigrationHpa;
        _nextMigrationHpa += GuestMemory.PageSize;
        Stage2.Remap(frame, newHpa);
        if (Behaviour.S2ChangeInvalidatesIotlb)
        {
            BumpEpoch(domainId);
            Iotlb.InvalidateWhereGpa(frame >> GuestMemory.PageShift);
            foreach (var device in atsDevices)
                device.Atc?.InvalidateAll();
        }
        return newHpa;
    }

    /// <summary>Checks the domain named by a flush exists; the flush itself is the flush handler's work.</summary>
    public HvStatus CheckFlushTarget(HvInputDeviceDomain target)
    {
        var status = CheckIdentity(target);
        if (status != HvStatus.Success)
            return status;
        lock (_lock)
            return _domains.ContainsKey(target.DomainId.Id) ? HvStatus.Success : HvStatus.InvalidParameter;
    }

    /// <summary>The devices attached to a domain now.</summary>
    public IReadOnlyList<DeviceSlot> DevicesIn(uint domainId)
    {
        lock (_lock)
            return _domains.TryGetValue(domainId, out var d) ? d.Attached : Array.Empty<DeviceSlot>();
    }

    /// <summary>The devices a flush of the domain must reach (invalidate ATCs, drain): those attached now and,
    /// when the host does so (§8 q2), those that left it and that no flush reaching them has completed since.
    /// A departed device stays on the list until <see cref="FlushReachedDeparted"/> says a flush that took it
    /// has completed: two flushes of the domain can run at once, and the later one may complete first — it
    /// must not complete without the device whose DMA of the old domain the earlier one is still draining.</summary>
    /// <param name="departedMark">Pass to <see cref="FlushReachedDeparted"/> when the flush completes.</param>
    public IReadOnlyList<DeviceSlot> DevicesToFlush(uint domainId, out long departedMark)
    {
        lock (_lock)
        {
            departedMark = _departures;
            if (!_domains.TryGetValue(domainId, out var d))
                return Array.Empty<DeviceSlot>();
            if (d.Departed.Count == 0)
                return d.Attached;
            return d.Attached.Union(d.Departed.Select(e => e.Device)).ToArray();
        }
    }

    /// <summary>A flush of the domain that took its devices with <paramref name="departedMark"/> has completed:
    /// the devices that had departed by then are flushed and drained of the old domain's DMA.</summary>
    public void FlushReachedDeparted(uint domainId, long departedMark)
    {
        lock (_lock)
            if (_domains.TryGetValue(domainId, out var d) && d.Departed.Count > 0)
                RemoveReached(d.Departed, departedMark);

        // Apart, so that the predicate's closure is made only when a device departed (not on every flush).
        static void RemoveReached(List<DepartedDevice> departed, long mark) => departed.RemoveAll(e => e.Stamp <= mark);
    }

    /// <summary>Whether a device was attached to the domain since its last flush started; clears the mark (the flush that
    /// asks is that first flush).</summary>
    public bool TakeAttachedSinceFlush(uint domainId)
    {
        lock (_lock)
        {
            if (!_domains.TryGetValue(domainId, out var d) || !d.AttachedSinceFlush)
                return false;
            d.AttachedSinceFlush = false;
            return true;
        }
    }

    private long _departures;

    private void Depart(HostDomain from, DeviceSlot device)
    {
        from.Refresh();
        if (!Behaviour.FlushCoversDepartedDevices)
            return;
        from.Departed.RemoveAll(e => e.Device == device);
        from.Departed.Add(new DepartedDevice(device, ++_departures));
    }

    private sealed record DepartedDevice(DeviceSlot Device, long Stamp);

    private static HvStatus CheckIdentity(HvInputDeviceDomain d)
    {
        if (d.PartitionId != HvInputDeviceDomain.PartitionIdSelf)
            return HvStatus.InvalidPartitionId;
        if (d.DomainId.Type != DeviceDomainType.S1 || !d.DomainId.IsGuestAllocatable)
            return HvStatus.InvalidParameter;
        return HvStatus.Success;
    }

    private sealed class HostDomain(uint id)
    {
        public uint Id { get; } = id;
        public DomainView? View { get; set; }

        /// <summary>A device was attached since the domain's last flush started (<see cref="TakeAttachedSinceFlush"/>).</summary>
        public bool AttachedSinceFlush { get; set; }
        // Lists, not hash sets: flushes message devices in this order, and object hash codes differ
        // between processes, which would make a deterministic run's schedule depend on the process.
        public List<DeviceSlot> Devices { get; } = new();

        /// <summary>A copy of <see cref="Devices"/> handed to flushes without allocating per flush.</summary>
        public DeviceSlot[] Attached { get; private set; } = [];

        /// <summary>Devices that left, not yet reached by a completed flush (see <see cref="DevicesToFlush"/>).</summary>
        public List<DepartedDevice> Departed { get; } = new();

        public void Refresh() => Attached = Devices.ToArray();
    }
}
