using HvIommu.Model.Events;
using HvIommu.Model.Hypercalls;
using HvIommu.Model.Memory;
using HvIommu.Model.Settings;

namespace HvIommu.Model.Driver;

/// <summary>Teardown after the workload, and the parts of it an init's error path shares (release, free, delete).</summary>
public sealed partial class LifecycleEngine
{
    private TeardownLedger? _ledger;

    /// <summary>Why DELETE of a domain was refused, when the driver knows (a failed DETACH).</summary>
    private (string Hazard, string Text)? _deleteRefusedCause;

    /// <summary>The teardown's bookkeeping: failed detaches, domains kept because of them, tables freed under a device.</summary>
    private TeardownLedger Ledger => _ledger ??= new TeardownLedger(_world.Settings.Lifecycle);

    /// <summary>
    /// Teardown after the workload: release every device (detach, as the RFC's release path does, then flush),
    /// free the flush queues' parked table pages unflushed (iommu_dma_free_fq), free each paging domain
    /// (pt_iommu_deinit, then DELETE, §1.5), delete the static domains, and let the oracle count what is left
    /// (H10, H16). Completes with what is left.
    /// </summary>
    public async GuestTask<string> TeardownAsync()
    {
        _cpu.StopTimers();
        // The order is DriverLifecycle.TeardownPlan's: none after a failed init (what the error path left is what
        // leaks, H16); with H10 iommu_dma_free_fq, pt_iommu_deinit + DELETE while devices are still attached.
        foreach (var step in DriverLifecycle.TeardownPlan(_world.Settings.Lifecycle, _initFailed))
        {
            if (!Ledger.Performs(step))
                continue;
            switch (step)
            {
                case TeardownStep.ReleaseDevices:
                    await ReleaseDevicesAsync();
                    break;
                case TeardownStep.ProdDevices:
                case TeardownStep.ProdDevicesOnFreedTables:
                    await ProdDevicesAsync();
                    break;
                case TeardownStep.FreeFlushQueues:
                    FreeFlushQueues();
                    break;
                case TeardownStep.FreePagingDomains:
                    await FreePagingDomainsAsync(ExitPath.Teardown);
                    break;
                case TeardownStep.DeleteStaticDomains:
                    await UnwindAsync([InitCleanup.DeleteBlocking, InitCleanup.DeleteIdentity], InitStep.None, ExitPath.Teardown);
                    break;
            }
        }
        // Domains kept on purpose after a failed detach (and their tables) are no leak.
        var tablesLeft = _world.Frames.CountOwnedBy(FrameOwner.PageTable) - Ledger.Kept.Sum(d => _world.Frames.CountOwnedBy(FrameOwner.PageTable, (int)d));
        Found(new TeardownAudit(_world.Host.DomainCount, Ledger.Kept.Count, tablesLeft, _deleteRefusedCause,
            _world.Domains.Sum(d => d.TablesOrphanedByRacyInstall)));
        var buffersLeft = _world.Frames.CountOwnedBy(FrameOwner.DmaBuffer);
        return $"{_world.Host.DomainCount} device domains and {tablesLeft} table pages left; {buffersLeft} DMA buffers still allocated";
    }

    /// <summary>hv_iommu_paging_domain_free for every paging domain: pt_iommu_deinit, then DELETE (§1.5), as
    /// <see cref="TeardownLedger.FreePagingDomain"/> decides: a domain the host still has a device attached to keeps its
    /// tables with lifecycle.keep-tables-when-detach-fails (Xen's fix 7b658fd273f9); otherwise freeing them is reported
    /// (HostReferencedTablesFreed).</summary>
    private async GuestTask FreePagingDomainsAsync(ExitPath path)
    {
        for (var i = _created.Count - 1; i >= 0; i--)
        {
            var domain = _world.Domains.First(d => d.Identity == _created[i]);
            var attached = _world.Host.DevicesIn(domain.Id);
            switch (Ledger.FreePagingDomain(domain.Id, attached.Count, domain.Table is not null))
            {
                case PagingDomainFree.Keep:
                    _cpu.Log(DriverLogLevel.Warning, "{Vcpu}: domain {DomainId} still has {Devices} attached after a failed detach: its tables are kept and it is not deleted",
                        Name, domain.Id, string.Join(", ", attached.Select(d => d.Name)));
                    continue;
                case PagingDomainFree.FreeUnderAttachedDevice:
                    Found(new TablesFreedUnderDevice(domain.Id, attached.Select(d => d.Name).ToList(),
                        _world.Frames.CountOwnedBy(FrameOwner.PageTable, (int)domain.Id)));
                    break;
            }
            FreeTable(domain);
            var status = (await _cpu.Hypercall(new DeleteDeviceDomainInput(domain.Identity), path)).Status;
            if (status != HvStatus.Success)
            {
                _cpu.Log(DriverLogLevel.Error, "{Vcpu}: HVCALL_DELETE_DEVICE_DOMAIN of domain {DomainId} failed: {Status}", Name, domain.Id, status.LinuxName());
                _deleteRefusedCause = Ledger.Deleted(domain.Id, status, attached.Count) switch
                {
                    DeleteRefusal.DetachFailed => (_world.Causes.On(Oracle.Cause.FreeTablesDespiteFailedDetach) ? "H10" : "",
                        $"DELETE of domain {domain.Id} was refused ({status.LinuxName()}) because DETACH of its device failed: the device is still attached at the host."),
                    DeleteRefusal.DeletedBeforeDetach => DeleteBeforeDetach(domain.Id, status, attached.Select(d => d.Name)),
                    _ => _deleteRefusedCause,
                };
            }
            domain.CreatedInHypervisor = false;
        }
        _created.Clear();
    }

    /// <summary>Why DELETE was refused when teardown deleted a domain its devices were still attached to (the host
    /// answers HV_STATUS_INVALID_DEVICE_STATE, brief §2.3): H10's free-before-detach order when that knob is on.</summary>
    private (string Hazard, string Text) DeleteBeforeDetach(uint domain, HvStatus status, IEnumerable<string> attached)
    {
        var knob = _world.Causes.On(Oracle.Cause.FreeDomainBeforeDetach);
        return (knob ? "H10" : "",
            $"DELETE of domain {domain} was refused ({status.LinuxName()}) because {string.Join(", ", attached)} was still attached to it: "
            + (knob ? "teardown freed and deleted the domain before detaching its devices (H10: lifecycle.free-domain-before-detach = on, §1.5)."
                    : "teardown deleted the domain before detaching its devices."));
    }

    /// <summary>
    /// iommu_put_dma_cookie → iommu_dma_free_fq (dma-iommu.c) for every lazy domain: the timer is stopped and the
    /// table pages still parked in the flush queues are freed with no flush (the IOVAs go with the IOVA domain).
    /// Safe only because the devices were released and the domain flushed first; with free-domain-before-detach
    /// the walk caches may still point at them (H10). Overrun-dropped IOVAs are reported here (H18).
    /// </summary>
    private void FreeFlushQueues()
    {
        foreach (var domain in _world.Domains.Where(d => d.Table is not null))
        {
            CheckIovaAccounting(domain);
            foreach (var queue in domain.Queues)
            {
                _cpu.FreeFrames(queue.FreeAll(), "table page");
                if (queue.OverrunEntriesLost > 0)
                    _cpu.Log(DriverLogLevel.Warning, "{Vcpu}: flush-queue overruns of domain {DomainId} dropped {Entries} entries; their {Pages} IOVA pages were never freed (H18)",
                        Name, domain.Id, queue.OverrunEntriesLost, queue.OverrunPagesLost);
            }
        }
    }

    /// <summary>
    /// Before put_iova_domain reclaims everything: every range the IOVA allocator still holds must be held by a live
    /// mapping, parked in a range cache, or queued on a flush queue; anything else was lost while the domain lived (H18).
    /// </summary>
    private void CheckIovaAccounting(GuestDomain domain)
    {
        var ranges = domain.Iova.Ranges();
        if (ranges.Count == 0)
            return;
        var held = new HashSet<ulong>(domain.Iova.CachedPfns());
        foreach (var queue in domain.Queues)
            held.UnionWith(queue.PendingPfns());
        foreach (var (liveDomain, pfn) in _world.LiveIovas.Keys)
        {
            if (liveDomain == domain.Id)
                held.Add(pfn);
        }
        var lost = new List<IovaRange>();
        foreach (var range in ranges)
        {
            if (!held.Contains(range.PfnLo))
                lost.Add(range);
        }
        if (lost.Count > 0)
            Found(new IovaLeak(domain.Id, lost.Count, (ulong)lost.Sum(r => (long)r.Pages), lost[0].PfnLo << GuestMemory.PageShift));
    }

    /// <summary>release_device for every device (the RFC's detach, which flushes the old domain, §1.6);
    /// later revisions disable ATS first (§1.10).</summary>
    private async GuestTask ReleaseDevicesAsync()
    {
        for (var i = 0; i < _world.Devices.Length; i++)
        {
            var device = _world.Devices[i];
            if (device.View.AttachedNowhere)
                continue;
            if (_world.Settings.Lifecycle.DisableAtsBeforeBlock)
                device.DisableAts(_world.Settings.Lifecycle.AtsToggleInvalidatesAtc);
            var status = (await _cpu.Hypercall(new DetachDeviceDomainInput(HvInputDeviceDomain.PartitionIdSelf, device.LogicalDeviceId), ExitPath.Teardown)).Status;
            if (!Ledger.Detached(status))
            {
                _cpu.Log(DriverLogLevel.Error, "{Vcpu}: HVCALL_DETACH_DEVICE_DOMAIN of {Device} failed: {Status}; it stays attached at the host", Name, device.Name, status.LinuxName());
            }
        }
        foreach (var domain in _world.Domains.Where(d => d.CreatedInHypervisor || d.Table is not null))
            await _cpu.Hypercall(new FlushDeviceDomainInput(domain.Identity), ExitPath.Teardown);
    }

    /// <summary>The fault driver: misbehaving devices replay their recent descriptors now (H10's window),
    /// one device at a time; the vCPU waits for each device's replays as it would for a hypercall.</summary>
    private async GuestTask ProdDevicesAsync()
    {
        for (var i = 0; i < _world.Devices.Length; i++)
            await _cpu.Port.ProdDevice(i);
    }

    private static void FreeTable(GuestDomain domain)
    {
        if (domain.Table is not { } table)
            return;
        var freed = new List<ulong>();
        table.Deinit(freed);
        domain.Table = null;
    }
}
