using Akka.Actor;
using HvIommu.Model.Hypercalls;

namespace HvIommu.Actors.Protocol;

/// <summary>Messages of the hypervisor actor (brief §2): a vCPU traps with a hypercall and is blocked until the reply.</summary>
public interface IHypervisorMessage;

/// <summary>A hypercall from <paramref name="Vcpu"/>; the status (and output, if any) goes to <paramref name="ReplyTo"/>.
/// <paramref name="Input"/> is what the guest's driver meant to call (traces, the hang watchdog). With an
/// <paramref name="InputGpa"/> the host executes what the input page at that GPA holds when it handles the call, read
/// as <paramref name="Control"/> says (the control word travels in a register, the input in guest memory, brief §2.1).</summary>
public sealed record Hypercall(IHypercallInput Input, int Vcpu, IActorRef ReplyTo, HypercallControl Control = default, ulong InputGpa = 0) : IHypervisorMessage;

/// <summary>The hypercall returned: the vCPU resumes with this status.</summary>
public sealed record HypercallCompleted(HypercallCode Code, HvStatus Status, object? Output = null);
