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
        Receive<TrapHypercall>(_ => TrapFilled());
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
    /// A hypercall: fill this vCPU's input page, trap, wait for the status. The vCPU publishes that it is blocked so
    /// the run's watchdog — like the kernel's soft-lockup detector — can report a call that never returns
    /// (HypercallHung); the wait itself has no timeout, which keeps timers out of the hot path.
    /// The exit is counted under the guest <paramref name="path"/> that made it (the cost model's exits per unmap).
    /// The wrappers fill the page and trap under local_irq_save (brief §1.7), so nothing runs in between; with
    /// driver.hazards.hypercall-input-irqs-on (H17), outside interrupt context, the trap is a later message and
    /// interrupts already pending on the vCPU run first (<see cref="TrapFilled"/>).
    /// </summary>
    private GuestTask<HypercallCompleted> HypercallAsync(IHypercallInput input, ExitPath path)
    {
        if (_awaiting != Awaiting.Nothing)
            throw new InvalidOperationException($"{Name} trapped with {input.Code} while still waiting for {_awaiting}");
        var control = FillInputPage(input);
        var task = new GuestTask<HypercallCompleted>();
        if (_world.Settings.Driver.Hazards.HypercallInputIrqsOn && !_inInterrupt)
        {
            _filled = (input, path, control, task);
            _awaiting = Awaiting.IrqWindow;
            Self.Tell(TrapHypercall.Instance);
            return task;
        }
        Trap(input, path, control, task);
        return task;
    }

    /// <summary>Writes the input into this vCPU's page (hyperv_pcpu_input_arg) as the wrappers do: memset, then fields.</summary>
    private HypercallControl FillInputPage(IHypercallInput input)
    {
        Span<byte> bytes = stackalloc byte[HypercallInputCodec.PageBytes];
        var control = HypercallInputCodec.Write(input, bytes);
        var used = HypercallInputCodec.FixedBytes(input.Code) + 8 * control.RepCount;
        _world.Memory.Write(_world.HypercallInputPage(_index), bytes[..used]);
        return control;
    }

    /// <summary>The vmcall: the control word and the input page's GPA go to the hypervisor; the vCPU blocks.</summary>
    private void Trap(IHypercallInput input, ExitPath path, HypercallControl control, GuestTask<HypercallCompleted> task)
    {
        _world.Counters.Add(path.Counter());
        _world.Watchdog.Blocked(_index, input, _world.Clock.NowNs);
        var call = new Hypercall(input, _index, Self, control, _world.HypercallInputPage(_index));
        _world.Trace?.HypercallSent(Name, call);
        _awaiting = Awaiting.Hypercall;
        _hypercall = task;
        _hypervisor.Tell(call);
    }

    /// <summary>The hypercall filled with interrupts enabled traps now (H17); while an interrupt's own hypercall is
    /// outstanding it waits for that to return.</summary>
    private void TrapFilled()
    {
        if (_awaiting != Awaiting.IrqWindow)
        {
            Stash.Stash();
            return;
        }
        var (input, path, control, task) = _filled!.Value;
        _filled = null;
        _awaiting = Awaiting.Nothing;
        Trap(input, path, control, task);
    }

    /// <summary>An interrupt taken between filling the input page and the trap (H17): a DMA completion (its unmap)
    /// or the flush-queue timer runs to its end in interrupt context — its own wrappers trap at once — then the
    /// interrupted call goes on to its trap.</summary>
    private void RunInterrupt(GuestTask handler)
    {
        void End()
        {
            _inInterrupt = false;
            _awaiting = Awaiting.IrqWindow;
            handler.ThrowIfFaulted();
        }
        if (handler.IsCompleted)
            End();
        else
            handler.OnCompleted(End);
    }

    /// <summary>The interrupt a message stands for, started (H17's window), or null when it is no interrupt.</summary>
    private GuestTask? StartInterrupt(object m)
    {
        if (m is not (DmaCompleted { DescriptorId: not ProdDescriptorId } or FlushQueueTimerFired))
            return null;
        _awaiting = Awaiting.Nothing;
        _inInterrupt = true;
        _world.Counters.Add(SimCounter.InterruptsInHypercallWindow, 1);
        return m switch
        {
            DmaCompleted d => CompleteOperationAsync(d),
            FlushQueueTimerFired f when !_timersCancelled => FlushQueueTimeoutAsync(f),
            _ => GuestTask.Done,
        };
    }

    private (IHypercallInput Input, ExitPath Path, HypercallControl Control, GuestTask<HypercallCompleted> Task)? _filled;
    private bool _inInterrupt;

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
        if (_awaiting == Awaiting.IrqWindow && StartInterrupt(m!) is { } interrupt)
        {
            _tally.Message();
            RunInterrupt(interrupt);
            return;
        }
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

    /// <summary>What the vCPU is blocked on: nothing, its hypercall, (teardown only) a device's replay of recent DMA, or
    /// the trap of a hypercall whose input page it filled with interrupts enabled (H17).</summary>
    private enum Awaiting { Nothing, Hypercall, Prod, IrqWindow }
}
