using HvIommu.Model.Driver;
using HvIommu.Model.Hypercalls;

namespace HvIommu.Model.Tests.Driver;

/// <summary>The VM-exit rules a vCPU applies (brief §2.1, H17): one hypercall outstanding, guest work held while
/// blocked, and H17's window in which a pending interrupt runs before the filled call traps.</summary>
[Trait("Category", "Model")]
public sealed class VmExitStateTests
{
    [Fact]
    public void A_hypercall_traps_at_once_and_holds_every_kind_of_guest_work_until_its_status_returns()
    {
        var exit = new VmExitState(hypercallInputIrqsOn: false);
        Assert.True(exit.Filled("vcpu0", "call"));
        exit.Trapped();
        Assert.Equal(VcpuWait.Hypercall, exit.Waiting);
        foreach (var kind in Enum.GetValues<GuestWork>())
            Assert.Equal(GuestWorkAction.Stash, exit.OnGuestWork(kind));
        Assert.Throws<InvalidOperationException>(() => exit.Filled("vcpu0", "second call"));
        exit.Resumed("vcpu0", "status");
        Assert.Equal(GuestWorkAction.Run, exit.OnGuestWork(GuestWork.Interrupt));
        Assert.Throws<InvalidOperationException>(() => exit.Resumed("vcpu0", "a status nobody waits for"));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_call_filled_by_its_code_follows_the_same_rules_and_names_the_code_when_refused(bool irqsOn)
    {
        var exit = new VmExitState(irqsOn);
        Assert.Equal(!irqsOn, exit.Filled("vcpu0", HypercallCode.FlushDeviceDomain));
        Assert.Equal(irqsOn ? VcpuWait.IrqWindow : VcpuWait.Nothing, exit.Waiting);
        exit.Trapped();
        var refused = Assert.Throws<InvalidOperationException>(() => exit.Filled("vcpu0", HypercallCode.DetachDeviceDomain));
        Assert.Contains("DetachDeviceDomain", refused.Message);
    }

    [Fact]
    public void H17_defers_the_trap_and_runs_a_pending_interrupt_first_whose_own_call_traps_at_once()
    {
        var exit = new VmExitState(hypercallInputIrqsOn: true);
        Assert.False(exit.Filled("vcpu0", "unmap flush"));
        Assert.Equal(VcpuWait.IrqWindow, exit.Waiting);
        // Work that is no interrupt waits; an interrupt runs now, in interrupt context.
        Assert.Equal(GuestWorkAction.Stash, exit.OnGuestWork(GuestWork.Work));
        Assert.Equal(GuestWorkAction.RunInterrupt, exit.OnGuestWork(GuestWork.Interrupt));
        Assert.True(exit.InInterrupt);
        // The interrupt's own hypercall traps at once; the deferred trap waits for its status.
        Assert.True(exit.Filled("vcpu0", "interrupt's flush"));
        exit.Trapped();
        Assert.False(exit.TrapDue());
        exit.Resumed("vcpu0", "status");
        exit.InterruptEnded();
        Assert.False(exit.InInterrupt);
        Assert.True(exit.TrapDue());
        exit.Trapped();
        Assert.Equal(VcpuWait.Hypercall, exit.Waiting);
    }

    [Fact]
    public void Without_H17_no_interrupt_runs_between_the_fill_and_the_trap()
    {
        var exit = new VmExitState(hypercallInputIrqsOn: false);
        Assert.True(exit.Filled("vcpu0", "call"));
        Assert.False(exit.TrapDue());
        Assert.NotEqual(VcpuWait.IrqWindow, exit.Waiting);
    }

    [Fact]
    public void A_prod_holds_guest_work_until_the_device_answers()
    {
        var exit = new VmExitState(hypercallInputIrqsOn: false);
        Assert.False(exit.ProdAnswered());
        exit.Prodding();
        Assert.Equal(GuestWorkAction.Stash, exit.OnGuestWork(GuestWork.Interrupt));
        Assert.Equal(GuestWorkAction.Run, exit.OnGuestWork(GuestWork.ProdAnswer));
        Assert.True(exit.ProdAnswered());
        Assert.Equal(VcpuWait.Nothing, exit.Waiting);
    }
}
