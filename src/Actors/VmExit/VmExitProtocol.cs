using HvIommu.Actors.Tracing;
using HvIommu.Model.Hypercalls;

namespace HvIommu.Actors.VmExit;

/// <summary>
/// The return of a hypercall's VM exit (brief §2): the vCPU resumes with this status (and output, if any). Any
/// host component that completes a hypercall sends it to the call's <c>ReplyTo</c> — the hypervisor, or the
/// flush handler for the flush hypercalls it executes — so it lives below both, beside neither.
/// </summary>
public sealed record HypercallCompleted(HypercallCode Code, HvStatus Status, object? Output = null) : ITracedMessage
{
    /// <inheritdoc/>
    public (string Name, string Detail) DescribeForTrace() => ($"HypercallCompleted {Code}", Status.ToString());
}
