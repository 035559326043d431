using HvIommu.Model.Driver;
using HvIommu.Model.Events;
using HvIommu.Model.Hypercalls;
using HvIommu.Model.Memory;
using HvIommu.Model.Oracle;
using HvIommu.Model.Settings;

namespace HvIommu.Model.Tests.Driver;

/// <summary>The driver lifecycle engine driven through a fake port, without an actor system: init's hypercalls in
/// order, its error path by <see cref="InitUnwindPlan"/>, and teardown (brief §1.3–§1.6; H16).</summary>
[Trait("Category", "Model")]
public sealed class LifecycleEngineTests
{
    private static readonly GetIommuCapabilitiesOutput PresentWithS1 =
        new(32, 48, 0, IommuCapabilities.Present | IommuCapabilities.S1, 1UL << 12);

    /// <summary>The result of a path that must have ended (no hypercall left outstanding).</summary>
    private static T Ended<T>(GuestTask<T> task)
    {
        Assert.True(task.IsCompleted);
        return task.GetResult();
    }

    /// <summary>Runs init with the hypervisor answering every call with success (the device IOMMU-enabled).</summary>
    private static GuestTask<(bool Succeeded, string Detail)> InitializeAnsweringSuccess(DriverEngineRig rig)
    {
        var init = rig.Lifecycle.InitializeAsync();
        rig.Port.Answer(HvStatus.Success, PresentWithS1);
        while (rig.Port.Outstanding is { } call)
            rig.Port.Answer(HvStatus.Success, call is GetLogicalDevicePropertyInput ? new GetLogicalDevicePropertyOutput(DeviceIommuFlags.Enabled) : null);
        return init;
    }

    private static string Describe(IHypercallInput call) => call switch
    {
        CreateDeviceDomainInput c => $"create {c.Domain.DomainId.Id}",
        ConfigureDeviceDomainInput c => $"configure {c.Domain.DomainId.Id}",
        DeleteDeviceDomainInput d => $"delete {d.Domain.DomainId.Id}",
        _ => call.Code.ToString(),
    };

    [Fact]
    public void Init_makes_the_brief_s_calls_in_order_and_answers_success()
    {
        var rig = new DriverEngineRig(withTable: false);
        var init = InitializeAnsweringSuccess(rig);
        Assert.True(init.IsCompleted);
        Assert.Equal((true, LifecycleEngine.Initialized), Ended(init));
        Assert.Equal(["GetIommuCapabilities", "create 1", "configure 1", "create 2", "configure 2", "GetLogicalDeviceProperty",
            $"create {DriverEngineRig.DomainId}", $"configure {DriverEngineRig.DomainId}", "AttachDeviceDomain"], rig.Port.Calls.Select(Describe));
        Assert.NotNull(rig.Domain.Table);
        Assert.True(rig.World.Managed[0]);
        Assert.Empty(rig.Port.InitFailures);
    }

    [Theory]
    [InlineData(InitStep.CreateBlocking, new[] { "delete 1" })]
    [InlineData(InitStep.ConfigureBlocking, new[] { "delete 2", "delete 1" })]
    public void An_init_failure_reports_the_step_and_unwinds_by_the_plan(InitStep failing, string[] unwinding)
    {
        var rig = new DriverEngineRig(withTable: false);
        var steps = new[] { InitStep.CreateIdentity, InitStep.ConfigureIdentity, InitStep.CreateBlocking, InitStep.ConfigureBlocking };
        var init = rig.Lifecycle.InitializeAsync();
        rig.Port.Answer(HvStatus.Success, PresentWithS1);
        var before = 0;
        foreach (var step in steps)
        {
            // The failing call is the last one init makes; whatever follows is its error path.
            before = rig.Port.Calls.Count;
            rig.Port.Answer(step == failing ? HvStatus.InsufficientMemory : HvStatus.Success);
            if (step == failing)
                break;
        }
        rig.Port.AnswerAll();
        Assert.True(init.IsCompleted);
        Assert.False(Ended(init).Succeeded);
        Assert.StartsWith($"at {failing}: ", Assert.Single(rig.Port.InitFailures));
        Assert.Equal(unwinding, rig.Port.Calls.Skip(before).Select(Describe));
        // Exactly the cleanups the plan lists that are hypercalls, in its order.
        Assert.Equal(InitUnwindPlan.For(failing, InitUnwinding.Fixed).Where(c => c is InitCleanup.DeleteBlocking or InitCleanup.DeleteIdentity)
            .Select(c => c == InitCleanup.DeleteBlocking ? "delete 2" : "delete 1"), unwinding);
    }

    [Fact]
    public void Teardown_stops_the_timers_releases_flushes_and_deletes_every_domain()
    {
        var rig = new DriverEngineRig(withTable: false);
        var init = InitializeAnsweringSuccess(rig);
        Assert.True(Ended(init).Succeeded);
        var initCalls = rig.Port.Calls.Count;
        // The fake port does not apply the calls at the host: attach the device there as the hypervisor would have.
        var domain = rig.Domain.Identity;
        Assert.Equal(HvStatus.Success, rig.World.Host.CreateDomain(new CreateDeviceDomainInput(domain)));
        Assert.Equal(HvStatus.Success, rig.World.Host.ConfigureDomain(new ConfigureDeviceDomainInput(domain, DeviceDomainSettings.Paging(rig.Domain.Table!.RootGpa))));
        Assert.Equal(HvStatus.Success, rig.World.Host.Attach(new AttachDeviceDomainInput(domain, rig.World.Devices[0].LogicalDeviceId)));

        var teardown = rig.Lifecycle.TeardownAsync();
        Assert.True(rig.Cpu.TimersStopped);
        Assert.Equal(1, rig.Port.TimerCancels);
        rig.Port.AnswerAll();
        Assert.True(teardown.IsCompleted);
        Assert.Equal(["DetachDeviceDomain", "FlushDeviceDomain", $"delete {DriverEngineRig.DomainId}", "delete 2", "delete 1"],
            rig.Port.Calls.Skip(initCalls).Select(Describe));
        Assert.Null(rig.Domain.Table);
    }

    /// <summary>Keeps the lifecycle's findings the stream carries.</summary>
    private sealed class LifecycleFindings : ISimEventSink
    {
        public List<(SimEventKind Kind, LifecycleFact Fact, string Source)> Seen { get; } = [];

        public void On(in SimEvent e)
        {
            if (e.Lifecycle is { } fact)
                Seen.Add((e.Kind, fact, e.Source));
        }
    }

    /// <summary>Initialises, then creates the paging domain at the host and, when <paramref name="attach"/>, attaches
    /// the device to it, as the hypervisor would have (the fake port applies no call at the host).</summary>
    private static DriverEngineRig InitializedAtTheHost(LifecycleSettings lifecycle, bool attach)
    {
        var rig = new DriverEngineRig(withTable: false, lifecycle: lifecycle);
        Assert.True(Ended(InitializeAnsweringSuccess(rig)).Succeeded);
        var domain = rig.Domain.Identity;
        Assert.Equal(HvStatus.Success, rig.World.Host.CreateDomain(new CreateDeviceDomainInput(domain)));
        Assert.Equal(HvStatus.Success, rig.World.Host.ConfigureDomain(new ConfigureDeviceDomainInput(domain, DeviceDomainSettings.Paging(rig.Domain.Table!.RootGpa))));
        if (attach)
            Assert.Equal(HvStatus.Success, rig.World.Host.Attach(new AttachDeviceDomainInput(domain, rig.World.Devices[0].LogicalDeviceId)));
        return rig;
    }

    [Fact]
    public void Teardown_tells_the_event_stream_what_it_left_and_the_oracle_judges_it_from_there()
    {
        var rig = InitializedAtTheHost(LifecycleSettings.Safe, attach: false);
        var findings = new LifecycleFindings();
        rig.World.Events.Subscribe(findings);
        var tablePages = rig.World.Frames.CountOwnedBy(FrameOwner.PageTable);
        Assert.True(tablePages > 0);

        var teardown = rig.Lifecycle.TeardownAsync();
        rig.Port.AnswerAll();
        Assert.True(teardown.IsCompleted);
        // The fake port did not apply the DELETE at the host, so the host still holds the domain.
        var (kind, fact, source) = Assert.Single(findings.Seen);
        Assert.Equal(SimEventKind.TeardownAudited, kind);
        Assert.Equal("vcpu0", source);
        Assert.Equal(new TeardownAudit(1, 0, 0, null, 0), fact);
        Assert.Equal([ViolationKind.LeakedDomain], rig.Violations.Kept.Select(v => v.Kind));
    }

    [Fact]
    public void Freeing_a_domain_before_its_device_is_detached_is_a_finding_on_the_stream_H10()
    {
        var rig = InitializedAtTheHost(LifecycleSettings.Safe with { FreeDomainBeforeDetach = true }, attach: true);
        var findings = new LifecycleFindings();
        rig.World.Events.Subscribe(findings);
        var tablePages = rig.World.Frames.CountOwnedBy(FrameOwner.PageTable, (int)DriverEngineRig.DomainId);

        var teardown = rig.Lifecycle.TeardownAsync();
        rig.Port.AnswerAll();
        Assert.True(teardown.IsCompleted);
        var freed = findings.Seen.Where(f => f.Kind == SimEventKind.TablesFreedUnderAttachedDevice).Select(f => f.Fact).ToList();
        var fact = Assert.IsType<TablesFreedUnderDevice>(Assert.Single(freed));
        Assert.Equal((DriverEngineRig.DomainId, tablePages), (fact.Domain, fact.TablePages));
        Assert.Equal(["nic"], fact.Devices);
        Assert.Contains(rig.Violations.Kept, v => v.Kind == ViolationKind.HostReferencedTablesFreed && v.Hazard == "H10");
    }
}
