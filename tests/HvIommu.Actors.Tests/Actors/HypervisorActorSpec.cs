using System.Collections.Immutable;
using Akka.Actor;
using Akka.TestKit;
using HvIommu.Actors.FlushHandler;
using HvIommu.Actors.Hypervisor;
using HvIommu.Actors.Simulation;
using HvIommu.Actors.VmExit;
using HvIommu.Model.Hypercalls;
using HvIommu.Model.Metrics;

namespace HvIommu.Actors.Tests.Actors;

/// <summary>
/// The hypervisor's hypercall handlers (brief §2, §2.3): every status through a probe standing in for the
/// calling vCPU, flushes handed to a probe standing in for the flush handler, injected faults (H8), counters.
/// </summary>
[Trait("Category", "Actors")]
public sealed class HypervisorActorSpec : ActorSpec
{
    private const string Topology = """
        hviommu {
          iommu { capabilities = [present, s1, ats], max-domains = 3 }
          domains = [ { name = dom } ]
          devices = [ { name = nic, domain = dom } ]
        }
        """;

    private static readonly HvInputDeviceDomain Domain3 = HvInputDeviceDomain.Self(DeviceDomainId.S1(3));

    private readonly TestProbe _vcpu;
    private readonly TestProbe _flushHandler;
    private SimWorld _world = null!;
    private IActorRef _hypervisor = ActorRefs.Nobody;

    public HypervisorActorSpec()
    {
        _vcpu = CreateTestProbe("vcpu");
        _flushHandler = CreateTestProbe("flush-handler");
        Start(Topology);
    }

    private void Start(string hocon)
    {
        _world = World(hocon);
        _hypervisor = Sys.ActorOf(HypervisorActor.Props(_world, _flushHandler, Dispatcher));
    }

    private HypercallCompleted Call(IHypercallInput input)
    {
        _hypervisor.Tell(new Hypercall(input, 0, _vcpu));
        var reply = _vcpu.ExpectMsg<HypercallCompleted>();
        Assert.Equal(input.Code, reply.Code);
        return reply;
    }

    private HvStatus Status(IHypercallInput input) => Call(input).Status;

    private ulong NicId => _world.Devices[0].LogicalDeviceId;

    /// <summary>Everything the hypervisor sent while handling earlier calls is in its peers' mailboxes once a later call is answered.</summary>
    private void AssertFlushHandlerGotNothing()
    {
        Assert.Equal(HvStatus.Success, Status(new GetIommuCapabilitiesInput()));
        Assert.False(_flushHandler.HasMessages);
    }

    [Fact]
    public void Capabilities_report_present_and_s1_with_the_configured_widths_and_page_sizes()
    {
        var reply = Call(new GetIommuCapabilitiesInput());

        Assert.Equal(HvStatus.Success, reply.Status);
        var caps = Assert.IsType<GetIommuCapabilitiesOutput>(reply.Output);
        Assert.True(caps.IommuCap.HasFlag(IommuCapabilities.Present));
        Assert.True(caps.IommuCap.HasFlag(IommuCapabilities.S1));
        Assert.True(caps.IommuCap.HasFlag(IommuCapabilities.Ats));
        Assert.False(caps.IommuCap.HasFlag(IommuCapabilities.S1FiveLevel));
        Assert.Equal(48, caps.MaxIovaWidth);
        Assert.Equal(0, caps.MaxPasidWidth);
        Assert.Equal((1UL << 12) | (1UL << 21) | (1UL << 30), caps.PgsizeBitmap);
    }

    [Fact]
    public void Logical_device_property_is_enabled_for_an_assigned_device_and_InvalidDeviceId_for_an_unknown_one()
    {
        var known = Call(new GetLogicalDevicePropertyInput(HvInputDeviceDomain.PartitionIdSelf, NicId));
        Assert.Equal(HvStatus.Success, known.Status);
        Assert.True(Assert.IsType<GetLogicalDevicePropertyOutput>(known.Output).IommuEnabled);

        var unknown = Call(new GetLogicalDevicePropertyInput(HvInputDeviceDomain.PartitionIdSelf, NicId ^ 0xFFFF));
        Assert.Equal(HvStatus.InvalidDeviceId, unknown.Status);
        Assert.Null(unknown.Output);
    }

    [Fact]
    public void Domain_lifecycle_succeeds_and_a_duplicate_create_and_a_second_attach_are_refused()
    {
        Assert.Equal(HvStatus.Success, Status(new CreateDeviceDomainInput(Domain3)));
        Assert.Equal(HvStatus.InvalidParameter, Status(new CreateDeviceDomainInput(Domain3)));
        Assert.Equal(HvStatus.Success, Status(new ConfigureDeviceDomainInput(Domain3, DeviceDomainSettings.Paging(SimWorld.AllocatorBaseGpa))));
        Assert.Equal(HvStatus.Success, Status(new AttachDeviceDomainInput(Domain3, NicId)));
        Assert.Equal(HvStatus.DeviceAlreadyInDomain, Status(new AttachDeviceDomainInput(Domain3, NicId)));
        Assert.Equal(HvStatus.Success, Status(new DetachDeviceDomainInput(HvInputDeviceDomain.PartitionIdSelf, NicId)));
        Assert.Equal(HvStatus.Success, Status(new DeleteDeviceDomainInput(Domain3)));
        Assert.Equal(0, _world.Host.DomainCount);
    }

    [Fact]
    public void Domain_id_0_is_InvalidParameter()
    {
        Assert.Equal(HvStatus.InvalidParameter, Status(new CreateDeviceDomainInput(HvInputDeviceDomain.Self(DeviceDomainId.S1(DeviceDomainId.Default)))));
        Assert.Equal(0, _world.Host.DomainCount);
    }

    [Fact]
    public void Creating_beyond_max_domains_is_InsufficientDeviceDomains()
    {
        for (uint id = 1; id <= 3; id++)
            Assert.Equal(HvStatus.Success, Status(new CreateDeviceDomainInput(HvInputDeviceDomain.Self(DeviceDomainId.S1(id)))));

        Assert.Equal(HvStatus.InsufficientDeviceDomains, Status(new CreateDeviceDomainInput(HvInputDeviceDomain.Self(DeviceDomainId.S1(4)))));
        Assert.Equal(3, _world.Host.DomainCount);
    }

    [Fact]
    public void A_partition_other_than_self_is_InvalidPartitionId()
    {
        const ulong other = 5;
        Assert.Equal(HvStatus.InvalidPartitionId, Status(new GetIommuCapabilitiesInput(other)));
        Assert.Equal(HvStatus.InvalidPartitionId, Status(new CreateDeviceDomainInput(new HvInputDeviceDomain(other, 0, DeviceDomainId.S1(3)))));
        Assert.Equal(HvStatus.InvalidPartitionId, Status(new DetachDeviceDomainInput(other, NicId)));
        Assert.Equal(0, _world.Host.DomainCount);
    }

    [Fact]
    public void A_call_the_pviommu_does_not_service_is_InvalidHypercallCode()
    {
        Assert.Equal(HvStatus.InvalidHypercallCode, Status(new UnservicedInput(HypercallCode.QueryDeviceDomain)));
    }

    [Fact]
    public void A_call_code_outside_the_abi_is_InvalidHypercallCode_and_still_a_vm_exit()
    {
        // A guest can trap with any 16-bit call code (brief §2.1); the hypervisor answers, it does not fail.
        Assert.Equal(HvStatus.InvalidHypercallCode, Status(new UnservicedInput((HypercallCode)0x0FFF)));

        Assert.Equal(HvStatus.Success, Status(new GetIommuCapabilitiesInput()));
        Assert.Equal(2, _world.Counters.Snapshot().VmExits);
    }

    [Fact]
    public void A_flush_is_handed_to_the_flush_handler_with_its_domain_and_the_callers_ReplyTo()
    {
        Assert.Equal(HvStatus.Success, Status(new CreateDeviceDomainInput(Domain3)));

        _hypervisor.Tell(new Hypercall(new FlushDeviceDomainInput(Domain3), 0, _vcpu));

        var flush = _flushHandler.ExpectMsg<ExecuteFlush>();
        Assert.Equal(3u, flush.Domain);
        Assert.Null(flush.Blocks);
        Assert.Equal(HypercallCode.FlushDeviceDomain, flush.Code);
        Assert.Equal(_vcpu.Ref, flush.ReplyTo);
        Assert.False(_vcpu.HasMessages);
    }

    /// <summary>The host executes the vCPU's input page as it finds it at the trap (brief §2.1): a page an interrupt
    /// refilled with a flush of another domain (H17) flushes that domain, whatever the driver meant.</summary>
    [Fact]
    public void The_host_executes_what_the_input_page_holds_when_it_handles_the_call()
    {
        var domain4 = HvInputDeviceDomain.Self(DeviceDomainId.S1(4));
        Assert.Equal(HvStatus.Success, Status(new CreateDeviceDomainInput(Domain3)));
        Assert.Equal(HvStatus.Success, Status(new CreateDeviceDomainInput(domain4)));
        var gpa = _world.HypercallInputPage(0);
        var page = new byte[HypercallInputCodec.PageBytes];

        var control = HypercallInputCodec.Write(new FlushDeviceDomainInput(Domain3), page);
        _world.Memory.Write(gpa, page);
        _hypervisor.Tell(new Hypercall(new FlushDeviceDomainInput(Domain3), 0, _vcpu, control, gpa));
        Assert.Equal(3u, _flushHandler.ExpectMsg<ExecuteFlush>().Domain);

        HypercallInputCodec.Write(new FlushDeviceDomainInput(domain4), page);
        _world.Memory.Write(gpa, page);
        _hypervisor.Tell(new Hypercall(new FlushDeviceDomainInput(Domain3), 0, _vcpu, control, gpa));
        Assert.Equal(4u, _flushHandler.ExpectMsg<ExecuteFlush>().Domain);
        Assert.Equal(1, _world.Counters.Get(SimCounter.HypercallInputsReplaced));
    }

    [Fact]
    public void A_list_flush_is_handed_over_with_its_blocks_and_a_malformed_block_is_InvalidParameter()
    {
        Assert.Equal(HvStatus.Success, Status(new CreateDeviceDomainInput(Domain3)));
        ImmutableArray<FlushVa> blocks = [FlushVa.FromRange(0x4000, 0x7FFF)];

        _hypervisor.Tell(new Hypercall(new FlushDeviceDomainListInput(Domain3, FlushDeviceDomainListFlags.None, blocks), 0, _vcpu));
        var flush = _flushHandler.ExpectMsg<ExecuteFlush>();
        Assert.Equal(blocks, flush.Blocks!.Value);
        Assert.Equal(HypercallCode.FlushDeviceDomainList, flush.Code);

        var misaligned = new FlushVa(PageNumber: 1, PageMaskShift: 1);
        Assert.Equal(HvStatus.InvalidParameter, Status(new FlushDeviceDomainListInput(Domain3, FlushDeviceDomainListFlags.None, [misaligned])));
        AssertFlushHandlerGotNothing();
    }

    [Fact]
    public void A_flush_of_an_unknown_domain_is_InvalidParameter_and_never_reaches_the_flush_handler()
    {
        Assert.Equal(HvStatus.InvalidParameter, Status(new FlushDeviceDomainInput(Domain3)));
        AssertFlushHandlerGotNothing();
    }

    [Fact]
    public void An_injected_flush_failure_returns_the_configured_status_and_the_flush_never_runs()
    {
        Start(Topology + "\nhviommu.faults = [ { call = FlushDeviceDomain, probability = 1.0, status = OperationFailed } ]");
        Assert.Equal(HvStatus.Success, Status(new CreateDeviceDomainInput(Domain3)));

        Assert.Equal(HvStatus.OperationFailed, Status(new FlushDeviceDomainInput(Domain3)));

        AssertFlushHandlerGotNothing();
    }

    [Fact]
    public void Each_hypercall_counts_once_as_its_code_and_once_as_a_vm_exit()
    {
        Status(new GetIommuCapabilitiesInput());
        Status(new CreateDeviceDomainInput(Domain3));
        Status(new CreateDeviceDomainInput(Domain3));
        _hypervisor.Tell(new Hypercall(new FlushDeviceDomainInput(Domain3), 0, _vcpu));
        _flushHandler.ExpectMsg<ExecuteFlush>();
        Status(new UnservicedInput(HypercallCode.QueryDeviceDomain));

        var counts = _world.Counters.Snapshot();
        var byName = counts.HypercallsByName();
        Assert.Equal(1, byName[nameof(HypercallCode.GetIommuCapabilities)]);
        Assert.Equal(2, byName[nameof(HypercallCode.CreateDeviceDomain)]);
        Assert.Equal(1, byName[nameof(HypercallCode.FlushDeviceDomain)]);
        Assert.Equal(1, byName[nameof(HypercallCode.QueryDeviceDomain)]);
        Assert.Equal(0, byName[nameof(HypercallCode.AttachDeviceDomain)]);
        Assert.Equal(5, counts.VmExits);
        Assert.Equal(5 * (_world.Settings.Hypervisor.Latency.VmExitNs + _world.Settings.Hypervisor.Latency.HypercallNs), _world.ModelledNs);
    }

    /// <summary>A hypercall input the hypervisor has no handler for.</summary>
    private sealed record UnservicedInput(HypercallCode Code) : IHypercallInput;
}
