using System.Collections.Immutable;
using Akka.Actor;
using HvIommu.Actors.Hypervisor;
using HvIommu.Actors.Metrics;
using HvIommu.Actors.PciDevice;
using HvIommu.Actors.Simulation;
using HvIommu.Actors.VmExit;
using HvIommu.Model.Device;
using HvIommu.Model.Driver;
using HvIommu.Model.Hypercalls;
using HvIommu.Model.Metrics;

namespace HvIommu.Actors.Vcpu;

/// <summary>
/// A vCPU's engines' <see cref="IGuestPort"/>: each effect is a message from the vCPU actor. A hypercall traps to the
/// hypervisor and blocks the vCPU (a VM exit, <see cref="VmExitState"/>) until the status returns; a device prod blocks
/// it the same way until the device's replays are done; timers and preemption points are messages to the vCPU itself.
/// The actor owns the mailbox: it hands the returns (<see cref="Resume"/>, <see cref="ResumeProd"/>,
/// <see cref="TrapFilled"/>) here, and this adapter holds guest work and puts it back in the mailbox through the
/// actor's <see cref="VcpuHeldWork"/> (its stash).
/// </summary>
internal sealed class VcpuGuestPort(
    SimWorld world,
    int index,
    string name,
    IActorRef self,
    IActorRef hypervisor,
    ImmutableArray<IActorRef> devices,
    IScheduler scheduler,
    VmExitState exit,
    VcpuHeldWork held) : IGuestPort
{
    /// <summary>The descriptor id of a device's answer to <see cref="ReplayRecent"/>.</summary>
    public const long ProdDescriptorId = -1;

    private readonly Dictionary<uint, ICancelable> _flushQueueTimers = new();
    private ICancelable? _flushQueueInitTimer;
    private GuestTask<HypercallOutcome>? _hypercall;
    private GuestTask<bool>? _prod;
    private (IHypercallInput Input, ExitPath Path, HypercallControl Control, GuestTask<HypercallOutcome> Task)? _filled;

    /// <summary>Where <see cref="IGuestPort.ReportIdle"/> goes: the sender of the workload's start.</summary>
    public IActorRef Supervisor { get; set; } = ActorRefs.Nobody;

    /// <summary>
    /// A hypercall whose input the guest has written to this vCPU's page: trap, wait for the status. The vCPU publishes
    /// that it is blocked so the run's watchdog — like the kernel's soft-lockup detector — can report a call that never
    /// returns (HypercallHung); the wait itself has no timeout, which keeps timers out of the hot path. The exit is
    /// counted under the guest <paramref name="path"/> that made it. With H17 (<see cref="VmExitState.Filled"/>) the trap
    /// is a later message, and interrupts already pending on the vCPU run first (<see cref="TrapFilled"/>).
    /// </summary>
    GuestTask<HypercallOutcome> IGuestPort.Hypercall(IHypercallInput input, HypercallControl control, ExitPath path)
    {
        var task = new GuestTask<HypercallOutcome>();
        if (exit.Filled(name, input.Code))
            Trap(input, path, control, task);
        else
        {
            _filled = (input, path, control, task);
            self.Tell(TrapHypercall.Instance);
        }
        return task;
    }

    /// <summary>The vmcall: the control word and the input page's GPA go to the hypervisor; the vCPU blocks.</summary>
    private void Trap(IHypercallInput input, ExitPath path, HypercallControl control, GuestTask<HypercallOutcome> task)
    {
        world.Counters.Add(path.Counter());
        world.Watchdog.Blocked(index, input, world.Clock.NowNs);
        var call = new Hypercall(input, index, self, control, world.HypercallInputPage(index));
        world.Trace?.HypercallSent(name, call);
        exit.Trapped();
        _hypercall = task;
        hypervisor.Tell(call);
    }

    /// <summary>The hypercall filled with interrupts enabled traps now (H17); while an interrupt's own hypercall is
    /// outstanding it waits for that to return.</summary>
    public void TrapFilled()
    {
        if (!exit.TrapDue())
        {
            held.HoldCurrent();
            return;
        }
        var (input, path, control, task) = _filled!.Value;
        _filled = null;
        Trap(input, path, control, task);
    }

    /// <summary>An interrupt taken between filling the input page and the trap (H17): a DMA completion (its unmap)
    /// or the flush-queue timer runs to its end in interrupt context — its own wrappers trap at once — then the
    /// interrupted call goes on to its trap.</summary>
    public void RunInterrupt(GuestTask handler)
    {
        world.Counters.Add(SimCounter.InterruptsInHypercallWindow, 1);
        void End()
        {
            exit.InterruptEnded();
            handler.ThrowIfFaulted();
        }
        if (handler.IsCompleted)
            End();
        else
            handler.OnCompleted(End);
    }

    /// <summary>The VM exit returns: guest work stashed meanwhile goes back to the mailbox's front, and the
    /// suspended driver path continues — possibly straight into its next hypercall.</summary>
    public void Resume(HypercallCompleted reply)
    {
        exit.Resumed(name, reply.Code, reply.Status);
        world.Trace?.HypercallResumed(name, self, reply);
        world.Watchdog.Resumed(index);
        var waiting = _hypercall!;
        _hypercall = null;
        held.ReturnAllToMailbox();
        waiting.SetResult(new HypercallOutcome(reply.Status, reply.Output));
    }

    /// <summary>The fault driver's prod: the device replays its recent descriptors; the vCPU blocks until it answers
    /// with descriptor −1.</summary>
    GuestTask IGuestPort.ProdDevice(int device)
    {
        exit.Prodding();
        _prod = new GuestTask<bool>();
        devices[device].Tell(new ReplayRecent(self));
        return _prod;
    }

    /// <summary>The prodded device finished its replays: continue the teardown.</summary>
    public void ResumeProd()
    {
        var waiting = _prod!;
        _prod = null;
        held.ReturnAllToMailbox();
        waiting.SetResult(true);
    }

    void IGuestPort.ProgramDma(int device, DmaDescriptor descriptor) => devices[device].Tell(new ProgramDma(descriptor, self));

    void IGuestPort.SetRawGpaRing(int device, DmaDescriptor ring) => devices[device].Tell(new SetRawGpaRing(ring));

    /// <summary>
    /// Arms the flush-queue timer of a domain on this vCPU (fq_timer, brief §5.3): a plain scheduled message to
    /// itself, not an Akka timer, because an Akka timer's message is dropped when it comes back from the stash
    /// (its TimerScheduler forgets a single timer once delivered), and a fire that lands during a VM exit is
    /// stashed like any other guest work.
    /// </summary>
    void IGuestPort.ArmFlushQueueTimer(uint domain, TimeSpan delay) =>
        _flushQueueTimers[domain] = scheduler.ScheduleTellOnceCancelable(delay, self, new FlushQueueTimerFired(domain), self);

    void IGuestPort.CancelTimers()
    {
        foreach (var timer in _flushQueueTimers.Values)
            timer.Cancel();
        _flushQueueTimers.Clear();
        _flushQueueInitTimer?.Cancel();
    }

    void IGuestPort.PostStartNextOperation() => self.Tell(StartNextOperation.Instance);

    void IGuestPort.PostContinueMap(long descriptorId) => self.Tell(new ContinueMap(descriptorId));

    void IGuestPort.PostTraceNext() => self.Tell(TraceNext.Instance);

    /// <summary>At once, or through the scheduler so timers due meanwhile (DMA completions) fire first.</summary>
    void IGuestPort.PostContinueFlushQueueInit(long delayNs)
    {
        if (delayNs == 0)
            self.Tell(ContinueFlushQueueInit.Instance);
        else
            _flushQueueInitTimer = scheduler.ScheduleTellOnceCancelable(TimeSpan.FromTicks(delayNs / 100), self, ContinueFlushQueueInit.Instance, self);
    }

    void IGuestPort.ReportIdle() => Supervisor.Tell(new VcpuIdle(index));

    void IGuestPort.InitFailed(string why) => world.InitFailure = why;
}
