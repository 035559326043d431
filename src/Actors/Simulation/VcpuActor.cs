using System.Collections.Immutable;
using Akka.Actor;
using Akka.Event;
using HvIommu.Model.Hypercalls;
using HvIommu.Model.Randomness;

namespace HvIommu.Actors.Simulation;

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
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private bool _hung;

    public VcpuActor(SimWorld world, int index, IActorRef hypervisor, ImmutableArray<IActorRef> devices)
    {
        _world = world;
        _index = index;
        _hypervisor = hypervisor;
        _devices = devices;
        _random = world.Random.Derive("vcpu/" + index);
        _tally = new MessageTally(world.Counters);
        Name = "vcpu" + index;
        ReceiveAsync<InitializeGuest>(m => Guarded(() => InitializeAsync(m)));
        Receive<StartWorkload>(StartWorkload);
        Receive<StartNextOperation>(_ => GuardedSync(StartOperation));
        Receive<ContinueMap>(m => GuardedSync(() => ContinueStepwiseMap(m)));
        ReceiveAsync<DmaCompleted>(m => Guarded(() => CompleteOperationAsync(m)));
        ReceiveAsync<FlushQueueTimerFired>(m => Guarded(() => FlushQueueTimeoutAsync(m)));
        ReceiveAsync<TeardownGuest>(m => Guarded(() => TeardownAsync(m)));
    }

    public ITimerScheduler Timers { get; set; } = null!;

    private string Name { get; }

    public static Props Props(SimWorld world, int index, IActorRef hypervisor, ImmutableArray<IActorRef> devices, string dispatcher) =>
        Akka.Actor.Props.Create(() => new VcpuActor(world, index, hypervisor, devices)).WithDispatcher(dispatcher);

    protected override void PostStop() => _tally.Publish();

    /// <summary>
    /// A hypercall: trap, wait for the status. A call that does not return within the hang timeout is
    /// reported as HypercallHung and leaves this vCPU stuck, as a real vCPU would be.
    /// </summary>
    private async Task<HypercallCompleted> HypercallAsync(IHypercallInput input)
    {
        try
        {
            return await _hypervisor.Ask<HypercallCompleted>(replyTo => new Hypercall(input, _index, replyTo), _world.Settings.Run.HangTimeout, CancellationToken.None);
        }
        catch (AskTimeoutException)
        {
            var domain = input switch
            {
                FlushDeviceDomainInput f => f.Domain.DomainId.Id,
                FlushDeviceDomainListInput l => l.Domain.DomainId.Id,
                _ => 0u,
            };
            _world.Oracle.ReportHung(Name, input.Code, domain, _world.Clock.NowNs);
            _world.Budget.Stop();
            throw new VcpuHungException();
        }
    }

    /// <summary>Runs one handler; a hung hypercall parks the vCPU for good (it answers nothing more).</summary>
    private void GuardedSync(Action handler)
    {
        _tally.Message();
        if (!_hung)
            handler();
    }

    private async Task Guarded(Func<Task> handler)
    {
        _tally.Message();
        if (_hung)
            return;
        try
        {
            await handler();
        }
        catch (VcpuHungException)
        {
            _hung = true;
            _log.Warning("{Vcpu} is stuck in a hypercall that never completed", Name);
            ReportIdleIfDone(force: true);
        }
    }

    private sealed class VcpuHungException : Exception;
}
