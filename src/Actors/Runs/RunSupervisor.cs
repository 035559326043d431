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
/// The root of one run (docs/design.md §2): creates every simulation actor under itself on the configured
/// dispatcher, then sequences the run — guest init on vCPU 0, the workload on every vCPU, device
/// quiescing, teardown — and reports the outcome. Any actor crashing is a simulator failure (exit 3).
/// </summary>
internal sealed class RunSupervisor : ReceiveActor
{
    private readonly SimWorld _world;
    private readonly string _dispatcher;
    private readonly TaskCompletionSource<RunOutcome> _done;
    private readonly SimLogger _log;
    private ImmutableArray<IActorRef> _devices;
    private ImmutableArray<IActorRef> _vcpus;
    private int _idle;
    private int _quiesced;
    private int _timersStopped;
    private GuestInitCompleted? _init;

    public RunSupervisor(SimWorld world, string dispatcher, TaskCompletionSource<RunOutcome> done)
    {
        _world = world;
        _log = new SimLogger(Context, world.Clock);
        _dispatcher = dispatcher;
        _done = done;
        Receive<GuestInitCompleted>(InitCompleted);
        Receive<VcpuIdle>(_ => VcpuIdle());
        Receive<FlushQueueTimersStopped>(_ => TimersStopped());
        Receive<DeviceQuiesced>(_ => DeviceQuiesced());
        Receive<GuestTeardownCompleted>(m => _done.TrySetResult(new RunOutcome(_init?.Succeeded ?? false, _init?.Detail ?? "", m.Detail, null)));
    }

    public static Props Props(SimWorld world, string dispatcher, TaskCompletionSource<RunOutcome> done) =>
        SimProps.Of(() => new RunSupervisor(world, dispatcher, done), dispatcher);

    // Logged here once, with the run's clock (Akka's own failure log is off: it would repeat the stack trace).
    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(0, 0, Decider.From(e =>
    {
        _log.Error(e, "Simulation actor failed");
        _world.Budget.Stop();
        _done.TrySetResult(new RunOutcome(_init?.Succeeded ?? false, _init?.Detail ?? "", "", $"{e.GetType().Name}: {e.Message}"));
        return Directive.Stop;
    }), loggingEnabled: false);

    protected override void PreStart()
    {
        _devices = Enumerable.Range(0, _world.Devices.Length)
            .Select(i => Context.ActorOf(PciDeviceActor.Props(_world, i, _dispatcher), "device-" + _world.Devices[i].Name))
            .ToImmutableArray();
        var byName = _world.Devices.Select((d, i) => (d.Name, Ref: _devices[i])).ToDictionary(x => x.Name, x => x.Ref);
        var flushHandler = Context.ActorOf(FlushHandlerActor.Props(_world, byName, _dispatcher), "flush-handler");
        var hypervisor = Context.ActorOf(HypervisorActor.Props(_world, flushHandler, _dispatcher), "hypervisor");
        _vcpus = Enumerable.Range(0, _world.Settings.Vm.Vcpus)
            .Select(i => Context.ActorOf(VcpuActor.Props(_world, i, hypervisor, _devices, _dispatcher), "vcpu" + i))
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
