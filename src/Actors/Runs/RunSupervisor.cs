using System.Collections.Immutable;
using Akka.Actor;
using HvIommu.Actors.FlushHandler;
using HvIommu.Actors.Hypervisor;
using HvIommu.Actors.Logging;
using HvIommu.Actors.PciDevice;
using HvIommu.Actors.Simulation;
using HvIommu.Actors.Vcpu;

namespace HvIommu.Actors.Runs;

/// <summary>How a run ended, as the supervisor saw it.</summary>
public sealed record RunOutcome(bool InitSucceeded, string InitDetail, string TeardownDetail, string? SimulatorFailure);

/// <summary>
/// The world and completion of the schedule a run's actors serve. A deterministic explorer keeps one run's actors
/// across schedules of one topology and points this slot at each schedule's world before starting them again, so
/// the Props (kept by each actor's cell) build every actor from the current schedule's world.
/// </summary>
internal sealed class RunSlot(SimWorld world, TaskCompletionSource<RunOutcome> done)
{
    public SimWorld World { get; set; } = world;

    public TaskCompletionSource<RunOutcome> Done { get; set; } = done;
}

/// <summary>
/// The root of one run (docs/design.md §2): creates every simulation actor under itself on the configured
/// dispatcher, then sequences the run — guest init on vCPU 0, the workload on every vCPU, device
/// quiescing, teardown — and reports the outcome. Any actor crashing is a simulator failure (exit 3).
/// Started again on a kept topology (<see cref="SimProps.StartAgain"/>), it starts its existing children again in
/// the order it created them, and at <see cref="ScheduleEnded"/> tells each to publish what it would at its stop.
/// </summary>
internal sealed class RunSupervisor : ReceiveActor
{
    private readonly RunSlot _slot;
    private readonly SimWorld _world;
    private readonly string _dispatcher;
    private readonly TaskCompletionSource<RunOutcome> _done;
    private readonly SimLogger _log;
    private ImmutableArray<IActorRef> _devices;
    private ImmutableArray<IActorRef> _vcpus;
    private IActorRef _flushHandler = ActorRefs.Nobody;
    private IActorRef _hypervisor = ActorRefs.Nobody;
    private int _idle;
    private int _quiesced;
    private int _timersStopped;
    private GuestInitCompleted? _init;

    public RunSupervisor(RunSlot slot, string dispatcher)
    {
        _slot = slot;
        _world = slot.World;
        _log = new SimLogger(Context, _world.Clock);
        _dispatcher = dispatcher;
        _done = slot.Done;
        Receive<GuestInitCompleted>(InitCompleted);
        Receive<VcpuIdle>(_ => VcpuIdle());
        Receive<FlushQueueTimersStopped>(_ => TimersStopped());
        Receive<DeviceQuiesced>(_ => DeviceQuiesced());
        Receive<GuestTeardownCompleted>(m => _done.TrySetResult(new RunOutcome(_init?.Succeeded ?? false, _init?.Detail ?? "", m.Detail, null)));
        Receive<ScheduleEnded>(m =>
        {
            foreach (var child in _devices.Concat([_flushHandler, _hypervisor]).Concat(_vcpus))
                child.Tell(m);
        });
    }

    public static Props Props(SimWorld world, string dispatcher, TaskCompletionSource<RunOutcome> done) =>
        Props(new RunSlot(world, done), dispatcher);

    public static Props Props(RunSlot slot, string dispatcher) => SimProps.Of(() => new RunSupervisor(slot, dispatcher), dispatcher);

    // Logged here once, with the run's clock (Akka's own failure log is off: it would repeat the stack trace).
    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(0, 0, Decider.From(e =>
    {
        _log.Error(e, "Simulation actor failed");
        _world.Budget.Stop();
        _done.TrySetResult(new RunOutcome(_init?.Succeeded ?? false, _init?.Detail ?? "", "", $"{e.GetType().Name}: {e.Message}"));
        return Directive.Stop;
    }), loggingEnabled: false);

    // Each child is created (or, kept from the schedule before, started again) in this order: the order in which the
    // deterministic driver first sees them, so their ordinals, is the same either way. Their Props read the slot's
    // world when they build an actor, so a kept child's Props serve every schedule.
    protected override void PreStart()
    {
        var slot = _slot;
        Func<SimWorld> world = () => slot.World;
        _devices = Enumerable.Range(0, _world.Devices.Length)
            .Select(i => SimProps.StartOrCreate(Context, "device-" + _world.Devices[i].Name, () => PciDeviceActor.Props(world, i, _dispatcher)))
            .ToImmutableArray();
        var byName = _world.Devices.Select((d, i) => (d.Name, Ref: _devices[i])).ToDictionary(x => x.Name, x => x.Ref);
        var flushHandler = _flushHandler = SimProps.StartOrCreate(Context, "flush-handler", () => FlushHandlerActor.Props(world, byName, _dispatcher));
        var hypervisor = _hypervisor = SimProps.StartOrCreate(Context, "hypervisor", () => HypervisorActor.Props(world, flushHandler, _dispatcher));
        var devices = _devices;
        _vcpus = Enumerable.Range(0, _world.Settings.Vm.Vcpus)
            .Select(i => SimProps.StartOrCreate(Context, "vcpu" + i, () => VcpuActor.Props(world, i, hypervisor, devices, _dispatcher)))
            .ToImmutableArray();
        _vcpus[0].Tell(new InitializeGuest(Self));
    }

    private void InitCompleted(GuestInitCompleted m)
    {
        _init = m;
        if (m.Succeeded)
            foreach (var v in _vcpus)
                v.Tell(new StartWorkload(Self));
        else
            _vcpus[0].Tell(new TeardownGuest(Self));
    }

    // Every vCPU's flush-queue timers are stopped (and a running timeout finished) before teardown, as
    // iommu_dma_free_fq stops fq_timer synchronously: a timeout of another vCPU must not reap its queues into the
    // IOVA caches while vCPU 0 accounts for every IOVA and frees the queues.
    private void VcpuIdle()
    {
        if (++_idle < _vcpus.Length)
            return;
        foreach (var v in _vcpus)
            v.Tell(new StopFlushQueueTimers(Self));
    }

    private void TimersStopped()
    {
        if (++_timersStopped < _vcpus.Length)
            return;
        foreach (var d in _devices)
            d.Tell(new Quiesce(Self));
    }

    private void DeviceQuiesced()
    {
        if (++_quiesced == _devices.Length)
            _vcpus[0].Tell(new TeardownGuest(Self));
    }
}
