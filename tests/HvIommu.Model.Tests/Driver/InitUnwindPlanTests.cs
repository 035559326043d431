using HvIommu.Model.Driver;
using HvIommu.Model.Hypercalls;
using HvIommu.Model.Settings;

namespace HvIommu.Model.Tests.Driver;

/// <summary>hv_iommu_init's error path as a pure function (H16, brief §1.3, §1.4, §1.9), every step × both unwindings.</summary>
[Trait("Category", "Model")]
public sealed class InitUnwindPlanTests
{
    public static TheoryData<InitStep, InitUnwinding> AllSteps()
    {
        var data = new TheoryData<InitStep, InitUnwinding>();
        foreach (var step in Enum.GetValues<InitStep>())
            foreach (var mode in Enum.GetValues<InitUnwinding>())
                data.Add(step, mode);
        return data;
    }

    [Theory]
    [MemberData(nameof(AllSteps))]
    public void Fixed_unwinding_never_leaks_and_never_removes_sysfs_it_did_not_add(InitStep step, InitUnwinding mode)
    {
        var plan = InitUnwindPlan.For(step, mode);
        if (mode == InitUnwinding.Fixed)
        {
            Assert.Equal(0, InitUnwindPlan.LeakedStaticDomains(step, mode));
            Assert.Equal(InitUnwindPlan.SysfsAdded(step), plan.Contains(InitCleanup.SysfsRemove));
        }
        // Whatever the goto target, nothing is deleted that was never created, and deletes come newest first.
        foreach (var d in new[] { InitCleanup.DeleteBlocking, InitCleanup.DeleteIdentity })
            Assert.True(!plan.Contains(d) || InitUnwindPlan.StaticDomainsAlive(step).Contains(d));
        if (plan.Contains(InitCleanup.DeleteBlocking) && plan.Contains(InitCleanup.DeleteIdentity))
            Assert.True(plan.IndexOf(InitCleanup.DeleteBlocking) < plan.IndexOf(InitCleanup.DeleteIdentity));
        Assert.Equal(step is not (InitStep.None or InitStep.GetCapabilities), plan.Contains(InitCleanup.FreeDevice));
    }

    [Theory]
    [InlineData(InitStep.None, 0)]
    [InlineData(InitStep.GetCapabilities, 0)]
    [InlineData(InitStep.CreateIdentity, 0)]
    [InlineData(InitStep.ConfigureIdentity, 0)]
    [InlineData(InitStep.CreateBlocking, 0)]
    [InlineData(InitStep.ConfigureBlocking, 0)]
    [InlineData(InitStep.SysfsAdd, 2)]
    [InlineData(InitStep.Register, 2)]
    [InlineData(InitStep.Probe, 2)]
    public void Rfc_v1_leaks_both_static_domains_exactly_when_sysfs_add_register_or_probe_fails(InitStep step, int leaked) =>
        Assert.Equal(leaked, InitUnwindPlan.LeakedStaticDomains(step, InitUnwinding.RfcV1));

    [Theory]
    [InlineData(InitStep.CreateIdentity)]
    [InlineData(InitStep.ConfigureIdentity)]
    [InlineData(InitStep.CreateBlocking)]
    [InlineData(InitStep.ConfigureBlocking)]
    public void Rfc_v1_static_domain_failure_jumps_to_err_sysfs_remove_although_sysfs_was_never_added(InitStep step)
    {
        var plan = InitUnwindPlan.For(step, InitUnwinding.RfcV1);
        Assert.False(InitUnwindPlan.SysfsAdded(step));
        Assert.Contains(InitCleanup.SysfsRemove, plan);
        Assert.DoesNotContain(InitCleanup.SysfsRemove, InitUnwindPlan.For(step, InitUnwinding.Fixed));
    }

    [Theory]
    [MemberData(nameof(AllSteps))]
    public void Only_rfc_v1_undoes_a_step_that_never_happened_and_only_sysfs(InitStep step, InitUnwinding mode)
    {
        var undone = InitUnwindPlan.For(step, mode).Where(c => InitUnwindPlan.UndoesStepNeverDone(step, c)).ToList();
        var expected = mode == InitUnwinding.RfcV1 && step is InitStep.CreateIdentity or InitStep.ConfigureIdentity or InitStep.CreateBlocking or InitStep.ConfigureBlocking
            ? new[] { InitCleanup.SysfsRemove } : [];
        Assert.Equal(expected, undone);
    }

    [Fact]
    public void A_probe_failure_releases_the_devices_before_it_frees_their_domains_in_both_versions()
    {
        foreach (var mode in Enum.GetValues<InitUnwinding>())
        {
            var plan = InitUnwindPlan.For(InitStep.Probe, mode);
            Assert.True(plan.IndexOf(InitCleanup.ReleaseDevices) < plan.IndexOf(InitCleanup.FreePagingDomains));
        }
        Assert.Equal((HypercallCode.AttachDeviceDomain, 1), InitUnwindPlan.HypercallOf(InitStep.Probe));
    }

    [Fact]
    public void The_fixed_register_path_is_err_sysfs_remove_then_err_delete_static_domains_then_err_free() =>
        Assert.Equal(
            [InitCleanup.SysfsRemove, InitCleanup.DeleteBlocking, InitCleanup.DeleteIdentity, InitCleanup.FreeDevice],
            InitUnwindPlan.For(InitStep.Register, InitUnwinding.Fixed).ToArray());

    [Fact]
    public void Hypercall_fault_points_name_the_nth_call_of_init()
    {
        Assert.Equal((HypercallCode.GetIommuCapabilities, 1), InitUnwindPlan.HypercallOf(InitStep.GetCapabilities));
        Assert.Equal((HypercallCode.CreateDeviceDomain, 2), InitUnwindPlan.HypercallOf(InitStep.CreateBlocking));
        Assert.Equal((HypercallCode.ConfigureDeviceDomain, 2), InitUnwindPlan.HypercallOf(InitStep.ConfigureBlocking));
        Assert.Null(InitUnwindPlan.HypercallOf(InitStep.SysfsAdd));
        Assert.Null(InitUnwindPlan.HypercallOf(InitStep.Register));
        Assert.Equal(HvStatus.InsufficientDeviceDomains, InitUnwindPlan.FaultStatus(HypercallCode.CreateDeviceDomain));
    }
}
