using HvIommu.Model.Driver;
using HvIommu.Model.Hypercalls;
using HvIommu.Model.Settings;

namespace HvIommu.Model.Tests.Driver;

/// <summary>Teardown's bookkeeping around a refused DETACH (brief §1.5, §2.3; H10): which paging domains keep their tables,
/// when the devices are prodded again, and why a DELETE was refused — without an actor system.</summary>
[Trait("Category", "Model")]
public sealed class TeardownLedgerTests
{
    private static readonly LifecycleSettings Rfc = LifecycleSettings.Safe;
    private static readonly LifecycleSettings XenFix = LifecycleSettings.Safe with { KeepTablesWhenDetachFails = true };

    [Fact]
    public void A_domain_no_device_is_attached_to_is_freed_and_nothing_is_prodded_again()
    {
        var ledger = new TeardownLedger(Rfc);
        Assert.True(ledger.Detached(HvStatus.Success));
        Assert.Equal(PagingDomainFree.Free, ledger.FreePagingDomain(3, attachedDevices: 0, hasTable: true));
        Assert.Equal(DeleteRefusal.None, ledger.Deleted(3, HvStatus.Success, 0));
        Assert.False(ledger.Performs(TeardownStep.ProdDevicesOnFreedTables));
        Assert.True(ledger.Performs(TeardownStep.ProdDevices));
        Assert.Empty(ledger.Kept);
    }

    [Fact]
    public void H10_the_rfc_frees_tables_under_a_device_it_failed_to_detach_then_prods_the_devices_and_delete_is_refused()
    {
        var ledger = new TeardownLedger(Rfc);
        Assert.False(ledger.Detached(HvStatus.InvalidDeviceState));
        Assert.True(ledger.DetachFailed);
        Assert.Equal(PagingDomainFree.FreeUnderAttachedDevice, ledger.FreePagingDomain(3, attachedDevices: 1, hasTable: true));
        Assert.True(ledger.Performs(TeardownStep.ProdDevicesOnFreedTables));
        Assert.Equal(DeleteRefusal.DetachFailed, ledger.Deleted(3, HvStatus.InvalidDeviceState, 1));
        Assert.Empty(ledger.Kept);
    }

    [Fact]
    public void Xens_fix_keeps_the_tables_and_the_domain_of_a_device_that_could_not_be_detached()
    {
        var ledger = new TeardownLedger(XenFix);
        ledger.Detached(HvStatus.InvalidDeviceState);
        Assert.Equal(PagingDomainFree.Keep, ledger.FreePagingDomain(3, attachedDevices: 1, hasTable: true));
        Assert.Equal(PagingDomainFree.Free, ledger.FreePagingDomain(4, attachedDevices: 0, hasTable: true));
        Assert.Equal([3u], ledger.Kept);
        Assert.False(ledger.Performs(TeardownStep.ProdDevicesOnFreedTables));
    }

    [Fact]
    public void Deleting_before_detaching_is_refused_for_the_attached_devices_and_other_failures_are_unexplained()
    {
        var ledger = new TeardownLedger(Rfc with { FreeDomainBeforeDetach = true });
        Assert.Equal(PagingDomainFree.FreeUnderAttachedDevice, ledger.FreePagingDomain(3, attachedDevices: 2, hasTable: true));
        Assert.Equal(DeleteRefusal.DeletedBeforeDetach, ledger.Deleted(3, HvStatus.InvalidDeviceState, 2));
        Assert.Equal(DeleteRefusal.None, ledger.Deleted(4, HvStatus.InvalidDeviceState, 0));
        Assert.Equal(DeleteRefusal.None, ledger.Deleted(5, HvStatus.InsufficientMemory, 2));
        // A domain whose tables are already gone frees nothing under its device.
        Assert.Equal(PagingDomainFree.Free, new TeardownLedger(Rfc).FreePagingDomain(6, attachedDevices: 1, hasTable: false));
    }
}
