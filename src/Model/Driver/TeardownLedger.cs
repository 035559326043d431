using HvIommu.Model.Hypercalls;
using HvIommu.Model.Settings;

namespace HvIommu.Model.Driver;

/// <summary>What teardown does with one paging domain (hv_iommu_paging_domain_free, brief §1.5; H10).</summary>
public enum PagingDomainFree
{
    /// <summary>pt_iommu_deinit, then DELETE: no device is attached to it at the host.</summary>
    Free,
    /// <summary>Xen's fix (7b658fd273f9, lifecycle.keep-tables-when-detach-fails): a device could not be detached from it,
    /// so its tables stay (the IOMMU may still walk them) and it is not deleted.</summary>
    Keep,
    /// <summary>The RFC's teardown: its tables are freed while the host still has a device attached that walks them (H10).</summary>
    FreeUnderAttachedDevice,
}

/// <summary>Why the host refused HVCALL_DELETE_DEVICE_DOMAIN at teardown (HV_STATUS_INVALID_DEVICE_STATE, brief §2.3).</summary>
public enum DeleteRefusal
{
    /// <summary>Not refused for a reason the driver knows (success, or another status).</summary>
    None,
    /// <summary>DETACH of its device failed earlier: the device is still attached at the host.</summary>
    DetachFailed,
    /// <summary>Teardown deleted it while its devices were still attached (H10's free-before-detach order).</summary>
    DeletedBeforeDetach,
}

/// <summary>
/// The driver's teardown bookkeeping (brief §1.5, §1.6; H10): whether a DETACH failed, which paging domains are kept
/// because of it, whether tables were freed under a device the host still has attached (then the devices are prodded
/// again, <see cref="TeardownStep.ProdDevicesOnFreedTables"/>), and why a DELETE was refused. Owned by the vCPU that
/// runs init and teardown.
/// </summary>
public sealed class TeardownLedger(LifecycleSettings life)
{
    private readonly List<uint> _kept = new();

    /// <summary>A DETACH failed: the device stays attached at the host.</summary>
    public bool DetachFailed { get; private set; }

    /// <summary>Some domain's tables were freed while the host still had a device attached to it.</summary>
    public bool TablesFreedUnderAttachedDevice { get; private set; }

    /// <summary>Domains kept on purpose after a failed detach (their tables are no leak).</summary>
    public IReadOnlyList<uint> Kept => _kept;

    /// <summary>HVCALL_DETACH_DEVICE_DOMAIN returned <paramref name="status"/>; false when it failed.</summary>
    public bool Detached(HvStatus status)
    {
        if (status == HvStatus.Success)
            return true;
        DetachFailed = true;
        return false;
    }

    /// <summary>What to do with paging domain <paramref name="domain"/>, which has <paramref name="attachedDevices"/> devices
    /// attached at the host and tables (<paramref name="hasTable"/>) or not.</summary>
    public PagingDomainFree FreePagingDomain(uint domain, int attachedDevices, bool hasTable)
    {
        if (attachedDevices > 0 && DetachFailed && life.KeepTablesWhenDetachFails)
        {
            _kept.Add(domain);
            return PagingDomainFree.Keep;
        }
        if (attachedDevices > 0 && hasTable)
        {
            TablesFreedUnderAttachedDevice = true;
            return PagingDomainFree.FreeUnderAttachedDevice;
        }
        return PagingDomainFree.Free;
    }

    /// <summary>DELETE of <paramref name="domain"/> (with <paramref name="attachedDevices"/> attached) returned
    /// <paramref name="status"/>: why it was refused, as far as the driver knows.</summary>
    public DeleteRefusal Deleted(uint domain, HvStatus status, int attachedDevices) =>
        status != HvStatus.InvalidDeviceState ? DeleteRefusal.None
            : DetachFailed ? DeleteRefusal.DetachFailed
            : attachedDevices > 0 ? DeleteRefusal.DeletedBeforeDetach
            : DeleteRefusal.None;

    /// <summary>Whether <paramref name="step"/> of the teardown plan is performed: the prod after freeing the paging
    /// domains only when tables were freed under a device the host still walks them for.</summary>
    public bool Performs(TeardownStep step) => step != TeardownStep.ProdDevicesOnFreedTables || TablesFreedUnderAttachedDevice;
}
