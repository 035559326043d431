using Akka.Actor;
using Akka.Event;
using HvIommu.Actors.Metrics;
using HvIommu.Actors.Protocol;
using HvIommu.Actors.Simulation;
using HvIommu.Model.Device;
using HvIommu.Model.Driver;
using HvIommu.Model.Hypercalls;
using HvIommu.Model.Memory;
using HvIommu.Model.PageTables;
using HvIommu.Model.Settings;

namespace HvIommu.Actors.Vcpu;

/// <summary>Driver init (hv_iommu_init, probe, default domains, attach) and teardown, run by vCPU 0 (brief §1.3–§1.6).</summary>
internal sealed partial class VcpuActor
{
    private static readonly HvInputDeviceDomain IdentityDomain = HvInputDeviceDomain.Self(DeviceDomainId.S1(SimWorld.IdentityDomainId));
    private static readonly HvInputDeviceDomain BlockingDomain = HvInputDeviceDomain.Self(DeviceDomainId.S1(SimWorld.BlockingDomainId));
    private readonly List<HvInputDeviceDomain> _created = new();

    private InitStep _initStep;
    private bool _detachFailed;
    private bool _tablesFreedUnderAttachedDevice;
    private bool _initFailed;
    private GuestTask<HypercallCompleted>? _prod;

    /// <summary>The descriptor id of a device's answer to <see cref="ReplayRecent"/>.</summary>
    private const long ProdDescriptorId = -1;

    private async GuestTask InitializeAsync(InitializeGuest m)
    {
        ProgramEarlyDmaDevice();
        var result = await TryInitializeAsync();
        if (result is not null)
        {
            _initFailed = true;
            _world.InitFailure = $"at {_initStep}: {result}";
            var plan = InitUnwindPlan.For(_initStep, _world.Settings.Lifecycle.InitUnwinding);
            _log.Error("{Vcpu}: pvIOMMU init failed at {Step}: {Reason}; unwinding: {Plan}", Name, _initStep, result, string.Join(" → ", plan));
            await UnwindAsync(plan, _initStep, ExitPath.Init);
        }
        m.ReplyTo.Tell(new GuestInitCompleted(result is null, result ?? "Microsoft Hypervisor IOMMU initialized"));
    }

    /// <summary>Returns null on success, else what failed; <see cref="_initStep"/> names the step (§1.3).</summary>
    private async GuestTask<string?> TryInitializeAsync()
    {
        _initStep = InitStep.GetCapabilities;
        var caps = await HypercallAsync(new GetIommuCapabilitiesInput(), ExitPath.Init);
        if (caps.Status != HvStatus.Success || caps.Output is not GetIommuCapabilitiesOutput output)
            return $"HVCALL_GET_IOMMU_CAPABILITIES returned {caps.Status.LinuxName()} (-ENODEV)";
        if (!output.IommuCap.HasFlag(IommuCapabilities.Present) || !output.IommuCap.HasFlag(IommuCapabilities.S1))
            return "the hypervisor reports no pvIOMMU with stage-1 support (-ENODEV)";

        // hv_initialize_static_domains (§1.4): identity = translation off; blocking = translation on + blocked.
        if (await CreateAndConfigureAsync(IdentityDomain, new DeviceDomainSettings(false, false, FirstStagePagingMode.FourLevel, 0), InitStep.CreateIdentity) is { } e1)
            return "identity domain: " + e1;
        if (await CreateAndConfigureAsync(BlockingDomain, DeviceDomainSettings.BlockAll, InitStep.CreateBlocking) is { } e2)
            return "blocking domain: " + e2;

        // iommu_device_sysfs_add and iommu_device_register: guest-side fault points (H16).
        foreach (var step in new[] { InitStep.SysfsAdd, InitStep.Register })
        {
            _initStep = step;
            if (_world.Settings.Lifecycle.FailInitStep == step)
                return (step == InitStep.SysfsAdd ? "iommu_device_sysfs_add" : "iommu_device_register") + " failed (injected, lifecycle.fail-init-step)";
        }

        // bus_iommu_probe → probe_iommu_group → __iommu_probe_device → probe_device per device (§1.6, DeviceProbe).
        _initStep = InitStep.Probe;
        await ProbeDevicesAsync();

        // Default DMA domains (hv_iommu_domain_alloc_paging, §1.5), then attach (§1.6).
        foreach (var domain in _world.Domains)
        {
            if (await AllocatePagingDomainAsync(domain) is { } e3)
                return $"paging domain {domain.Name}: " + e3;
        }
        for (var i = 0; i < _world.Devices.Length; i++)
        {
            if (!_world.Managed[i])
                continue;
            var attach = await HypercallAsync(new AttachDeviceDomainInput(_world.DomainOfDevice[i].Identity, _world.Devices[i].LogicalDeviceId), ExitPath.Init);
            if (attach.Status != HvStatus.Success && attach.Status != HvStatus.DeviceAlreadyInDomain)
                return $"attach of {_world.Devices[i].Name}: {attach.Status.LinuxName()}";
        }
        return null;
    }

    /// <summary>
    /// The register-time probe walk (iommu.c bus_iommu_probe → probe_iommu_group → __iommu_probe_device) with
    /// hv_iommu_probe_device: each device is probed on its own, and one that returns -ENODEV (not managed: the
    /// property hypercall failed or HV_DEVICE_IOMMU_ENABLED is clear, or its logical id is ambiguous, H13) is left
    /// out while the walk goes on with the others — it gets no default domain, no ATTACH, and no pvIOMMU workload.
    /// Nothing was set up for it, so there is nothing to release (__iommu_probe_device frees only dev->iommu).
    /// </summary>
    private async GuestTask ProbeDevicesAsync()
    {
        var registry = new LogicalIdRegistry();
        foreach (var device in _world.Devices)
            registry.Register(device.VmbusInstance);
        var trust = _world.Settings.Driver.Hazards.AmbiguousDeviceId;
        for (var i = 0; i < _world.Devices.Length; i++)
        {
            var device = _world.Devices[i];
            var ambiguous = registry.IsAmbiguous(device.VmbusInstance);
            HvStatus? status = null;
            var enabled = false;
            if (DeviceProbe.AsksHypervisor(ambiguous, trust))
            {
                var prop = await HypercallAsync(new GetLogicalDevicePropertyInput(HvInputDeviceDomain.PartitionIdSelf, device.LogicalDeviceId), ExitPath.Init);
                status = prop.Status;
                enabled = prop.Output is GetLogicalDevicePropertyOutput { IommuEnabled: true };
            }
            var result = DeviceProbe.Probe(ambiguous, trust, status, enabled);
            _world.Managed[i] = result == ProbeResult.Managed;
            if (ambiguous)
            {
                var others = _world.Devices.Where(d => d != device && registry.SharingWith(device.VmbusInstance).Contains(d.VmbusInstance)).Select(d => d.Name);
                if (result == ProbeResult.NoDevice)
                    _log.Warning("{Vcpu}: probe_device of {Device}: logical device id 0x{Id:x} is shared with {Others} (vPCI bus GUID bytes 4–7 agree); -ENODEV, the device is not managed by the pvIOMMU",
                        Name, device.Name, device.LogicalDeviceId, string.Join(", ", others));
                else
                    _log.Warning("{Vcpu}: probe_device of {Device}: logical device id 0x{Id:x} is shared with {Others}, used anyway (H13: driver.hazards.ambiguous-device-id = on)",
                        Name, device.Name, device.LogicalDeviceId, string.Join(", ", others));
            }
            if (result != ProbeResult.Managed)
                _world.Counters.Add(SimCounter.DevicesNotManaged, 1);
        }
    }

    /// <summary>H11: the device's driver was bound before hv_iommu_init and got a raw-GPA (dma-direct) ring.</summary>
    private void ProgramEarlyDmaDevice()
    {
        var name = _world.Settings.Lifecycle.EarlyDmaDevice;
        var index = _world.Devices.IndexOf(_world.Devices.FirstOrDefault(d => d.Name == name)!);
        if (name.Length == 0 || index < 0)
            return;
        var gpa = _world.Frames.Allocate(FrameOwner.DmaBuffer, _index);
        var record = _world.Oracle.RegisterDirect(gpa, _index, _world.Clock.NowNs);
        _devices[index].Tell(new SetRawGpaRing(new DmaDescriptor(-1, gpa, 1, 1, 64, 1.0, [record])));
        _log.Info("{Vcpu}: {Device} was bound before hv_iommu_init and uses a raw-GPA ring at 0x{Gpa:x} (H11)", Name, name, gpa);
    }

    private async GuestTask<string?> AllocatePagingDomainAsync(GuestDomain domain)
    {
        var create = await HypercallAsync(new CreateDeviceDomainInput(domain.Identity), ExitPath.Init);
        if (create.Status != HvStatus.Success)
            return "HVCALL_CREATE_DEVICE_DOMAIN: " + create.Status.LinuxName();
        _created.Add(domain.Identity);
        domain.CreatedInHypervisor = true;
        var levels = _world.TableLevels;
        domain.Table = new StageOnePageTable(_world.Memory, _world.Frames, levels, (int)domain.Id, _world.IovaWidth, _world.Settings.Driver.Hazards.RacyTableInstall);
        // first_stage_paging_mode = (levels == 5): a 3-level table (table-depth = from-width) is announced as 4-level (H15).
        var mode = TableDepth.PagingMode(levels);
        var configure = await HypercallAsync(new ConfigureDeviceDomainInput(domain.Identity, DeviceDomainSettings.Paging(domain.Table.RootGpa, mode)), ExitPath.Init);
        if (configure.Status != HvStatus.Success)
            return "HVCALL_CONFIGURE_DEVICE_DOMAIN: " + configure.Status.LinuxName();
        InitFlushQueue(domain);
        return null;
    }

    /// <summary>
    /// iommu_dma_init_domain's flush-queue step (dma-iommu.c iommu_dma_init_fq): a lazy (DMA_FQ) domain whose per-CPU
    /// queues cannot be allocated (driver.flush-queue.init-fails) warns and falls back to strict — "If the FQ fails we
    /// can simply fall back to strict mode" — so its unmaps flush synchronously from then on.
    /// </summary>
    private void InitFlushQueue(GuestDomain domain)
    {
        if (!domain.Lazy || !_world.Settings.Driver.FlushQueueInitFails)
            return;
        domain.Lazy = false;
        _world.Counters.Add(SimCounter.FlushQueueInitFailures, 1);
        _log.Warning("{Vcpu}: iova flush queue initialization failed for domain {DomainId}; it falls back to strict", Name, domain.Id);
    }

    private async GuestTask<string?> CreateAndConfigureAsync(HvInputDeviceDomain domain, DeviceDomainSettings settings, InitStep createStep)
    {
        _initStep = createStep;
        var create = await HypercallAsync(new CreateDeviceDomainInput(domain), ExitPath.Init);
        if (create.Status != HvStatus.Success)
            return "HVCALL_CREATE_DEVICE_DOMAIN: " + create.Status.LinuxName();
        _initStep = createStep + 1;
        var configure = await HypercallAsync(new ConfigureDeviceDomainInput(domain, settings), ExitPath.Init);
        return configure.Status == HvStatus.Success ? null : "HVCALL_CONFIGURE_DEVICE_DOMAIN: " + configure.Status.LinuxName();
    }

    /// <summary>Runs an init error path (<see cref="InitUnwindPlan"/>): exactly the cleanups the chosen goto
    /// targets reach, nothing more (H16). sysfs and the device struct are guest-only and just logged; a cleanup
    /// of a step that never happened (iommu_device_sysfs_remove before iommu_device_sysfs_add) is a violation.</summary>
    private async GuestTask UnwindAsync(IEnumerable<InitCleanup> plan, InitStep failed, ExitPath path)
    {
        foreach (var step in plan)
        {
            if (failed != InitStep.None && InitUnwindPlan.UndoesStepNeverDone(failed, step))
                _world.Oracle.ReportUnwindOfStepNeverDone(ConfigWordsName(failed), InitUnwindPlan.Label(step), InitUnwindPlan.Call(step),
                    step == InitCleanup.SysfsRemove ? "iommu_device_sysfs_add()" : "the step it undoes", Name, _world.Clock.NowNs);
            switch (step)
            {
                case InitCleanup.ReleaseDevices:
                    await ReleaseDevicesAsync();
                    break;
                case InitCleanup.DeleteBlocking:
                    await HypercallAsync(new DeleteDeviceDomainInput(BlockingDomain), path);
                    break;
                case InitCleanup.DeleteIdentity:
                    await HypercallAsync(new DeleteDeviceDomainInput(IdentityDomain), path);
                    break;
                case InitCleanup.FreePagingDomains:
                    await FreePagingDomainsAsync(path);
                    break;
                default:
                    _log.Debug("{Vcpu}: init unwinding: {Step}", Name, step);
                    break;
            }
        }
    }

    /// <summary>Domains kept on purpose because a device could not be detached from them (Xen's fix, H10).</summary>
    private readonly List<GuestDomain> _keptAttached = new();

    /// <summary>Why DELETE of a domain was refused, when the driver knows (a failed DETACH).</summary>
    private (string Hazard, string Text)? _deleteRefusedCause;

    /// <summary>hv_iommu_paging_domain_free for every paging domain: pt_iommu_deinit, then DELETE (§1.5). A domain the
    /// host still has a device attached to keeps its tables with lifecycle.keep-tables-when-detach-fails (Xen's
    /// fix 7b658fd273f9); otherwise freeing them is reported (HostReferencedTablesFreed).</summary>
    private async GuestTask FreePagingDomainsAsync(ExitPath path)
    {
        for (var i = _created.Count - 1; i >= 0; i--)
        {
            var domain = _world.Domains.First(d => d.Identity == _created[i]);
            var attached = _world.Host.DevicesIn(domain.Id);
            if (attached.Count > 0 && _detachFailed && _world.Settings.Lifecycle.KeepTablesWhenDetachFails)
            {
                _log.Warning("{Vcpu}: domain {DomainId} still has {Devices} attached after a failed detach: its tables are kept and it is not deleted",
                    Name, domain.Id, string.Join(", ", attached.Select(d => d.Name)));
                _keptAttached.Add(domain);
                continue;
            }
            if (attached.Count > 0 && domain.Table is not null)
                _tablesFreedUnderAttachedDevice = true;
            if (attached.Count > 0 && domain.Table is not null)
                _world.Oracle.ReportHostReferencedFree(domain.Id, attached.Select(d => d.Name).ToList(),
                    _world.Frames.CountOwnedBy(FrameOwner.PageTable, (int)domain.Id), Name, _world.Clock.NowNs);
            FreeTable(domain);
            var status = (await HypercallAsync(new DeleteDeviceDomainInput(domain.Identity), path)).Status;
            if (status != HvStatus.Success)
            {
                _log.Error("{Vcpu}: HVCALL_DELETE_DEVICE_DOMAIN of domain {DomainId} failed: {Status}", Name, domain.Id, status.LinuxName());
                if (status == HvStatus.InvalidDeviceState && _detachFailed)
                    _deleteRefusedCause = (_world.Oracle.Causes.On(Model.Oracle.Cause.FreeTablesDespiteFailedDetach) ? "H10" : "",
                        $"DELETE of domain {domain.Id} was refused ({status.LinuxName()}) because DETACH of its device failed: the device is still attached at the host.");
                else if (status == HvStatus.InvalidDeviceState && attached.Count > 0)
                    _deleteRefusedCause = DeleteBeforeDetach(domain.Id, status, attached.Select(d => d.Name));
            }
            domain.CreatedInHypervisor = false;
        }
        _created.Clear();
    }

    /// <summary>Why DELETE was refused when teardown deleted a domain its devices were still attached to (the host
    /// answers HV_STATUS_INVALID_DEVICE_STATE, brief §2.3): H10's free-before-detach order when that knob is on.</summary>
    private (string Hazard, string Text) DeleteBeforeDetach(uint domain, HvStatus status, IEnumerable<string> attached)
    {
        var knob = _world.Oracle.Causes.On(Model.Oracle.Cause.FreeDomainBeforeDetach);
        return (knob ? "H10" : "",
            $"DELETE of domain {domain} was refused ({status.LinuxName()}) because {string.Join(", ", attached)} was still attached to it: "
            + (knob ? "teardown freed and deleted the domain before detaching its devices (H10: lifecycle.free-domain-before-detach = on, §1.5)."
                    : "teardown deleted the domain before detaching its devices."));
    }

    /// <summary>
    /// Teardown after the workload: release every device (detach, as the RFC's release path does, then flush),
    /// free the flush queues' parked table pages unflushed (iommu_dma_free_fq), free each paging domain
    /// (pt_iommu_deinit, then DELETE, §1.5), delete the static domains, and let the oracle count what is left
    /// (H10, H16).
    /// </summary>
    private async GuestTask TeardownAsync(TeardownGuest m)
    {
        CancelTimers();
        // The order is DriverLifecycle.TeardownPlan's: none after a failed init (what the error path left is what
        // leaks, H16); with H10 iommu_dma_free_fq, pt_iommu_deinit + DELETE while devices are still attached.
        foreach (var step in DriverLifecycle.TeardownPlan(_world.Settings.Lifecycle, _initFailed))
        {
            switch (step)
            {
                case TeardownStep.ReleaseDevices:
                    await ReleaseDevicesAsync();
                    break;
                case TeardownStep.ProdDevices:
                    await ProdDevicesAsync();
                    break;
                case TeardownStep.FreeFlushQueues:
                    FreeFlushQueues();
                    break;
                case TeardownStep.FreePagingDomains:
                    await FreePagingDomainsAsync(ExitPath.Teardown);
                    // A device the host refused to detach is still attached to a domain whose tables were just freed
                    // (keep-tables-when-detach-fails = off, the RFC's teardown): its DMA now walks the freed tables (H10).
                    // H10's own order prods the devices after this step anyway.
                    if (_tablesFreedUnderAttachedDevice && !_world.Settings.Lifecycle.FreeDomainBeforeDetach)
                        await ProdDevicesAsync();
                    break;
                case TeardownStep.DeleteStaticDomains:
                    await UnwindAsync([InitCleanup.DeleteBlocking, InitCleanup.DeleteIdentity], InitStep.None, ExitPath.Teardown);
                    break;
            }
        }
        // Domains kept on purpose after a failed detach (and their tables) are no leak.
        var tablesLeft = _world.Frames.CountOwnedBy(FrameOwner.PageTable) - _keptAttached.Sum(d => _world.Frames.CountOwnedBy(FrameOwner.PageTable, (int)d.Id));
        _world.Oracle.CheckTeardown(_world.Host.DomainCount, _keptAttached.Count, tablesLeft, _world.Clock.NowNs, _deleteRefusedCause,
            _world.Domains.Sum(d => d.TablesOrphanedByRacyInstall));
        var buffersLeft = _world.Frames.CountOwnedBy(FrameOwner.DmaBuffer);
        m.ReplyTo.Tell(new GuestTeardownCompleted($"{_world.Host.DomainCount} device domains and {tablesLeft} table pages left; {buffersLeft} DMA buffers still allocated"));
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
                FreeFrames(queue.FreeAll(), "table page");
                if (queue.OverrunEntriesLost > 0)
                    _log.Warning("{Vcpu}: flush-queue overruns of domain {DomainId} dropped {Entries} entries; their {Pages} IOVA pages were never freed (H18)",
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
        var held = new HashSet<ulong>(domain.Iova.CachedPfns());
        foreach (var queue in domain.Queues)
            held.UnionWith(queue.PendingPfns());
        held.UnionWith(_world.LiveIovas.Keys.Where(k => k.Domain == domain.Id).Select(k => k.Pfn));
        var lost = domain.Iova.Ranges().Where(r => !held.Contains(r.PfnLo)).ToList();
        if (lost.Count > 0)
            _world.Oracle.ReportLeakedIova(domain.Id, lost.Count, (ulong)lost.Sum(r => (long)r.Pages), lost[0].PfnLo << GuestMemory.PageShift, Name, _world.Clock.NowNs);
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
            var status = (await HypercallAsync(new DetachDeviceDomainInput(HvInputDeviceDomain.PartitionIdSelf, device.LogicalDeviceId), ExitPath.Teardown)).Status;
            if (status != HvStatus.Success)
            {
                _detachFailed = true;
                _log.Error("{Vcpu}: HVCALL_DETACH_DEVICE_DOMAIN of {Device} failed: {Status}; it stays attached at the host", Name, device.Name, status.LinuxName());
            }
        }
        foreach (var domain in _world.Domains.Where(d => d.CreatedInHypervisor || d.Table is not null))
            await HypercallAsync(new FlushDeviceDomainInput(domain.Identity), ExitPath.Teardown);
    }

    /// <summary>The fault driver: misbehaving devices replay their recent descriptors now (H10's window),
    /// one device at a time; the vCPU waits for each device's completion (descriptor −1) as it would for a hypercall.</summary>
    private async GuestTask ProdDevicesAsync()
    {
        foreach (var device in _devices)
        {
            _awaiting = Awaiting.Prod;
            _prod = new GuestTask<HypercallCompleted>();
            device.Tell(new ReplayRecent(Self));
            await _prod;
        }
    }

    /// <summary>The prodded device finished its replays: continue the teardown.</summary>
    private void ResumeProd()
    {
        var waiting = _prod!;
        _prod = null;
        _awaiting = Awaiting.Nothing;
        Stash.UnstashAll();
        waiting.SetResult(null!);
    }

    private static string ConfigWordsName(InitStep step) => Configuration.ConfigWords.Name(Configuration.ConfigWords.InitStep, step);

    private void FreeTable(GuestDomain domain)
    {
        if (domain.Table is not { } table)
            return;
        var freed = new List<ulong>();
        table.Deinit(freed);
        domain.Table = null;
    }
}
