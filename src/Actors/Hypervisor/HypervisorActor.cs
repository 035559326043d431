using Akka.Actor;
using Akka.Event;
using HvIommu.Actors.FlushHandler;
using HvIommu.Actors.Metrics;
using HvIommu.Actors.Protocol;
using HvIommu.Actors.Simulation;
using HvIommu.Model.Driver;
using HvIommu.Model.Hypercalls;
using HvIommu.Model.Randomness;
using HvIommu.Actors.Logging;

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
    private readonly EnvironmentChoices _faults;
    private readonly MessageTally _tally;
    private readonly SimLogger _log;
    private readonly Dictionary<HypercallCode, int> _occurrences = new();

    public HypervisorActor(SimWorld world, IActorRef flushHandler)
    {
        _world = world;
        _log = new SimLogger(Context, world.Clock);
        _flushHandler = flushHandler;
        _faults = new EnvironmentChoices(world.Random.Derive("hypervisor/faults"), world.Choices);
        _tally = new MessageTally(world.Counters);
        Receive<Hypercall>(Handle);
    }

    public static Props Props(SimWorld world, IActorRef flushHandler, string dispatcher) =>
        SimProps.Of(() => new HypervisorActor(world, flushHandler), dispatcher);

    protected override void PostStop() => _tally.Publish();

    private void Handle(Hypercall call)
    {
        _tally.Message();
        var code = call.Input.Code;
        // A guest can trap with any call code (brief §2.1); only the ABI's codes have a counter of their own.
        if (Enum.IsDefined(code))
            _world.Counters.AddHypercall(_world.Counters.HypercallId((ushort)code));
        else
            _world.Counters.Add(SimCounter.VmExits);
        var latency = _world.Settings.Hypervisor.Latency;
        _world.Costs.Charge(Model.Costs.CostKind.VmExit, latency.VmExitNs);
        _world.Costs.Charge(Model.Costs.CostKind.Hypercall, latency.HypercallNs);
        _world.Costs.VcpuBusy(call.Vcpu, latency.VmExitNs + latency.HypercallNs);
        if (code is HypercallCode.FlushDeviceDomain or HypercallCode.FlushDeviceDomainList)
            _world.Costs.AddFlushNs(latency.VmExitNs + latency.HypercallNs);
        if (InjectedFault(code) is { } injected)
        {
            _log.Debug("Injected {Status} into {Hypercall} from vCPU {Vcpu}", injected.LinuxName(), code.LinuxName(), call.Vcpu);
            Reply(call, injected);
            return;
        }
        var host = _world.Host;
        switch (ReadInput(call))
        {
            case GetIommuCapabilitiesInput i:
                Reply(call, host.GetCapabilities(i, out var caps), caps);
                break;
            case GetLogicalDevicePropertyInput i:
                Reply(call, host.GetLogicalDeviceProperty(i, out var prop), prop);
                break;
            case CreateDeviceDomainInput i:
                Reply(call, host.CreateDomain(i));
                break;
            case ConfigureDeviceDomainInput i:
                Reply(call, host.ConfigureDomain(i));
                break;
            case AttachDeviceDomainInput i:
                Reply(call, host.Attach(i));
                break;
            case DetachDeviceDomainInput i:
                Reply(call, host.Detach(i));
                break;
            case DeleteDeviceDomainInput i:
                Reply(call, host.DeleteDomain(i));
                break;
            case FlushDeviceDomainInput i:
                Flush(call, i.Domain, null);
                break;
            case FlushDeviceDomainListInput i:
                foreach (var entry in i.IovaList)
                {
                    if (!entry.IsValid(out _))
                    {
                        Reply(call, HvStatus.InvalidParameter);
                        return;
                    }
                }
                Flush(call, i.Domain, i.IovaList);
                break;
            default:
                Reply(call, HvStatus.InvalidHypercallCode);
                break;
        }
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

    private void Flush(Hypercall call, HvInputDeviceDomain domain, System.Collections.Immutable.ImmutableArray<FlushVa>? blocks)
    {
        var status = _world.Host.CheckFlushTarget(domain);
        if (status != HvStatus.Success)
            Reply(call, status);
        else
            _flushHandler.Tell(new ExecuteFlush(domain.DomainId.Id, blocks, call.Input.Code, call.ReplyTo, call.Vcpu));
    }

    private HvStatus? InjectedFault(HypercallCode code)
    {
        // lifecycle.fail-init-step: the n-th call of one code fails, deterministically (H16).
        if (InitUnwindPlan.HypercallOf(_world.Settings.Lifecycle.FailInitStep) is { } point && point.Call == code)
        {
            var seen = _occurrences[code] = _occurrences.GetValueOrDefault(code) + 1;
            if (seen == point.Occurrence)
                return InitUnwindPlan.FaultStatus(code);
        }
        foreach (var fault in _world.Settings.Faults)
            if (fault.Call == code && _faults.Chance(fault.Probability))
                return fault.Status;
        return null;
    }

    private void Reply(Hypercall call, HvStatus status, object? output = null)
    {
        var reply = new HypercallCompleted(call.Input.Code, status, status == HvStatus.Success ? output : null);
        _world.Trace?.HypercallReplied("hypervisor", call.Vcpu, call.ReplyTo, reply);
        call.ReplyTo.Tell(reply);
    }
}
