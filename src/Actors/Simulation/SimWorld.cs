using System.Collections.Immutable;
using HvIommu.Actors.Metrics;
using HvIommu.Model.Caches;
using HvIommu.Model.Driver;
using HvIommu.Model.Hypercalls;
using HvIommu.Model.Iommu;
using HvIommu.Model.Mappings;
using HvIommu.Model.Memory;
using HvIommu.Model.Oracle;
using HvIommu.Model.Randomness;
using HvIommu.Model.Settings;
using HvIommu.Model.Time;
using HvIommu.Model.Workload;
using HvIommu.Model.Text;
using HvIommu.Model.Ledger;

namespace HvIommu.Actors.Simulation;

/// <summary>
/// The shared state of one simulated VM, as in the real machine: guest memory and its allocator, the
/// host's stage 2 and IOMMU, the guest driver's domains, the oracle, and the run's counters. The actors
/// are the concurrent agents over it; everything here is thread-safe. Built from settings and the seed
/// alone, so the same seed builds the same world.
/// </summary>
public sealed class SimWorld
{
    /// <summary>The first guest frame the allocator hands out; below it lies what the guest kernel keeps.</summary>
    public const ulong AllocatorBaseGpa = 0x10_0000;

    /// <summary>Ids of the static domains: the driver's IDA starts at HV_DEVICE_DOMAIN_ID_DEFAULT + 1 (brief §1.3).</summary>
    public const uint IdentityDomainId = DriverWorld.IdentityDomainId;
    public const uint BlockingDomainId = DriverWorld.BlockingDomainId;

    /// <param name="recordLatencies">False for explorers: schedules are many and short, and their latencies are virtual anyway.</param>
    /// <param name="trace">The run's causal trace; null (stress mode's default) records nothing.</param>
    /// <param name="previous">The world of the schedule before on the same deterministic system, which nothing uses any
    /// more: its resettable components (guest memory, the frame allocator, the IOMMU caches) are reset and reused instead
    /// of rebuilt; the world is the same as one built without it.</param>
    public SimWorld(SimSettings settings, ISimClock clock, bool recordLatencies = true, Tracing.SimTrace? trace = null, SimWorld? previous = null)
    {
        Trace = trace;
        MapLatency = new LatencyRecorder(recordLatencies);
        UnmapLatency = new LatencyRecorder(recordLatencies);
        FlushLatency = new LatencyRecorder(recordLatencies);
        DmaLatency = new LatencyRecorder(recordLatencies);
        TranslationCost = new LatencyRecorder(recordLatencies);
        Costs = new Model.Costs.CostLedger(settings.Vm.Vcpus);
        Settings = settings;
        Clock = clock;
        _stepNs = clock is Deterministic.VirtualTimeScheduler scheduler ? scheduler.Driver.QuantumNs : 0;
        Random = new SeededRandom(settings.Seed);
        // A replayed trace names guest-physical pages of its own (page cache, queues): they are guest memory below
        // the frames the allocator hands out, which start above the trace's highest GPA.
        var replayed = settings.Workload.Trace.Enabled ? FtraceCache.Get(settings.Workload.Trace.File) : null;
        var allocatorBase = Math.Max(AllocatorBaseGpa, AlignUp(replayed?.GpaTop ?? 0, 1UL << 21));
        // The hugetlb pools of a buffer-size mix lie above vm.memory-mib, naturally aligned (GuestMemory is sparse).
        var (huge2M, huge1G) = settings.Workload.HugePools(settings.Vm.Vcpus);
        var smallTop = allocatorBase - AllocatorBaseGpa + ((ulong)settings.Vm.MemoryMib << 20);
        var top = huge1G > 0 ? AlignUp(smallTop + ((ulong)huge2M << 21), 1UL << 30) + ((ulong)huge1G << 30)
            : huge2M > 0 ? AlignUp(smallTop, 1UL << 21) + ((ulong)huge2M << 21)
            : smallTop;
        // Each vCPU's hypercall input page (hyperv_pcpu_input_arg, allocated at boot) lies above the allocator's frames.
        HypercallInputPageBase = top;
        // Guest memory and its allocator are the world's largest parts: a schedule after another on the same topology
        // resets the previous ones (all frames zero and free, generation 0) instead of allocating them again.
        var memoryBytes = top + ((ulong)settings.Vm.Vcpus << GuestMemory.PageShift);
        var frames = (top - allocatorBase) >> GuestMemory.PageShift;
        if (previous is not null && previous.Memory.SizeBytes == memoryBytes && previous.Frames.BuiltWith(previous.Memory, allocatorBase, frames, huge2M, huge1G))
        {
            Memory = previous.Memory;
            Memory.Reset();
            Frames = previous.Frames;
            Frames.Reset();
        }
        else
        {
            Memory = new GuestMemory(memoryBytes);
            Frames = new FrameAllocator(Memory, allocatorBase, frames, huge2M, huge1G);
        }
        Stage2 = new Stage2(Memory.SizeBytes);
        Host = new HostIommu(Memory, Stage2, settings.Iommu, Random.Derive("host-iommu"), settings.Hypervisor.Behaviour, previous?.Host);
        Violations = new ViolationLog(settings.Run.MaxViolationsKept, settings.Run.LazyWindowIsViolation);
        _expectedKind = settings.Expect == Expectation.Violation && settings.ExpectKind is { } expected ? Enum.Parse<ViolationKind>(expected) : null;
        if (trace is not null)
            Violations.Observer = trace.Violation;
        // Which hazards are on is a function of the settings without the seed: the schedule after another of the same
        // settings takes the previous world's answer rather than evaluating every hazard knob again.
        var sameHazards = previous is not null && (previous.Settings with { Seed = settings.Seed }).Equals(settings);
        _hazardCauses = sameHazards ? previous!._hazardCauses : HazardCauses.From(settings);
        _attribution = sameHazards ? previous!._attribution : Model.Hazards.HazardRegistry.Attribution(settings);
        Mappings = new MappingLedger(Frames);
        Events.Subscribe(Mappings);
        Oracle = new DmaOracle(Mappings, Frames, Stage2, Violations, _hazardCauses, clock, _attribution);
        (IovaWidth, TableLevels) = TableDepth.For(settings);
        Oracle.TableDepthMismatch = TableDepth.HostLevels(TableDepth.PagingMode(TableLevels)) != TableLevels;
        Events.Subscribe(Oracle);
        if (trace is not null)
            Events.Subscribe(new Tracing.TraceEvents(trace));
        Counters = new SimCounters(HypercallNames);
        Events.Subscribe(new EventCounts(Counters));
        Translator = new IommuTranslator(Memory, Host, Frames, Mappings, Events, (1UL << IovaWidth) - 1);
        Budget = new OperationBudget(settings.Run.Ops);
        Watchdog = new HypercallWatchdog(settings.Vm.Vcpus);
        Domains = settings.Domains
            .Select((d, i) => new GuestDomain(d.Name, BlockingDomainId + 1 + (uint)i, settings.Vm.Vcpus, settings.Driver.FlushQueueEntries,
                settings.Driver.Hazards.BrokenFlushQueueCounter, settings.Driver.FlushQueueHz) { Lazy = settings.Driver.DmaMode == DmaMode.Lazy })
            .ToImmutableArray();
        DomainByName = Domains.ToImmutableDictionary(d => d.Name);
        Devices = settings.Devices.Select(CreateDevice).ToImmutableArray();
        foreach (var device in Devices)
            Host.AddDevice(device);
        DomainOfDevice = settings.Devices.Select(d => DomainByName[d.Domain]).ToImmutableArray();
        Managed = new bool[Devices.Length];
        Pci32BitWorkaround = Enumerable.Repeat(true, Devices.Length).ToArray();
        if (replayed is not null)
        {
            (TraceReplay, TraceDeviceIndex) = CreateTraceReplay(replayed);
            TraceOwnsDomain = !settings.Devices.Where((d, i) => i != TraceDeviceIndex && d.Domain == settings.Devices[TraceDeviceIndex].Domain).Any();
        }
        Driver = new DriverWorld
        {
            Settings = settings, Clock = clock, Memory = Memory, Frames = Frames, Host = Host, Mappings = Mappings, Causes = _hazardCauses, Events = Events,
            Costs = Costs, Budget = Budget, Domains = Domains, DomainByName = DomainByName, Devices = Devices,
            DomainOfDevice = DomainOfDevice, Managed = Managed, Pci32BitWorkaround = Pci32BitWorkaround, LiveIovas = LiveIovas,
            IovaWidth = IovaWidth, TableLevels = TableLevels, HypercallInputPageBase = HypercallInputPageBase, TraceReplay = TraceReplay, TraceDeviceIndex = TraceDeviceIndex,
            TraceOwnsDomain = TraceOwnsDomain, InitStepName = step => Configuration.ConfigWords.Name(Configuration.ConfigWords.InitStep, step),
        };
    }

    /// <summary>The guest's part of this world, as the driver engines of every vCPU see it.</summary>
    public DriverWorld Driver { get; }

    /// <summary>The trace workload's replay state, or null when the run replays no trace.</summary>
    public TraceReplay? TraceReplay { get; }

    /// <summary>The device the trace drives (-1 without a trace); the synthetic workload leaves it alone.</summary>
    public int TraceDeviceIndex { get; } = -1;

    /// <summary>True when the traced device's domain holds no other device (the trace alone uses its IOVA space and flush queues).</summary>
    public bool TraceOwnsDomain { get; }

    private (TraceReplay, int) CreateTraceReplay(FtraceTrace trace)
    {
        var t = Settings.Workload.Trace;
        var device = t.Device.Length == 0 ? 0 : Settings.Devices.Select(d => d.Name).ToList().IndexOf(t.Device);
        var domain = Settings.Devices[device].Domain;
        var shared = Settings.Devices.Where((d, i) => i != device && d.Domain == domain).Any();
        var replay = new TraceReplay(trace, t.Ordering, 0, IovaWidth, Settings.Driver.DmaMode == DmaMode.Strict, shared);
        return (replay, device);
    }

    private static ulong AlignUp(ulong value, ulong alignment) => (value + alignment - 1) & ~(alignment - 1);

    public SimSettings Settings { get; }

    /// <summary>Per device, dev->iommu->pci_32bit_workaround (dma-iommu.c iommu_dma_alloc_iova): set at probe for a
    /// PCI device, cleared the first time the 32-bit IOVA space has no room for it.</summary>
    public bool[] Pci32BitWorkaround { get; }

    /// <summary>IOVAs (domain, first PFN) the synthetic workload allocated and has neither freed nor put on a flush
    /// queue yet: what the teardown's IOVA accounting counts as held by a live mapping.</summary>
    public System.Collections.Concurrent.ConcurrentDictionary<(uint Domain, ulong Pfn), byte> LiveIovas { get; } = new();

    /// <summary>The synthetic devices' DMA limit: a 64-bit DMA mask clamped to the domain aperture's last byte.</summary>
    public ulong DmaLimit => (1UL << IovaWidth) - 1;

    /// <summary>The causal trace, or null when this run records none (every event site checks).</summary>
    public Tracing.SimTrace? Trace { get; }
    public ISimClock Clock { get; }
    public SeededRandom Random { get; }

    /// <summary>Who makes the environment's open choices (a device's replays, injected failures, migrations):
    /// null in stress mode (each component's seeded generator draws them), the deterministic driver otherwise,
    /// so the exploration strategy makes them and the schedule records them.</summary>
    public IChoiceMaker? Choices { get; init; }

    /// <summary>True when a misbehaving device's replays are timed by the schedule (schedule version 3): a replay
    /// and the data phase of a replayed write each wait in the device's replay engine, an actor of their own,
    /// until the strategy runs it — so where a replay lands among the other actors' steps is a scheduling choice.
    /// False in stress mode and when replaying an older schedule, where the delay is drawn in device steps.</summary>
    public bool ScheduledReplays { get; init; }
    public GuestMemory Memory { get; }
    public FrameAllocator Frames { get; }
    public Stage2 Stage2 { get; }
    public HostIommu Host { get; }
    public ViolationLog Violations { get; }
    public DmaOracle Oracle { get; }

    /// <summary>The run's registry of mappings and their lifecycle, kept from <see cref="Events"/> (subscribed first):
    /// the driver registers mappings in it, the translator and the host's page migration look them up, the oracle
    /// judges uses of its records.</summary>
    public MappingLedger Mappings { get; }

    /// <summary>The run's one event stream (mappings written, cleared, released; flushes; walks): the oracle, the
    /// causal trace (when there is one) and the counters subscribe to it, in that order, after the ledger of mappings; the components emit to it
    /// instead of calling their observers.</summary>
    public Model.Events.SimEventStream Events { get; } = new();

    /// <summary>Numbers each domain's flushes as they start in the IOMMU (and emits FlushStarted).</summary>
    public FlushSequence Flushes { get; } = new();
    public IommuTranslator Translator { get; }
    public SimCounters Counters { get; }
    public OperationBudget Budget { get; }

    /// <summary>
    /// Stops starting operations once the run has found what it looks for (<c>run.stop-on-first-violation</c>):
    /// the first violation of the scenario's <c>expect-kind</c> when it names one — a violation of another kind is
    /// counted and kept, and the run goes on, as <c>explore</c> goes on past schedules of other kinds — else the
    /// first violation of any kind. Called by the components that find violations while the run goes on.
    /// </summary>
    public void StopIfAnswered()
    {
        if (!Settings.Run.StopOnFirstViolation)
            return;
        if (_expectedKind is { } kind ? Violations.Count(kind) > 0 : Violations.Total > 0)
            Budget.Stop();
    }

    private readonly ViolationKind? _expectedKind;
    private readonly HazardCauses _hazardCauses;
    private readonly Func<ViolationKind, string> _attribution;
    public HypercallWatchdog Watchdog { get; }

    /// <summary>Why guest init failed, or null (it succeeded or has not run); set by vCPU 0.</summary>
    public string? InitFailure { get; set; }

    /// <summary>
    /// Whether the configuration asked for an init failure: <c>lifecycle.fail-init-step</c>, or a fault on a
    /// hypercall init makes (capabilities, create, configure, device property, attach). An init failure nobody
    /// asked for means the run tested nothing (a capability missing, say) and must not pass as clean.
    /// </summary>
    public bool InitFailureInjected =>
        Settings.Lifecycle.FailInitStep != InitStep.None
        || Settings.Faults.Any(f => f.Call is HypercallCode.GetIommuCapabilities or HypercallCode.CreateDeviceDomain
            or HypercallCode.ConfigureDeviceDomain or HypercallCode.GetLogicalDeviceProperty or HypercallCode.AttachDeviceDomain);

    /// <summary>
    /// For a run expected clean: why it did not test what it was asked to (init failed for a reason the
    /// configuration did not inject; no operation asked for and no workload trace; the operation budget was not spent because the duration or the step
    /// budget stopped it early), or null when it did.
    /// </summary>
    public string? DidNotRun()
    {
        if (InitFailure is { } why)
            return InitFailureInjected ? null : $"guest init failed ({why}) although the configuration injected no init failure: no DMA was tested";
        // Every device refused at probe (-ENODEV, or GET_LOGICAL_DEVICE_PROPERTY failed): the workload had no device to
        // map for, so no operation ran — an injected fault on that init hypercall unwinding cleanly is what it tests.
        if (Violations.Total == 0 && Budget.Completed == 0 && Budget.Total > 0 && Managed.Length > 0 && !Managed.Contains(true))
            return Settings.Faults.Any(f => f.Call == HypercallCode.GetLogicalDeviceProperty) ? null
                : "the pvIOMMU managed none of the devices (every probe refused it) although the configuration injected no fault on GetLogicalDeviceProperty: no DMA was tested";
        // No operation asked for and no workload trace: init and teardown ran, but not one DMA.
        if (Violations.Total == 0 && Budget.Total == 0 && TraceReplay is null)
            return "run.ops = 0 and no workload trace: only init and teardown ran, no DMA was tested";
        if (Violations.Total == 0 && Budget.Completed < Budget.Total)
            return $"only {Budget.Completed:N0} of {Counted.Of(Budget.Total, "operation")} completed (the run was stopped early by its duration or step budget)";
        return null;
    }

    /// <summary>GPA of the first vCPU's hypercall input page; vCPU n's is n pages above (guest memory, outside the frame allocator).</summary>
    public ulong HypercallInputPageBase { get; }

    /// <summary>GPA of <paramref name="vcpu"/>'s hypercall input page (hyperv_pcpu_input_arg).</summary>
    public ulong HypercallInputPage(int vcpu) => Driver.HypercallInputPage(vcpu);

    /// <summary>IOVA width the driver uses: the capability, clamped to 48 bits for 4-level tables (brief §1.3 step 4).</summary>
    public int IovaWidth { get; }

    /// <summary>Levels of every paging domain's stage-1 table (3 only with driver.table-depth = from-width, H15).</summary>
    public int TableLevels { get; }

    public ImmutableArray<GuestDomain> Domains { get; }
    public ImmutableDictionary<string, GuestDomain> DomainByName { get; }

    /// <summary>The assigned devices, in topology order; <see cref="DomainOfDevice"/> is parallel to it.</summary>
    public ImmutableArray<DeviceSlot> Devices { get; }
    public ImmutableArray<GuestDomain> DomainOfDevice { get; }

    /// <summary>Devices the pvIOMMU manages (HV_DEVICE_IOMMU_ENABLED, brief §1.6), set by the driver's probe.</summary>
    public bool[] Managed { get; private set; } = [];

    public LatencyRecorder MapLatency { get; }
    public LatencyRecorder UnmapLatency { get; }
    public LatencyRecorder FlushLatency { get; }
    public LatencyRecorder DmaLatency { get; }

    /// <summary>The cost model: every modelled event's simulated nanoseconds (hviommu.hypervisor.latency).</summary>
    public Model.Costs.CostLedger Costs { get; }

    /// <summary>Simulated DMA translation latency per translation (the cost model's, not the wall clock's).</summary>
    public LatencyRecorder TranslationCost { get; }

    /// <summary>IOTLB entries of still-mapped IOVAs that flushes dropped (the cost of a coarse flush).</summary>
    public long CollateralInvalidations => Interlocked.Read(ref _collateral);

    private long _collateral;

    /// <summary>Counts an IOTLB entry a flush drops when its mapping is still live (pass to the invalidation).</summary>
    public void CountIfCollateral(Model.Caches.IotlbEntry entry)
    {
        if (entry.Mapping is { State: MappingState.Mapped })
            Interlocked.Increment(ref _collateral);
    }

    /// <summary>Sum of the modelled costs (VM exits, flush handling, walks, transfers) in simulated ns.</summary>
    public long ModelledNs => Costs.TotalNs;

    /// <summary>
    /// Records on <paramref name="recorder"/> how long an operation begun at <paramref name="startNs"/> took on
    /// <see cref="Clock"/>. Deterministic mode's clock is the scheduler's (100 ns per delivered message, advanced before
    /// the message runs), so the message that started the operation is counted too: one finished within it (a map with
    /// no VM exit) reads one step, 100 ns, not a 1 ns that looks measured. Stress mode's is the wall clock.
    /// </summary>
    public void RecordLatency(LatencyRecorder recorder, long startNs) => recorder.Record(Clock.NowNs - startNs + _stepNs);

    private readonly long _stepNs;

    public IReadOnlyDictionary<string, LatencyRecorder> Latencies => new Dictionary<string, LatencyRecorder>
    {
        ["map"] = MapLatency,
        ["unmap"] = UnmapLatency,
        ["flushHypercall"] = FlushLatency,
        ["dma"] = DmaLatency,
    };

    /// <summary>
    /// Reports every hypercall outstanding for at least <paramref name="timeoutNs"/> as HypercallHung (once each)
    /// and stops starting operations; returns what is stuck, or null. Stress mode asks with the hang timeout
    /// on wall time; deterministic mode asks with 0 once the schedule has nothing left to run.
    /// </summary>
    public string? ReportHungHypercalls(long timeoutNs)
    {
        var overdue = Watchdog.Overdue(Clock.NowNs, timeoutNs);
        foreach (var (vcpu, input) in overdue)
        {
            var domain = input switch
            {
                FlushDeviceDomainInput f => f.Domain.DomainId.Id,
                FlushDeviceDomainListInput l => l.Domain.DomainId.Id,
                _ => 0u,
            };
            Events.On(Model.Events.SimEvent.HypercallHung("vcpu" + vcpu, input.Code, domain, Clock.NowNs));
        }
        if (overdue.Count == 0)
            return null;
        Budget.Stop();
        return $"stopped: {string.Join(", ", overdue.Select(o => $"vcpu{o.Vcpu} stuck in {o.Input.Code}"))}";
    }

    /// <summary>Cache statistics of every device's ATC, summed.</summary>
    public CacheStats AtcStats => Devices.Where(d => d.Atc is not null).Aggregate(CacheStats.Empty, (s, d) => s.Add(d.Atc!.Stats));

    private DeviceSlot CreateDevice(DeviceSpec spec, int index)
    {
        // Each device sits on a vPCI bus with a VMBus instance GUID: the configured one (devices[].vmbus-guid), else
        // one drawn from the seed; its logical id is built as hv_build_logical_dev_id does (brief §1.1). A drawn GUID
        // is redrawn on the (unlikely) H13 collision; configured GUIDs may alias on purpose.
        var random = Random.Derive("device/" + spec.Name);
        Guid guid;
        if (spec.VmbusGuid is { } configured)
            guid = configured;
        else
        {
            if (_usedIds.Count == 0)
                _usedIds.UnionWith(Settings.Devices.Where(d => d.VmbusGuid is not null).Select(d => LogicalDeviceId.BuildLogicalDeviceId(d.VmbusGuid!.Value, 0)));
            Span<byte> bytes = stackalloc byte[16];
            do
            {
                for (var i = 0; i < 16; i += 8)
                    BitConverter.TryWriteBytes(bytes[i..], random.NextUInt64());
                guid = new Guid(bytes);
            }
            while (_usedIds.Contains(LogicalDeviceId.BuildLogicalDeviceId(guid, 0)));
        }
        var id = LogicalDeviceId.BuildLogicalDeviceId(guid, 0);
        _usedIds.Add(id);
        var ats = spec.Ats && ((IommuCapabilities)Settings.Iommu.CapabilityBits).HasFlag(IommuCapabilities.Ats);
        var atc = ats ? new DeviceTlb(Settings.Iommu.AtcEntries, random.Derive("atc")) : null;
        return new DeviceSlot(spec.Name, id, iommuEnabled: true, atc, guid);
    }

    private readonly HashSet<ulong> _usedIds = new();

    // Every hypercall code with its name, formatted once per process rather than once per world (an explorer builds a world per schedule).
    private static readonly (ushort Code, string Name)[] HypercallNames = Enum.GetValues<HypercallCode>().Select(c => ((ushort)c, c.ToString())).ToArray();
}
