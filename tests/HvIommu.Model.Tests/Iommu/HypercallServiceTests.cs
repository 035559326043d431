using System.Collections.Immutable;
using HvIommu.Model.Hypercalls;
using HvIommu.Model.Iommu;
using HvIommu.Model.Randomness;
using HvIommu.Model.Settings;

namespace HvIommu.Model.Tests.Iommu;

/// <summary>The hypervisor's hypercall handlers as model (<see cref="HypercallService"/>): statuses from the host,
/// valid flushes handed on, malformed list entries refused, configured failures injected at their occurrence.</summary>
[Trait("Category", "Model")]
public sealed class HypercallServiceTests
{
    private readonly IommuRig _rig = new IommuRig().WithPagingDomain();

    private HypercallService Service((HypercallCode, int, HvStatus)? failInit = null, params FaultSpec[] faults) =>
        new(_rig.Host, failInit, [.. faults], new EnvironmentChoices(new SeededRandom(5), null));

    [Fact]
    public void A_flush_of_a_live_domain_goes_to_the_flush_handler_and_of_an_unknown_one_is_refused()
    {
        var service = Service();

        var whole = service.Execute(new FlushDeviceDomainInput(IommuRig.Domain(IommuRig.DomainId)));
        var list = service.Execute(new FlushDeviceDomainListInput(IommuRig.Domain(IommuRig.DomainId), default, [FlushVa.FromRange(0x1000, 0x1FFF)]));
        var unknown = service.Execute(new FlushDeviceDomainInput(IommuRig.Domain(77)));

        Assert.Equal((IommuRig.DomainId, (ImmutableArray<FlushVa>?)null), (whole.FlushDomain, whole.Blocks));
        Assert.Equal(IommuRig.DomainId, list.FlushDomain);
        Assert.Single(list.Blocks!.Value);
        Assert.Equal((HvStatus.InvalidParameter, (uint?)null), (unknown.Status, unknown.FlushDomain));
    }

    [Fact]
    public void A_list_flush_with_a_misaligned_entry_is_an_invalid_parameter()
    {
        var outcome = Service().Execute(new FlushDeviceDomainListInput(IommuRig.Domain(IommuRig.DomainId), default, [new FlushVa(0x3, 1)]));

        Assert.Equal((HvStatus.InvalidParameter, (uint?)null), (outcome.Status, outcome.FlushDomain));
    }

    [Fact]
    public void Host_calls_answer_the_hosts_status_and_no_input_is_an_invalid_call_code()
    {
        var service = Service();

        Assert.Equal(HvStatus.Success, service.Execute(new CreateDeviceDomainInput(IommuRig.Domain(9))).Status);
        Assert.NotEqual(HvStatus.Success, service.Execute(new CreateDeviceDomainInput(IommuRig.Domain(9))).Status);
        Assert.Equal(HvStatus.InvalidHypercallCode, service.Execute(null).Status);
    }

    [Fact]
    public void The_configured_init_failure_hits_only_its_occurrence_and_a_certain_fault_every_call()
    {
        var service = Service((HypercallCode.CreateDeviceDomain, 2, HvStatus.InsufficientMemory),
            new FaultSpec(HypercallCode.DeleteDeviceDomain, 1.0, HvStatus.InvalidParameter));

        Assert.Null(service.InjectedFault(HypercallCode.CreateDeviceDomain));
        Assert.Equal(HvStatus.InsufficientMemory, service.InjectedFault(HypercallCode.CreateDeviceDomain));
        Assert.Null(service.InjectedFault(HypercallCode.CreateDeviceDomain));
        Assert.Equal(HvStatus.InvalidParameter, service.InjectedFault(HypercallCode.DeleteDeviceDomain));
        Assert.Null(service.InjectedFault(HypercallCode.AttachDeviceDomain));
    }
}
