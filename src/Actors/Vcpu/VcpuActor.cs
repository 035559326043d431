using System.Collections.Immutable;
using Akka.Actor;
using Akka.Event;
using HvIommu.Actors.Hypervisor;
using HvIommu.Actors.Metrics;
using HvIommu.Actors.PciDevice;
using HvIommu.Actors.Simulation;
using HvIommu.Model.Hypercalls;
using HvIommu.Model.Randomness;
using HvIommu.Actors.Logging;

namespace HvIommu.Actors.Vcpu;

/// <summary>
/// One guest vCPU running the pvIOMMU driver and the DMA API under it (brief §1, §5): init and teardown
/// (vCPU 0), and the workload — dma_map, program a device, take its completion, dma_unmap in strict or lazy
/// mode. A hypercall is a VM exit: the vCPU is blocked until its status returns (the handler awaits inside
/// <c>ReceiveAsync</c>, which suspends the mailbox), so no other guest work runs on it meanwhile.
/// </summary>
internal sealed partial class VcpuActor : ReceiveActor, IWithTimers
{
    private readonly SimWorld _world;
    private readonly int _index;
    private readonly IActorRef _hypervisor;
    private readonly ImmutableArray<IActorRef> _devices;
    private readonly SeededRandom _random;
    private readonly MessageTally _tally;
    private readonly SimLogger _log;

    public VcpuActor(SimWorld world, int index, IActorRef hypervisor, ImmutableArray<IActorRef> devices)
    {
        _world = world;
        _log = new SimLogger(Context, world.Clock);
        _index = index;
        _hypervisor = hypervisor;
        _devices = devices;
        _random = world.Random.Derive("vcpu/" + index);
        _tally = new MessageTally(world.Counters);
        Name = "vcpu" + index;
        ReceiveAsync<InitializeGuest>(m => Counted(() => InitializeAsync(m)));
        Receive<StartWorkload>(StartWorkload);
        Receive<StartNextOperation>(_ => CountedSync(StartOperation));
        Receive<ContinueMap>(m => CountedSync(() => ContinueStepwiseMap(m)));
        ReceiveAsync<DmaCompleted>(m => Counted(() => CompleteOperationAsync(m)));
        ReceiveAsync<TraceNext>(_ => Counted(RunTraceEventAsync));
        ReceiveAsync<FlushQueueTimerFired>(m => Counted(() => FlushQueueTimeoutAsync(m)));
        ReceiveAsync<TeardownGuest>(m => Counted(() => TeardownAsync(m)));
    }

    public ITimerScheduler Timers { get; set; } = null!;

    private string Name { get; }

    public static Props Props(SimWorld world, int index, IActorRef hypervisor, ImmutableArray<IActorRef> devices, string dispatcher) =>
        Akka.Actor.Props.Create(() => new VcpuActor(world, index, hypervisor, devices)).WithDispatcher(dispatcher);

    protected override void PostStop() => _tally.Publish();

    /// <summary>
    /// A hypercall: trap, wait for the status. The vCPU publishes that it is blocked so the run's
    /// watchdog — like the kernel's soft-lockup detector — can report a call that never returns
    /// (HypercallHung); the wait itself has no timeout, which keeps timers out of the hot path.
    /// The exit is counted under the guest <paramref name="path"/> that made it (the cost model's exits per unmap).
    /// </summary>
    private async Task<HypercallCompleted> HypercallAsync(IHypercallInput input, ExitPath path)
    {
        _world.Counters.Add(path.Counter());
        _world.Watchdog.Blocked(_index, input, _world.Clock.NowNs);
        // The reply goes to the ask's temporary actor: the trace pairs it with this call by that actor.
        IActorRef asked = ActorRefs.Nobody;
        var reply = await _hypervisor.Ask<HypercallCompleted>(replyTo =>
        {
            asked = replyTo;
            var call = new Hypercall(input, _index, replyTo);
            _world.Trace?.HypercallSent(Name, call);
            return call;
        }, null, CancellationToken.None);
        _world.Trace?.HypercallResumed(Name, asked, reply);
        _world.Watchdog.Resumed(_index);
        return reply;
    }

    private void CountedSync(Action handler)
    {
        _tally.Message();
        handler();
    }

    private Task Counted(Func<Task> handler)
    {
        _tally.Message();
        return handler();
    }
}
