using Akka.Actor;
using Akka.TestKit;
using HvIommu.Actors.Hypervisor;
using HvIommu.Actors.PciDevice;
using HvIommu.Actors.Simulation;
using HvIommu.Actors.Vcpu;
using HvIommu.Actors.VmExit;
using HvIommu.Model.Hypercalls;
using HvIommu.Model.Mappings;
using HvIommu.Model.Metrics;

namespace HvIommu.Actors.Tests.Actors;

/// <summary>
/// A vCPU running the guest driver (brief §1.3–§1.6, §2.1, §5.5): a hypercall is a VM exit that blocks the
/// vCPU until its status returns. A probe stands in for the hypervisor and answers each call by hand.
/// </summary>
[Trait("Category", "Actors")]
public sealed class VcpuActorSpec : ActorSpec
{
    private const string Topology = """
        hviommu {
          vm.vcpus = 1
          run.hang-timeout = 30s
          workload.buffer-pages = 1
          domains = [ { name = dom } ]
          devices = [ { name = nic, domain = dom } ]
        }
        """;

    private static readonly GetIommuCapabilitiesOutput PresentWithS1 =
        new(32, 48, 0, IommuCapabilities.Present | IommuCapabilities.S1, 1UL << 12);

    private readonly TestProbe _hypervisor;
    private readonly TestProbe _device;
    private readonly TestProbe _supervisor;
    private SimWorld _world = null!;
    private IActorRef _vcpu = ActorRefs.Nobody;

    public VcpuActorSpec()
    {
        _hypervisor = CreateTestProbe("hypervisor");
        _device = CreateTestProbe("nic");
        _supervisor = CreateTestProbe("supervisor");
        Start();
    }

    /// <summary>vCPU 0 of a fresh world. The hang timeout is long unless a test wants a hang: on two busy cores a
    /// probe's answer can take longer than a short one.</summary>
    private void Start(string overlay = "")
    {
        _world = World(Topology + "\n" + overlay);
        _vcpu = Sys.ActorOf(VcpuActor.Props(_world, 0, _hypervisor, [_device.Ref], Dispatcher));
    }

    /// <summary>The next hypercall the vCPU traps with; it must carry <typeparamref name="T"/>.</summary>
    private (Hypercall Call, T Input) ExpectCall<T>() where T : IHypercallInput
    {
        var call = _hypervisor.ExpectMsg<Hypercall>();
        Assert.Equal(0, call.Vcpu);
        return (call, Assert.IsType<T>(call.Input));
    }

    private static void Answer(Hypercall call, HvStatus status = HvStatus.Success, object? output = null) =>
        call.ReplyTo.Tell(new HypercallCompleted(call.Input.Code, status, output));

    /// <summary>Answers the rest of init with success, checking each call's domain; the capabilities call is already answered.</summary>
    private void AnswerInitAfterCapabilities()
    {
        foreach (var (id, translation, blocked) in new[] { (SimWorld.IdentityDomainId, false, false), (SimWorld.BlockingDomainId, true, true) })
        {
            var (create, createInput) = ExpectCall<CreateDeviceDomainInput>();
            Assert.Equal(id, createInput.Domain.DomainId.Id);
            Answer(create);
            var (configure, configureInput) = ExpectCall<ConfigureDeviceDomainInput>();
            Assert.Equal((id, translation, blocked), (configureInput.Domain.DomainId.Id, configureInput.Settings.TranslationEnabled, configureInput.Settings.Blocked));
            Answer(configure);
        }
        var (property, propertyInput) = ExpectCall<GetLogicalDevicePropertyInput>();
        Assert.Equal(_world.Devices[0].LogicalDeviceId, propertyInput.LogicalDeviceId);
        Answer(property, output: new GetLogicalDevicePropertyOutput(DeviceIommuFlags.Enabled));
        var dom = _world.DomainByName["dom"];
        Answer(ExpectCall<CreateDeviceDomainInput>().Call);
        var (configurePaging, paging) = ExpectCall<ConfigureDeviceDomainInput>();
        Assert.Equal((dom.Id, true, dom.Table!.RootGpa), (paging.Domain.DomainId.Id, paging.Settings.TranslationEnabled, paging.Settings.PageTableRoot));
        Answer(configurePaging);
        var (attach, attachInput) = ExpectCall<AttachDeviceDomainInput>();
        Assert.Equal((dom.Id, _world.Devices[0].LogicalDeviceId), (attachInput.Domain.DomainId.Id, attachInput.DeviceId));
        Answer(attach);
    }

    [Fact]
    public void While_a_hypercall_is_outstanding_the_vcpu_handles_no_other_message()
    {
        _vcpu.Tell(new InitializeGuest(_supervisor));
        var (caps, _) = ExpectCall<GetIommuCapabilitiesInput>();

        // Had the vCPU taken it now, with no device managed yet, StartWorkload would answer VcpuIdle at once.
        _vcpu.Tell(new StartWorkload(_supervisor));
        _vcpu.Tell(new DmaCompleted(99, 0));
        _hypervisor.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        Assert.False(_supervisor.HasMessages);

        Answer(caps, output: PresentWithS1);
        var (create, createInput) = ExpectCall<CreateDeviceDomainInput>();
        Assert.Equal(SimWorld.IdentityDomainId, createInput.Domain.DomainId.Id);
        Answer(create);
        ExpectCall<ConfigureDeviceDomainInput>();
        Assert.False(_supervisor.HasMessages);
    }

    [Fact]
    public void Messages_held_back_during_init_are_handled_after_it_in_order()
    {
        _vcpu.Tell(new InitializeGuest(_supervisor));
        var (caps, _) = ExpectCall<GetIommuCapabilitiesInput>();
        _vcpu.Tell(new StartWorkload(_supervisor));
        Answer(caps, output: PresentWithS1);
        AnswerInitAfterCapabilities();

        // Init completes first; only then does the held-back StartWorkload run, now with the device managed.
        var init = _supervisor.ExpectMsg<GuestInitCompleted>();
        Assert.True(init.Succeeded, init.Detail);
        var program = _device.ExpectMsg<ProgramDma>();
        Assert.Equal(_vcpu, program.ReplyTo);
        Assert.Equal(MappingState.Mapped, _world.Mappings.Live(Assert.Single(program.Descriptor.Mappings))?.State);
        Assert.False(_supervisor.HasMessages);
    }

    [Fact]
    public void Capabilities_without_s1_fail_init_and_create_no_domain()
    {
        _vcpu.Tell(new InitializeGuest(_supervisor));
        var (caps, _) = ExpectCall<GetIommuCapabilitiesInput>();

        Answer(caps, output: PresentWithS1 with { IommuCap = IommuCapabilities.Present | IommuCapabilities.Ats });

        var init = _supervisor.ExpectMsg<GuestInitCompleted>();
        Assert.False(init.Succeeded);
        Assert.Contains("stage-1", init.Detail);
        Assert.False(_hypervisor.HasMessages);
    }

    [Fact]
    public void A_vcpu_blocked_in_a_hypercall_is_overdue_for_the_watchdog_until_the_status_returns()
    {
        Start();
        _vcpu.Tell(new InitializeGuest(_supervisor));
        var (call, _) = ExpectCall<GetIommuCapabilitiesInput>();

        // The run's watchdog (the soft-lockup detector) sees vCPU 0 blocked in GET_IOMMU_CAPABILITIES.
        var overdue = Assert.Single(_world.Watchdog.Overdue(long.MaxValue, 0));
        Assert.Equal(0, overdue.Vcpu);
        Assert.Equal(HypercallCode.GetIommuCapabilities, overdue.Input.Code);
        Assert.Empty(_world.Watchdog.Overdue(long.MaxValue, 0)); // each hang is reported once

        Answer(call, HvStatus.InvalidHypercallCode);
        Assert.False(_supervisor.ExpectMsg<GuestInitCompleted>().Succeeded);
        Assert.Empty(_world.Watchdog.Overdue(long.MaxValue, 0));
    }

    [Fact]
    public void The_start_workload_message_is_counted_once_in_the_messages_delivered()
    {
        // No device is managed yet, so the workload is over at once: one message handled, one idle report.
        _vcpu.Tell(new StartWorkload(_supervisor));
        Assert.Equal(0, _supervisor.ExpectMsg<VcpuIdle>().Vcpu);

        // The vCPU publishes its tally when it stops.
        Watch(_vcpu);
        Sys.Stop(_vcpu);
        ExpectTerminated(_vcpu);
        Assert.Equal(1, _world.Counters.Get(SimCounter.MessagesDelivered));
    }
}
