using System.Collections.Immutable;
using Akka.Actor;
using Akka.Event;
using HvIommu.Actors.Hypervisor;
using HvIommu.Actors.Metrics;
using HvIommu.Actors.Protocol;
using HvIommu.Actors.Simulation;
using HvIommu.Model.Hypercalls;
using HvIommu.Model.Randomness;
using HvIommu.Actors.Logging;

namespace HvIommu.Actors.Vcpu;

/// <summary>
/// One guest vCPU running the pvIOMMU driver and the DMA API under it (brief §1, §5): init and teardown
/// (vCPU 0), and the workload — dma_map, program a device, take its completion, dma_unmap in strict or lazy
/// mode. A hypercall is a VM exit: the vCPU sends it to the hypervisor with itself as the reply address and
/// is "in hypercall" until the status message returns — the driver path waiting for it is a suspended
/// <see cref="GuestTask"/>, and guest work that arrives meanwhile (completions, timers) is stashed — so
/// exactly one hypercall per vCPU is outstanding and no other guest work runs on it, as on a real VM exit.
/// </summary>
internal sealed partial class VcpuActor : ReceiveActor, IWithUnboundedStash
{
    private readonly SimWorld _world;
    private readonly int _index;
    private readonly IActorRef _hypervisor;
    private readonly ImmutableArray<IActorRef> _devices;
    private readonly SeededRandom _random;
    private readonly MessageTally _tally;
    private readonly SimLogger _log;
    private Awaiting _awaiting;
    private readonly Dictionary<uint, ICancelable> _flushQueueTimers = new();
    private bool _timersCancelled;
    private GuestTask<HypercallCompleted>? _hypercall;

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
        Receive<HypercallCompleted>(Resume);
        Guest<InitializeGuest>(m => Run(InitializeAsync(m)));
        Guest<StartWorkload>(StartWorkload);
        Guest<StartNextOperation>(_ => StartOperation());
        Guest<ContinueMap>(ContinueStepwiseMap);
        Guest<ContinueFlushQueueInit>(_ => ContinueFlushQueueInitStep());
        Guest<DmaCompleted>(m =>
        {
            if (m.DescriptorId == ProdDescriptorId && _awaiting == Awaiting.Prod)
                ResumeProd();
            else
                Run(CompleteOperationAsync(m));
        });
        Guest<TraceNext>(_ => Run(RunTraceEventAsync()));
        Guest<FlushQueueTimerFired>(m =>
        {
            // A fire queued or stashed before teardown cancelled the timers is dropped.
            if (!_timersCancelled)
                Run(FlushQueueTimeoutAsync(m));
        });
        Guest<StopFlushQueueTimers>(m =>
        {
            CancelTimers();
            m.ReplyTo.Tell(new FlushQueueTimersStopped(_index));
        });
        Guest<TeardownGuest>(m => Run(TeardownAsync(m)));
    }

    /// <summary>
    /// Arms the flush-queue timer of a domain on this vCPU (fq_timer, brief §5.3): a plain scheduled message to
    /// itself, not an Akka timer, because an Akka timer's message is dropped when it comes back from the stash
    /// (its TimerScheduler forgets a single timer once delivered), and a fire that lands during a VM exit is
    /// stashed like any other guest work.
    /// </summary>
    private void ArmFlushQueueTimer(uint domain, TimeSpan delay)
    {
        if (_timersCancelled)
            return;
        _flushQueueTimers[domain] = Context.System.Scheduler.ScheduleTellOnceCancelable(delay, Self, new FlushQueueTimerFired(domain), Self);
    }

    /// <summary>Cancels the flush-queue timers (teardown, stop); a fire already queued or stashed is then ignored.</summary>
    private void CancelTimers()
    {
        foreach (var timer in _flushQueueTimers.Values)
            timer.Cancel();
        _flushQueueTimers.Clear();
        _flushQueueInitTimer?.Cancel();
        _timersCancelled = true;
    }

    public IStash Stash { get; set; } = null!;

    private string Name { get; }

    public static Props Props(SimWorld world, int index, IActorRef hypervisor, ImmutableArray<IActorRef> devices, string dispatcher) =>
        SimProps.Of(() => new VcpuActor(world, index, hypervisor, devices), dispatcher);

    protected override void PostStop()
    {
        CancelTimers();
        _tally.Publish();
    }

    /// <summary>
    /// A hypercall: trap, wait for the status. The vCPU publishes that it is blocked so the run's
    /// watchdog — like the kernel's soft-lockup detector — can report a call that never returns
    /// (HypercallHung); the wait itself has no timeout, which keeps timers out of the hot path.
    /// The exit is counted under the guest <paramref name="path"/> that made it (the cost model's exits per unmap).
    /// </summary>
    private GuestTask<HypercallCompleted> HypercallAsync(IHypercallInput input, ExitPath path)
    {
        if (_awaiting != Awaiting.Nothing)
            throw new InvalidOperationException($"{Name} trapped with {input.Code} while still waiting for {_awaiting}");
        _world.Counters.Add(path.Counter());
        _world.Watchdog.Blocked(_index, input, _world.Clock.NowNs);
        var call = new Hypercall(input, _index, Self);
        _world.Trace?.HypercallSent(Name, call);
        _awaiting = Awaiting.Hypercall;
        _hypercall = new GuestTask<HypercallCompleted>();
        _hypervisor.Tell(call);
        return _hypercall;
    }

    /// <summary>The VM exit returns: guest work stashed meanwhile goes back to the mailbox's front, and the
    /// suspended driver path continues — possibly straight into its next hypercall.</summary>
    private void Resume(HypercallCompleted reply)
    {
        _tally.Message();
        if (_awaiting != Awaiting.Hypercall)
            throw new InvalidOperationException($"{Name} got {reply.Code} {reply.Status} with no hypercall outstanding");
        _world.Trace?.HypercallResumed(Name, Self, reply);
        _world.Watchdog.Resumed(_index);
        var waiting = _hypercall!;
        _hypercall = null;
        _awaiting = Awaiting.Nothing;
        Stash.UnstashAll();
        waiting.SetResult(reply);
    }

    /// <summary>Handles a guest message now, or stashes it while the vCPU waits (a VM exit, a device prod).</summary>
    private void Guest<T>(Action<T> handler) => Receive<T>(m =>
    {
        if (_awaiting != Awaiting.Nothing && !(m is DmaCompleted { DescriptorId: ProdDescriptorId } && _awaiting == Awaiting.Prod))
        {
            Stash.Stash();
            return;
        }
        _tally.Message();
        handler(m);
    });

    /// <summary>Starts a driver path; an exception it ends with (now or when it resumes) fails the actor.</summary>
    private static void Run(GuestTask task)
    {
        if (task.IsCompleted)
            task.ThrowIfFaulted();
        else
            task.OnCompleted(task.ThrowIfFaulted);
    }

    /// <summary>What the vCPU is blocked on: nothing, its hypercall, or (teardown only) a device's replay of recent DMA.</summary>
    private enum Awaiting { Nothing, Hypercall, Prod }
}
