using System.Collections.Immutable;
using Akka.Actor;
using Akka.Dispatch;
using HvIommu.Actors.Logging;
using HvIommu.Actors.PciDevice;
using HvIommu.Actors.Simulation;
using HvIommu.Actors.VmExit;
using HvIommu.Model.Driver;

namespace HvIommu.Actors.Vcpu;

/// <summary>
/// One guest vCPU running the pvIOMMU driver and the DMA API under it (brief §1, §5), as an interpreter over the
/// vCPU's driver engines: <see cref="LifecycleEngine"/> (init and teardown on vCPU 0, domain switch, sysfs switch to
/// DMA-FQ) and <see cref="DmaApiEngine"/> (map, strict and lazy unmap, flush queues, trace replay). Each guest message
/// calls one engine entry point; the engines reach the world through the vCPU's <see cref="VcpuGuestPort"/>, whose
/// effects are this actor's messages. A hypercall is a VM exit: the vCPU sends it to the hypervisor with itself as the reply address
/// and is "in hypercall" until the status message returns — the engine's path waiting for it is a suspended
/// <see cref="GuestTask"/>, and guest work that arrives meanwhile (completions, timers) is stashed — so exactly one
/// hypercall per vCPU is outstanding and no other guest work runs on it, as on a real VM exit.
/// </summary>
internal sealed class VcpuActor : ReceiveActor, IRequiresMessageQueue<IUnboundedDequeBasedMessageQueueSemantics>
{
    private readonly int _index;
    private readonly MessageTally _tally;
    private readonly GuestCpu _cpu;
    private readonly LifecycleEngine _lifecycle;
    private readonly DmaApiEngine _dma;
    private readonly VmExitState _exit;
    private readonly VcpuGuestPort _port;
    private readonly VcpuHeldWork _held;

    public VcpuActor(SimWorld world, int index, IActorRef hypervisor, ImmutableArray<IActorRef> devices)
    {
        var name = "vcpu" + index;
        _index = index;
        _tally = new MessageTally(world.Counters);
        _exit = new VmExitState(world.Settings.Driver.Hazards.HypercallInputIrqsOn);
        _held = new VcpuHeldWork(Context);
        _port = new VcpuGuestPort(world, index, name, Self, hypervisor, devices, Context.System.Scheduler, _exit, _held);
        _cpu = new GuestCpu(index, world.Driver, _port, new VcpuTelemetry(world, name, new SimLogger(Context, world.Clock)));
        _lifecycle = new LifecycleEngine(_cpu);
        _dma = new DmaApiEngine(_cpu, world.Random.Derive("vcpu/" + index), _lifecycle);
        Receive<HypercallCompleted>(m =>
        {
            _tally.Message();
            _port.Resume(m);
        });
        Receive<TrapHypercall>(_ => _port.TrapFilled());
        Guest<InitializeGuest>(m => Run(InitializeAsync(m)));
        Guest<StartWorkload>(m =>
        {
            _port.Supervisor = m.ReplyTo;
            _dma.StartWorkload();
        });
        Guest<StartNextOperation>(_ => Run(_dma.StartOperation()));
        Guest<ContinueMap>(m => Run(_dma.ContinueMap(m.DescriptorId)));
        Guest<ContinueFlushQueueInit>(_ => _lifecycle.ContinueFlushQueueInit());
        Guest<DmaCompleted>(m =>
        {
            if (m.DescriptorId == VcpuGuestPort.ProdDescriptorId && _exit.ProdAnswered())
                _port.ResumeProd();
            else
                Run(_dma.CompleteAsync(m.DescriptorId));
        });
        Guest<TraceNext>(_ => Run(_dma.TraceNextAsync()));
        Guest<FlushQueueTimerFired>(m => Run(_dma.FlushQueueTimerFiredAsync(m.Domain)));
        Guest<StopFlushQueueTimers>(m =>
        {
            _cpu.StopTimers();
            m.ReplyTo.Tell(new FlushQueueTimersStopped(_index));
        });
        Guest<TeardownGuest>(m => Run(TeardownAsync(m)));
        Receive<ScheduleEnded>(_ => PostStop());
    }

    public static Props Props(SimWorld world, int index, IActorRef hypervisor, ImmutableArray<IActorRef> devices, string dispatcher) =>
        Props(() => world, index, hypervisor, devices, dispatcher);

    /// <summary>Props that build the vCPU from the world <paramref name="world"/> returns then (a kept topology's current schedule).</summary>
    public static Props Props(Func<SimWorld> world, int index, IActorRef hypervisor, ImmutableArray<IActorRef> devices, string dispatcher) =>
        SimProps.Of(() => new VcpuActor(world(), index, hypervisor, devices), dispatcher);

    // Also at ScheduleEnded (a kept topology): both steps are idempotent (timers already stopped, tally emptied).
    protected override void PostStop()
    {
        _cpu.StopTimers();
        _tally.Publish();
    }

    private async GuestTask InitializeAsync(InitializeGuest m)
    {
        var (succeeded, detail) = await _lifecycle.InitializeAsync();
        m.ReplyTo.Tell(new GuestInitCompleted(succeeded, detail));
    }

    private async GuestTask TeardownAsync(TeardownGuest m) =>
        m.ReplyTo.Tell(new GuestTeardownCompleted(await _lifecycle.TeardownAsync()));

    /// <summary>Handles a guest message now, stashes it while the vCPU is blocked (a VM exit, a device prod), or runs
    /// it as an interrupt in H17's window, as <see cref="VmExitState.OnGuestWork"/> decides.</summary>
    private void Guest<T>(Action<T> handler) => Receive<T>(m =>
    {
        var kind = m switch
        {
            DmaCompleted { DescriptorId: VcpuGuestPort.ProdDescriptorId } => GuestWork.ProdAnswer,
            DmaCompleted or FlushQueueTimerFired => GuestWork.Interrupt,
            _ => GuestWork.Work,
        };
        switch (_exit.OnGuestWork(kind))
        {
            case GuestWorkAction.Stash:
                _held.HoldCurrent();
                return;
            case GuestWorkAction.RunInterrupt:
                _tally.Message();
                _port.RunInterrupt(m is DmaCompleted d ? _dma.CompleteAsync(d.DescriptorId) : _dma.FlushQueueTimerFiredAsync(((FlushQueueTimerFired)(object)m!).Domain));
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
            task.RethrowFaults();
    }
}
