using HvIommu.Model.Caches;
using HvIommu.Model.Events;
using HvIommu.Model.Hypercalls;
using HvIommu.Model.Iommu;
using HvIommu.Model.Mappings;
using HvIommu.Model.Memory;
using HvIommu.Model.Oracle;
using HvIommu.Model.PageTables;
using HvIommu.Model.Randomness;
using HvIommu.Model.Settings;
using HvIommu.Model.Translation;
using HvIommu.Model.Ledger;

namespace HvIommu.Model.Tests.Iommu;

/// <summary>
/// One guest with one paging domain and two devices (one with ATS), wired exactly as a run wires them:
/// real guest memory, frame allocator, stage 2, stage-1 table, host IOMMU, oracle and translator. Driver
/// steps (map, unmap, flush, free) are spelled out as helpers so that a test reads as a scenario.
/// </summary>
internal sealed class IommuRig
{
    public const ulong MemoryBytes = 64UL << 20;
    public const ulong FramesBaseGpa = 16UL << 20;
    public const uint DomainId = 5;
    public const ulong NicId = 0x100;
    public const ulong AtsDeviceId = 0x200;

    public static readonly IommuSettings DefaultSettings = new(
        CapabilityBits: (ulong)(IommuCapabilities.Present | IommuCapabilities.S1 | IommuCapabilities.Ats),
        MaxIovaWidth: 48, MaxPasidWidth: 0, PageSizeBitmap: 0x4020_1000, MaxDomains: 4,
        IotlbEntries: 64, WalkCacheEntries: 64, AtcEntries: 16);

    public IommuRig(bool lazyWindowIsViolation = false, int maxKept = 16, IommuSettings? settings = null, HostBehaviourSettings? behaviour = null)
    {
        Memory = new GuestMemory(MemoryBytes);
        Frames = new FrameAllocator(Memory, FramesBaseGpa, 4096);
        Stage2 = new Stage2(MemoryBytes);
        Log = new ViolationLog(maxKept, lazyWindowIsViolation);
        // Each kind is attributed to the hazard it typically stands for, as if that hazard's knob were on.
        Mappings = new MappingLedger(Frames);
        Oracle = new DmaOracle(Mappings, Frames, Stage2, Log, hazardOf: Hazards.HazardRegistry.TypicalHazard);
        Host = new HostIommu(Memory, Stage2, settings ?? DefaultSettings, new SeededRandom(42), behaviour);
        Nic = new DeviceSlot("nic", NicId, iommuEnabled: true, atc: null);
        AtsDevice = new DeviceSlot("dsa", AtsDeviceId, iommuEnabled: true, new DeviceTlb(16, new SeededRandom(7)));
        Host.AddDevice(Nic);
        Host.AddDevice(AtsDevice);
        Table = new StageOnePageTable(Memory, Frames, 4, (int)DomainId, 48);
        Events.Subscribe(Mappings);
        Events.Subscribe(Oracle);
        Translator = new IommuTranslator(Memory, Host, Frames, Mappings, Events, Table.MaxIova);
    }

    /// <summary>The rig's event stream; the ledger of mappings and then the oracle subscribe to it (the translator's walks
    /// reach the oracle only so).</summary>
    public SimEventStream Events { get; } = new();

    public GuestMemory Memory { get; }
    public FrameAllocator Frames { get; }
    public Stage2 Stage2 { get; }
    public ViolationLog Log { get; }
    public DmaOracle Oracle { get; }

    /// <summary>The registry of mappings the driver steps register in and move along (as the run's ledger).</summary>
    public MappingLedger Mappings { get; }
    public HostIommu Host { get; }
    public DeviceSlot Nic { get; }
    public DeviceSlot AtsDevice { get; }
    public StageOnePageTable Table { get; }
    public IommuTranslator Translator { get; }

    public static HvInputDeviceDomain Domain(uint id) => HvInputDeviceDomain.Self(DeviceDomainId.S1(id));

    /// <summary>Creates, configures (paging over <see cref="Table"/>) and attaches both devices to <see cref="DomainId"/>.</summary>
    public IommuRig WithPagingDomain()
    {
        Assert.Equal(HvStatus.Success, Host.CreateDomain(new CreateDeviceDomainInput(Domain(DomainId))));
        Assert.Equal(HvStatus.Success, Host.ConfigureDomain(new ConfigureDeviceDomainInput(Domain(DomainId), DeviceDomainSettings.Paging(Table.RootGpa))));
        Assert.Equal(HvStatus.Success, Host.Attach(new AttachDeviceDomainInput(Domain(DomainId), NicId)));
        Assert.Equal(HvStatus.Success, Host.Attach(new AttachDeviceDomainInput(Domain(DomainId), AtsDeviceId)));
        return this;
    }

    /// <summary>Creates and configures domain <paramref name="id"/>, then attaches <paramref name="device"/> to it.</summary>
    public void MoveToNewDomain(DeviceSlot device, uint id, DeviceDomainSettings settings)
    {
        Assert.Equal(HvStatus.Success, Host.CreateDomain(new CreateDeviceDomainInput(Domain(id))));
        Assert.Equal(HvStatus.Success, Host.ConfigureDomain(new ConfigureDeviceDomainInput(Domain(id), settings)));
        Assert.Equal(HvStatus.Success, Host.Attach(new AttachDeviceDomainInput(Domain(id), device.LogicalDeviceId)));
    }

    public static AccessContext Context(DeviceSlot device, bool replay = false, long step = 1) =>
        new(device.Name, "vcpu0", device.View.DomainId, device.View.Blocked, replay, step, step * 1000);

    /// <summary>dma_map of one fresh 4 KiB buffer at <paramref name="iova"/>, as the driver tells the oracle.</summary>
    public MappingRecord MapBuffer(ulong iova, bool writable = true)
    {
        var buffer = Frames.Allocate(FrameOwner.DmaBuffer, ownerId: 0);
        var record = Mappings.Register(DomainId, iova, buffer, PageSize.Size4K, writable, vcpu: 0, nowNs: 0);
        Assert.Equal(MapStatus.Mapped, Table.Map(iova, buffer, PageSize.Size4K, writable));
        Mappings.Mapped(record);
        return record;
    }

    /// <summary>dma_unmap's leaf clear (<paramref name="length"/> bytes from the record's IOVA); returns the gather.</summary>
    public IotlbGather Unmap(MappingRecord record, bool queued = false, ulong length = 0x1000)
    {
        var gather = new IotlbGather();
        Mappings.UnmapStarting(record, nowNs: 10, queued);
        Table.Unmap(record.Iova, length, gather);
        Mappings.UnmapDone(record, nowNs: 11);
        return gather;
    }

    /// <summary>A complete HVCALL_FLUSH_DEVICE_DOMAIN as a correct flush handler performs it.</summary>
    public void FlushDomain(bool invalidateWalkCache = true)
    {
        var seq = Mappings.FlushStarted(DomainId);
        Host.BumpEpoch(DomainId);
        Host.Iotlb.InvalidateDomain(DomainId);
        if (invalidateWalkCache)
            Host.WalkCache.InvalidateDomain(DomainId);
        AtsDevice.Atc!.InvalidateAll();
        Mappings.FlushCompleted(DomainId, seq, null, nowNs: 20);
    }

    /// <summary>The buffer goes back to the guest and the next allocation (LIFO) takes it for someone else.</summary>
    public void FreeAndReuse(MappingRecord record)
    {
        Frames.Free(record.Gpa);
        Assert.Equal(record.Gpa, Frames.Allocate(FrameOwner.DmaBuffer, ownerId: 1));
    }

    public DmaTranslation Translate(DeviceSlot device, ulong iova, AccessKind access = AccessKind.Read, bool replay = false) =>
        Translator.Translate(device, iova, access, Context(device, replay));

    public Violation? Access(DeviceSlot device, in DmaTranslation t, bool replay = false) =>
        Oracle.CheckAccess(t, Context(device, replay));
}
