using Akka.Actor;
using HvIommu.Model.Hypercalls;

namespace HvIommu.Actors.Protocol;

/// <summary>Messages of the hypervisor actor (brief §2): a vCPU traps with a hypercall and is blocked until the reply.</summary>
public interface IHypervisorMessage;

/// <summary>A hypercall from <paramref name="Vcpu"/>; the status (and output, if any) goes to <paramref name="ReplyTo"/>.</summary>
public sealed record Hypercall(IHypercallInput Input, int Vcpu, IActorRef ReplyTo) : IHypervisorMessage;

/// <summary>The hypercall returned: the vCPU resumes with this status.</summary>
public sealed record HypercallCompleted(HypercallCode Code, HvStatus Status, object? Output = null);
