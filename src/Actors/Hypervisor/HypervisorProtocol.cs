using Akka.Actor;
using HvIommu.Actors.Tracing;
using HvIommu.Model.Hypercalls;

namespace HvIommu.Actors.Hypervisor;

/// <summary>Messages of the hypervisor actor (brief §2): a vCPU traps with a hypercall and is blocked until the reply
/// (<see cref="VmExit.HypercallCompleted"/>).</summary>
public interface IHypervisorMessage;

/// <summary>A hypercall from <paramref name="Vcpu"/>; the status (and output, if any) goes to <paramref name="ReplyTo"/>.
/// <paramref name="Input"/> is what the guest's driver meant to call (traces, the hang watchdog). With an
/// <paramref name="InputGpa"/> the host executes what the input page at that GPA holds when it handles the call, read
/// as <paramref name="Control"/> says (the control word travels in a register, the input in guest memory, brief §2.1).</summary>
public sealed record Hypercall(IHypercallInput Input, int Vcpu, IActorRef ReplyTo, HypercallControl Control = default, ulong InputGpa = 0)
    : IHypervisorMessage, ITracedMessage
{
    /// <inheritdoc/>
    public (string Name, string Detail) DescribeForTrace() => ($"Hypercall {Input.Code}", $"vcpu{Vcpu}{DomainOf(Input)}");

    private static string DomainOf(IHypercallInput input) => input switch
    {
        FlushDeviceDomainInput f => $", domain {f.Domain.DomainId.Id}",
        FlushDeviceDomainListInput l => $", domain {l.Domain.DomainId.Id}, {l.IovaList.Length} blocks",
        _ => "",
    };
}
