using HvIommu.Actors.Metrics;
using HvIommu.Model.Events;
using HvIommu.Model.Hypercalls;

namespace HvIommu.Actors.Tests.Metrics;

/// <summary>The counters' subscription to the event stream: hypercalls are counted from the events the hypervisor
/// emits (by code when the ABI defines it, a VM exit either way).</summary>
[Trait("Category", "Model")]
public sealed class EventCountsSpec
{
    [Fact]
    public void A_trapped_hypercall_counts_by_code_and_as_a_vm_exit_and_an_unknown_code_only_as_a_vm_exit()
    {
        var counters = new SimCounters([((ushort)HypercallCode.FlushDeviceDomain, "FlushDeviceDomain")]);
        var stream = new SimEventStream();
        stream.Subscribe(new EventCounts(counters));

        stream.On(SimEvent.HypercallTrapped(HypercallCode.FlushDeviceDomain, 0, "hypervisor"));
        stream.On(SimEvent.HypercallTrapped(HypercallCode.FlushDeviceDomain, 1, "hypervisor"));
        stream.On(SimEvent.HypercallTrapped((HypercallCode)0x7777, 0, "hypervisor"));

        var s = counters.Snapshot();
        Assert.Equal(3, s.VmExits);
        Assert.Equal(2, s.HypercallsByName()["FlushDeviceDomain"]);
    }
}
