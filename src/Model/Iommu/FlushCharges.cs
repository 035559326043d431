using System.Collections.Immutable;
using HvIommu.Model.Costs;
using HvIommu.Model.Hypercalls;
using HvIommu.Model.Settings;

namespace HvIommu.Model.Iommu;

/// <summary>
/// What a flush costs in simulated time (brief §2.4, the host's handling of HVCALL_FLUSH_DEVICE_DOMAIN(_LIST)): each
/// charge goes to the cost ledger by kind, to the flush total (<see cref="CostLedger.FlushNs"/>) and, where the guest
/// waits in the hypercall, to the issuing vCPU's clock. The flush handler calls these as it performs
/// <see cref="FlushHandling{TContext}"/>'s steps; the latencies are <c>hypervisor.latency.*</c> (ns).
/// </summary>
public sealed class FlushCharges(LatencySettings latency, CostLedger costs)
{
    /// <summary>A flush starts: the domain-selective call costs <see cref="LatencySettings.FlushDomainNs"/>, the list
    /// call <see cref="LatencySettings.FlushListNs"/> per entry; the issuing vCPU waits for it all.</summary>
    public void Started(ImmutableArray<FlushVa>? blocks, int vcpu)
    {
        long cost;
        if (blocks is { } entries)
        {
            cost = latency.FlushListNs * entries.Length;
            costs.Charge(CostKind.FlushListEntry, latency.FlushListNs, entries.Length);
        }
        else
        {
            cost = latency.FlushDomainNs;
            costs.Charge(CostKind.FlushDomain, latency.FlushDomainNs);
        }
        costs.VcpuBusy(vcpu, cost);
        costs.AddFlushNs(cost);
    }

    /// <summary>One ATS invalidation request (<see cref="LatencySettings.AtcInvalidateNs"/>); the guest's vCPU waits for
    /// its completion only when the host awaits it (<paramref name="vcpuWaits"/>: <see cref="FlushRun{TContext}.AwaitsAtc"/>, H4).</summary>
    public void AtcInvalidation(bool vcpuWaits, int vcpu)
    {
        costs.Charge(CostKind.AtcInvalidation, latency.AtcInvalidateNs);
        costs.AddFlushNs(latency.AtcInvalidateNs);
        if (vcpuWaits)
            costs.VcpuBusy(vcpu, latency.AtcInvalidateNs);
    }

    /// <summary>A surprise-removed device did not answer (H5): with <see cref="DisconnectedDevicePolicy.TimeOut"/> the
    /// flush gives up after the ATS completion time-out (<see cref="LatencySettings.AtcTimeoutNs"/>), which the flush
    /// and, while the flush is still in progress (<paramref name="vcpu"/> not null), its vCPU pay; the other policies cost nothing.</summary>
    public void Unanswered(DisconnectedDevicePolicy policy, int? vcpu)
    {
        if (policy != DisconnectedDevicePolicy.TimeOut)
            return;
        costs.AddFlushNs(latency.AtcTimeoutNs);
        if (vcpu is { } waiting)
            costs.VcpuBusy(waiting, latency.AtcTimeoutNs);
    }
}
