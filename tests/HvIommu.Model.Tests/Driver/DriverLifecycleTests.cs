using HvIommu.Model.Driver;
using HvIommu.Model.Settings;

namespace HvIommu.Model.Tests.Driver;

/// <summary>Teardown and domain-switch sequences (brief §1.5, §1.6; H9, H10, H16) as typed plans, without an actor system.</summary>
[Trait("Category", "Model")]
public sealed class DriverLifecycleTests
{
    [Fact]
    public void Teardown_releases_devices_before_freeing_their_flush_queues_and_domains() =>
        Same([TeardownStep.ReleaseDevices, TeardownStep.ProdDevices, TeardownStep.FreeFlushQueues, TeardownStep.FreePagingDomains,
                TeardownStep.ProdDevicesOnFreedTables, TeardownStep.DeleteStaticDomains],
            DriverLifecycle.TeardownPlan(LifecycleSettings.Safe, initFailed: false));

    [Fact]
    public void H10_frees_the_paging_domains_while_devices_are_attached_and_prods_them_in_that_window() =>
        Same([TeardownStep.FreeFlushQueues, TeardownStep.FreePagingDomains, TeardownStep.ProdDevices, TeardownStep.ReleaseDevices, TeardownStep.DeleteStaticDomains],
            DriverLifecycle.TeardownPlan(LifecycleSettings.Safe with { FreeDomainBeforeDetach = true }, initFailed: false));

    [Fact]
    public void H16_after_a_failed_init_there_is_nothing_to_tear_down()
    {
        Assert.Empty(DriverLifecycle.TeardownPlan(LifecycleSettings.Safe, initFailed: true));
        Assert.Empty(DriverLifecycle.TeardownPlan(LifecycleSettings.Safe with { FreeDomainBeforeDetach = true }, initFailed: true));
    }

    [Fact]
    public void H9_the_rfc_detaches_flushes_then_attaches()
    {
        var life = LifecycleSettings.Safe with { DomainSwitch = DomainSwitchMode.DetachAttach, DisableAtsBeforeBlock = false };
        Same([DomainSwitchStep.Detach, DomainSwitchStep.FlushOld, DomainSwitchStep.Attach], DriverLifecycle.SwitchPlan(life, toBlocking: true));
        Same([DomainSwitchStep.Detach, DomainSwitchStep.FlushOld, DomainSwitchStep.Attach], DriverLifecycle.SwitchPlan(life, toBlocking: false));
    }

    [Fact]
    public void Later_revisions_attach_as_replace_then_flush_the_old_domain_with_ats_off_while_blocked()
    {
        var life = LifecycleSettings.Safe with { DomainSwitch = DomainSwitchMode.AttachReplace };
        Same([DomainSwitchStep.DisableAts, DomainSwitchStep.Attach, DomainSwitchStep.FlushOld], DriverLifecycle.SwitchPlan(life, toBlocking: true));
        Same([DomainSwitchStep.Attach, DomainSwitchStep.FlushOld, DomainSwitchStep.EnableAts], DriverLifecycle.SwitchPlan(life, toBlocking: false));
        var keepAts = life with { DisableAtsBeforeBlock = false };
        Same([DomainSwitchStep.Attach, DomainSwitchStep.FlushOld], DriverLifecycle.SwitchPlan(keepAts, toBlocking: true));
    }

    [Fact]
    public void No_switch_mode_has_no_plan_and_is_never_due()
    {
        Assert.Empty(DriverLifecycle.SwitchPlan(LifecycleSettings.Safe, toBlocking: true));
        Assert.False(DriverLifecycle.SwitchDue(LifecycleSettings.Safe, vcpu: 0, opsSinceSwitch: 1_000));
    }

    [Fact]
    public void Only_vcpu_0_switches_and_only_every_n_operations()
    {
        var life = LifecycleSettings.Safe with { DomainSwitch = DomainSwitchMode.AttachReplace, DomainSwitchEveryOps = 3 };
        Assert.False(DriverLifecycle.SwitchDue(life, vcpu: 0, opsSinceSwitch: 2));
        Assert.True(DriverLifecycle.SwitchDue(life, vcpu: 0, opsSinceSwitch: 3));
        Assert.False(DriverLifecycle.SwitchDue(life, vcpu: 1, opsSinceSwitch: 3));
    }

    private static void Same(TeardownStep[] expected, System.Collections.Immutable.ImmutableArray<TeardownStep> actual) => Assert.Equal(expected, actual.ToArray());

    private static void Same(DomainSwitchStep[] expected, System.Collections.Immutable.ImmutableArray<DomainSwitchStep> actual) => Assert.Equal(expected, actual.ToArray());
}
