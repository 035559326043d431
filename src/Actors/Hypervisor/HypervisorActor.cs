using Akka.Actor;
using HvIommu.Actors.FlushHandler;
using HvIommu.Actors.Logging;
using HvIommu.Actors.Metrics;
using HvIommu.Actors.Simulation;
using HvIommu.Actors.VmExit;
using HvIommu.Model.Driver;
using HvIommu.Model.Events;
using HvIommu.Model.Hypercalls;
using HvIommu.Model.Iommu;
using HvIommu.Model.Randomness;
using HvIommu.Model.Metrics;

namespace HvIommu.Actors.Hypervisor;

/// <summary>
/// The Hyper-V hypervisor's pvIOMMU hypercall handlers (brief §2): each hypercall is a VM exit of the
/// calling vCPU, serviced against the host IOMMU model, answered with an HV_STATUS. Flushes are handed to
/// the flush handler, which completes them. Configured hypercall failures are injected here (H8, H16).
/// </summary>
internal sealed class HypervisorActor : ReceiveActor
{
    private readonly SimWorld _world;
    private readonly IActorRef _flushHandler;
    private readonly HypercallService _service;
    private readonly MessageTally _tally;
    private readonly SimLogger _log;

    public HypervisorActor(SimWorld world, IActorRef flushHandler)
    {
        _world = world;
        _log = new SimLogger(Context, world.Clock);
        _flushHandler = flushHandler;
        var failInit = InitUnwindPlan.HypercallOf(world.Settings.Lifecycle.FailInitStep) is { } point
            ? (point.Call, point.Occurrence, InitUnwindPlan.FaultStatus(point.Call))
            : ((HypercallCode, int, HvStatus)?)null;
        _service = new HypercallService(world.Host, failInit, world.Settings.Faults,
            new EnvironmentChoices(world.Random.Derive("hypervisor/faults"), world.Choices));
        _tally = new MessageTally(world.Counters);
        Receive<Hypercall>(Handle);
        Receive<ScheduleEnded>(_ => _tally.Publish());
    }

    public static Props Props(SimWorld world, IActorRef flushHandler, string dispatcher) => Props(() => world, flushHandler, dispatcher);

    /// <summary>Props that build the hypervisor from the world <paramref name="world"/> returns then (a kept topology's current schedule).</summary>
    public static Props Props(Func<SimWorld> world, IActorRef flushHandler, string dispatcher) =>
        SimProps.Of(() => new HypervisorActor(world(), flushHandler), dispatcher);

    protected override void PostStop() => _tally.Publish();

    private void Handle(Hypercall call)
    {
        _tally.Message();
        var code = call.Input.Code;
        _world.Events.On(SimEvent.HypercallTrapped(code, call.Vcpu, "hypervisor"));
        var latency = _world.Settings.Hypervisor.Latency;
        _world.Costs.Charge(Model.Costs.CostKind.VmExit, latency.VmExitNs);
        _world.Costs.Charge(Model.Costs.CostKind.Hypercall, latency.HypercallNs);
        _world.Costs.VcpuBusy(call.Vcpu, latency.VmExitNs + latency.HypercallNs);
        if (code is HypercallCode.FlushDeviceDomain or HypercallCode.FlushDeviceDomainList)
            _world.Costs.AddFlushNs(latency.VmExitNs + latency.HypercallNs);
        if (_service.InjectedFault(code) is { } injected)
        {
            _log.Debug("Injected {Status} into {Hypercall} from vCPU {Vcpu}", injected.LinuxName(), code.LinuxName(), call.Vcpu);
            Reply(call, injected);
            return;
        }
        var outcome = _service.Execute(ReadInput(call));
        if (outcome.FlushDomain is { } domain)
            _flushHandler.Tell(new ExecuteFlush(domain, outcome.Blocks, code, call.ReplyTo, call.Vcpu));
        else
            Reply(call, outcome.Status, outcome.Output);
    }

    /// <summary>The input the host executes: the page at the call's input GPA, decoded for its control word (brief
    /// §2.1); the message's own input when it names no page (actor tests). When the page no longer holds what the driver
    /// filled in — an interrupt refilled it before the trap (H17) — the call runs with the page's input and is counted.</summary>
    private IHypercallInput? ReadInput(Hypercall call)
    {
        if (call.InputGpa == 0)
            return call.Input;
        // Decoded in place: the call's own input unless the page holds another (no input record built per hypercall).
        var read = HypercallInputCodec.ReadInPlace(_world.Memory, call.InputGpa, call.Control, call.Input, out var replaced);
        if (replaced)
        {
            _world.Counters.Add(SimCounter.HypercallInputsReplaced, 1);
            _log.Warning("vCPU {Vcpu} trapped with {Code} for {Meant}, but its input page holds {Read} (the page was refilled before the trap)",
                call.Vcpu, call.Control.Code.LinuxName(), call.Input, read);
        }
        return read;
    }

    private void Reply(Hypercall call, HvStatus status, object? output = null)
    {
        var reply = new HypercallCompleted(call.Input.Code, status, status == HvStatus.Success ? output : null);
        _world.Trace?.HypercallReplied("hypervisor", call.Vcpu, call.ReplyTo, reply);
        call.ReplyTo.Tell(reply);
    }
}
