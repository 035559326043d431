using System.Collections.Concurrent;
using System.Collections.Immutable;
using HvIommu.Model.Costs;
using HvIommu.Model.Device;
using HvIommu.Model.Driver;
using HvIommu.Model.Events;
using HvIommu.Model.Hypercalls;
using HvIommu.Model.Iommu;
using HvIommu.Model.Mappings;
using HvIommu.Model.Memory;
using HvIommu.Model.Oracle;
using HvIommu.Model.PageTables;
using HvIommu.Model.Randomness;
using HvIommu.Model.Settings;
using HvIommu.Model.Tests.Iommu;
using HvIommu.Model.Time;
using HvIommu.Model.Workload;
using HvIommu.Model.Metrics;
using HvIommu.Model.Ledger;

namespace HvIommu.Model.Tests.Driver;

/// <summary>
/// One guest vCPU's driver engines (<see cref="DmaApiEngine"/>, <see cref="LifecycleEngine"/>) over a real guest
/// memory, frame allocator, paging domain and oracle, with a <see cref="FakePort"/> for the world outside: a test
/// sees every hypercall the engines make and answers it when it chooses, as the hypervisor would.
/// </summary>
internal sealed class DriverEngineRig
{
    public const uint DomainId = 3;

    /// <summary>vCPU 0's hypercall input page: below the frame allocator's frames.</summary>
    public const ulong InputPageGpa = 8UL << 20;

    public DriverEngineRig(DmaMode mode = DmaMode.Strict, DriverHazards? hazards = null, int flushQueueEntries = 64, long ops = 100,
        LifecycleSettings? lifecycle = null, bool withTable = true, FlushFailurePolicy onFlushFailure = FlushFailurePolicy.Log)
    {
        var memory = new GuestMemory(64UL << 20);
        var frames = new FrameAllocator(memory, 16UL << 20, 4096);
        var stage2 = new Stage2(memory.SizeBytes);
        Settings = new SimSettings(1, RunMode.Deterministic, Expectation.Clean, null, "rig", "", "",
            new RunSettings(ops, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(1), 16, false, false, ""),
            new VmSettings(64, 1),
            IommuRig.DefaultSettings with { PageSizeBitmap = 1UL << 12 },
            new DriverSettings(mode, TableDepthRule.TopLevel, FlushKind.Domain, flushQueueEntries, TimeSpan.FromMilliseconds(10),
                onFlushFailure, hazards ?? DriverHazards.None),
            new HypervisorSettings(new FlushHandlerSettings(FlushOrder.IotlbFirst, true, true, true), new LatencySettings(0, 0, 0, 0, 0, 0, 0),
                HostBehaviourSettings.Safe),
            [new DomainSpec("dom")], [new DeviceSpec("nic", "dom", false, 1, DeviceBehaviour.WellBehaved, 0)],
            new WorkloadSettings(1, 1, 64, 0.5, 1), [], lifecycle ?? LifecycleSettings.Safe);
        Domain = new GuestDomain("dom", DomainId, 1, flushQueueEntries) { Lazy = mode == DmaMode.Lazy };
        if (withTable)
            Domain.Table = new StageOnePageTable(memory, frames, 4, (int)DomainId, 48);
        var device = new DeviceSlot("nic", 0x100, iommuEnabled: true, atc: null);
        var host = new HostIommu(memory, stage2, Settings.Iommu, new SeededRandom(1));
        host.AddDevice(device);
        var events = new SimEventStream();
        var mappings = new MappingLedger(frames);
        Violations = new ViolationLog(16, false);
        var oracle = new DmaOracle(mappings, frames, stage2, Violations, clock: Clock);
        events.Subscribe(mappings);
        events.Subscribe(oracle);
        World = new DriverWorld
        {
            Settings = Settings, Clock = Clock, Memory = memory, Frames = frames, Host = host, Mappings = mappings, Causes = oracle.Causes, Events = events,
            Costs = new CostLedger(1), Budget = new OperationBudget(ops), Domains = [Domain],
            DomainByName = ImmutableDictionary<string, GuestDomain>.Empty.Add("dom", Domain), Devices = [device], DomainOfDevice = [Domain],
            Managed = [true], Pci32BitWorkaround = [true], LiveIovas = new ConcurrentDictionary<(uint, ulong), byte>(),
            IovaWidth = 48, TableLevels = 4, HypercallInputPageBase = InputPageGpa,
        };
        Cpu = new GuestCpu(0, World, Port, Telemetry);
        Lifecycle = new LifecycleEngine(Cpu);
        Dma = new DmaApiEngine(Cpu, new SeededRandom(7), Lifecycle);
    }

    public SimSettings Settings { get; }

    /// <summary>What the rig's oracle (subscribed to <see cref="DriverWorld.Events"/>) found.</summary>
    public ViolationLog Violations { get; }
    public TestClock Clock { get; } = new();
    public FakePort Port { get; } = new();
    public RecordingTelemetry Telemetry { get; } = new();
    public GuestDomain Domain { get; }
    public DriverWorld World { get; }
    public GuestCpu Cpu { get; }
    public LifecycleEngine Lifecycle { get; }
    public DmaApiEngine Dma { get; }

    /// <summary>dma_map of one buffer: returns the descriptor the device was programmed with.</summary>
    public DmaDescriptor Map()
    {
        var programmed = Port.Programmed.Count;
        Assert.True(Dma.StartOperation().IsCompleted);
        Assert.Equal(programmed + 1, Port.Programmed.Count);
        return Port.Programmed[^1].Descriptor;
    }

    /// <summary>True while the synthetic workload's IOVA for <paramref name="d"/> is neither freed nor queued.</summary>
    public bool IovaLive(DmaDescriptor d) => World.LiveIovas.ContainsKey((DomainId, d.Iova >> GuestMemory.PageShift));

    public int BuffersAllocated => World.Frames.CountOwnedBy(FrameOwner.DmaBuffer);
}

internal sealed class TestClock : ISimClock
{
    public long NowNs { get; set; }
}

/// <summary>The world outside the guest, recorded: each hypercall waits until the test answers it; at most one is
/// outstanding (a VM exit), as the vCPU actor enforces.</summary>
internal sealed class FakePort : IGuestPort
{
    private GuestTask<HypercallOutcome>? _outstanding;

    /// <summary>Every hypercall made, in order.</summary>
    public List<IHypercallInput> Calls { get; } = [];

    /// <summary>The control word each call trapped with, parallel to <see cref="Calls"/>.</summary>
    public List<HypercallControl> Controls { get; } = [];
    public List<(int Device, DmaDescriptor Descriptor)> Programmed { get; } = [];
    public List<(uint Domain, TimeSpan Delay)> TimersArmed { get; } = [];
    public List<string> Posted { get; } = [];
    public List<string> InitFailures { get; } = [];
    public int TimerCancels { get; private set; }
    public int IdleReports { get; private set; }

    /// <summary>The hypercall waiting for its status, or null.</summary>
    public IHypercallInput? Outstanding => _outstanding is null ? null : Calls[^1];

    public GuestTask<HypercallOutcome> Hypercall(IHypercallInput input, HypercallControl control, ExitPath path)
    {
        Assert.Null(_outstanding);
        Calls.Add(input);
        Controls.Add(control);
        return _outstanding = new GuestTask<HypercallOutcome>();
    }

    /// <summary>The hypervisor answers the outstanding call; the engine's path runs on until its next call (or its end).</summary>
    public void Answer(HvStatus status = HvStatus.Success, object? output = null)
    {
        var task = _outstanding ?? throw new InvalidOperationException("no hypercall is outstanding");
        _outstanding = null;
        task.SetResult(new HypercallOutcome(status, output));
    }

    /// <summary>Answers every call with success until none is outstanding.</summary>
    public void AnswerAll()
    {
        while (_outstanding is not null)
            Answer();
    }

    public void ProgramDma(int device, DmaDescriptor descriptor) => Programmed.Add((device, descriptor));
    public void SetRawGpaRing(int device, DmaDescriptor ring) => Posted.Add($"raw-gpa-ring {device}");

    public GuestTask ProdDevice(int device)
    {
        var task = new GuestTask<bool>();
        task.SetResult(true);
        return task;
    }

    public void ArmFlushQueueTimer(uint domain, TimeSpan delay) => TimersArmed.Add((domain, delay));
    public void CancelTimers() => TimerCancels++;
    public void PostStartNextOperation() => Posted.Add("start-next-operation");
    public void PostContinueMap(long descriptorId) => Posted.Add($"continue-map {descriptorId}");
    public void PostTraceNext() => Posted.Add("trace-next");
    public void PostContinueFlushQueueInit(long delayNs) => Posted.Add($"continue-fq-init {delayNs}");
    public void ReportIdle() => IdleReports++;
    public void InitFailed(string why) => InitFailures.Add(why);
}

/// <summary>Telemetry kept for assertions: counters summed, log events listed.</summary>
internal sealed class RecordingTelemetry : IDriverTelemetry
{
    public Dictionary<SimCounter, long> Counts { get; } = [];
    public List<(DriverLogLevel Level, string Template)> Logged { get; } = [];

    public void Count(SimCounter counter, long amount) => Counts[counter] = Counts.GetValueOrDefault(counter) + amount;
    public void RecordLatency(DriverLatency latency, long startNs) { }
    public bool Traces => false;
    public void Trace(DriverTraceKind kind, string name, string detail, IEnumerable<MappingRecord>? mappings = null) { }
    public void Log(DriverLogLevel level, string template, params object?[] args) => Logged.Add((level, template));
}
