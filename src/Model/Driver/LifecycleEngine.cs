using HvIommu.Model.Device;
using HvIommu.Model.Hypercalls;
using HvIommu.Model.Memory;
using HvIommu.Model.PageTables;
using HvIommu.Model.Settings;
using HvIommu.Model.Metrics;
using HvIommu.Model.Events;

namespace HvIommu.Model.Driver;

/// <summary>
/// The guest driver's lifecycle on one vCPU, as a pure engine: init (hv_iommu_init, probe, default domains, attach;
/// brief §1.3–§1.6) with its error path (<see cref="InitUnwindPlan"/>), teardown (<see cref="DriverLifecycle.TeardownPlan"/>,
/// <see cref="TeardownLedger"/>), the H9 domain switch and the sysfs switch to DMA-FQ (<see cref="FlushQueueInit"/>).
/// Init and teardown run on vCPU 0. Its paths suspend at each hypercall of <see cref="IGuestPort"/>.
/// </summary>
public sealed partial class LifecycleEngine
{
    private static readonly HvInputDeviceDomain IdentityDomain = HvInputDeviceDomain.Self(DeviceDomainId.S1(DriverWorld.IdentityDomainId));
    private static readonly HvInputDeviceDomain BlockingDomain = HvInputDeviceDomain.Self(DeviceDomainId.S1(DriverWorld.BlockingDomainId));

    /// <summary>What a successful init answers (hv_iommu_init's pr_info).</summary>
    public const string Initialized = "Microsoft Hypervisor IOMMU initialized";

    private readonly GuestCpu _cpu;
    private readonly DriverWorld _world;
    private readonly List<HvInputDeviceDomain> _created = new();
    private InitStep _initStep;
    private bool _initFailed;

    public LifecycleEngine(GuestCpu cpu)
    {
        _cpu = cpu;
        _world = cpu.World;
    }

    private string Name => _cpu.Name;

    /// <summary>Tells the event stream what the lifecycle found (the oracle judges it).</summary>
    private void Found(LifecycleFact fact) => _world.Events.On(SimEvent.LifecycleFound(fact, Name, _world.Clock.NowNs));

    /// <summary>Guest init: performs <see cref="DriverInit.Plan"/>; on a failure reports it (<see cref="IGuestPort.InitFailed"/>)
    /// and runs the error path. Completes with whether init succeeded and what to say about it.</summary>
    public async GuestTask<(bool Succeeded, string Detail)> InitializeAsync()
    {
        ProgramEarlyDmaDevice();
        var result = await TryInitializeAsync();
        if (result is not null)
        {
            _initFailed = true;
            _cpu.Port.InitFailed($"at {_initStep}: {result}");
            var plan = InitUnwindPlan.For(_initStep, _world.Settings.Lifecycle.InitUnwinding);
            _cpu.Log(DriverLogLevel.Error, "{Vcpu}: pvIOMMU init failed at {Step}: {Reason}; unwinding: {Plan}", Name, _initStep, result, string.Join(" → ", plan));
            await UnwindAsync(plan, _initStep, ExitPath.Init);
        }
        return (result is null, result ?? Initialized);
    }

    /// <summary>Performs <see cref="DriverInit.Plan"/>; returns null on success, else what failed, and
    /// <see cref="_initStep"/> names the step (§1.3).</summary>
    private async GuestTask<string?> TryInitializeAsync()
    {
        foreach (var step in DriverInit.Plan)
        {
            _initStep = step;
            var error = step switch
            {
                InitStep.GetCapabilities => await CapabilitiesAsync(),
                // hv_initialize_static_domains (§1.4): identity = translation off; blocking = translation on + blocked.
                InitStep.CreateIdentity => await DomainCallAsync(new CreateDeviceDomainInput(IdentityDomain)),
                InitStep.ConfigureIdentity => await DomainCallAsync(new ConfigureDeviceDomainInput(IdentityDomain, new DeviceDomainSettings(false, false, FirstStagePagingMode.FourLevel, 0))),
                InitStep.CreateBlocking => await DomainCallAsync(new CreateDeviceDomainInput(BlockingDomain)),
                InitStep.ConfigureBlocking => await DomainCallAsync(new ConfigureDeviceDomainInput(BlockingDomain, DeviceDomainSettings.BlockAll)),
                // iommu_device_sysfs_add and iommu_device_register: guest-side fault points (H16).
                InitStep.SysfsAdd or InitStep.Register => DriverInit.GuestStep(step, _world.Settings.Lifecycle),
                _ => await ProbeAndAttachAsync(),
            };
            if (error is not null)
                return DriverInit.StaticDomain(step) is { } which ? $"{which} domain: {error}" : error;
        }
        return null;
    }

    private async GuestTask<string?> CapabilitiesAsync()
    {
        var caps = await _cpu.Hypercall(new GetIommuCapabilitiesInput(), ExitPath.Init);
        return DriverInit.Capabilities(caps.Status, (caps.Output as GetIommuCapabilitiesOutput)?.IommuCap);
    }

    private async GuestTask<string?> DomainCallAsync(IHypercallInput call) =>
        DriverInit.DomainCall(call is CreateDeviceDomainInput, (await _cpu.Hypercall(call, ExitPath.Init)).Status);

    /// <summary>bus_iommu_probe → probe_iommu_group → __iommu_probe_device → probe_device per device (§1.6, DeviceProbe),
    /// then the default DMA domains (hv_iommu_domain_alloc_paging, §1.5), then ATTACH of every managed device (§1.6).</summary>
    private async GuestTask<string?> ProbeAndAttachAsync()
    {
        await ProbeDevicesAsync();
        foreach (var domain in _world.Domains)
        {
            if (await AllocatePagingDomainAsync(domain) is { } error)
                return $"paging domain {domain.Name}: " + error;
        }
        for (var i = 0; i < _world.Devices.Length; i++)
        {
            if (!_world.Managed[i])
                continue;
            var attach = await _cpu.Hypercall(new AttachDeviceDomainInput(_world.DomainOfDevice[i].Identity, _world.Devices[i].LogicalDeviceId), ExitPath.Init);
            if (DriverInit.Attach(_world.Devices[i].Name, attach.Status) is { } error)
                return error;
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
                var prop = await _cpu.Hypercall(new GetLogicalDevicePropertyInput(HvInputDeviceDomain.PartitionIdSelf, device.LogicalDeviceId), ExitPath.Init);
                status = prop.Status;
                enabled = prop.Output is GetLogicalDevicePropertyOutput { IommuEnabled: true };
            }
            var result = DeviceProbe.Probe(ambiguous, trust, status, enabled);
            _world.Managed[i] = result == ProbeResult.Managed;
            if (ambiguous)
            {
                var others = _world.Devices.Where(d => d != device && registry.SharingWith(device.VmbusInstance).Contains(d.VmbusInstance)).Select(d => d.Name);
                if (result == ProbeResult.NoDevice)
                    _cpu.Log(DriverLogLevel.Warning, "{Vcpu}: probe_device of {Device}: logical device id 0x{Id:x} is shared with {Others} (vPCI bus GUID bytes 4–7 agree); -ENODEV, the device is not managed by the pvIOMMU",
                        Name, device.Name, device.LogicalDeviceId, string.Join(", ", others));
                else
                    _cpu.Log(DriverLogLevel.Warning, "{Vcpu}: probe_device of {Device}: logical device id 0x{Id:x} is shared with {Others}, used anyway (H13: driver.hazards.ambiguous-device-id = on)",
                        Name, device.Name, device.LogicalDeviceId, string.Join(", ", others));
            }
            if (result != ProbeResult.Managed)
                _cpu.Count(SimCounter.DevicesNotManaged);
        }
    }

    /// <summary>H11: the device's driver was bound before hv_iommu_init and got a raw-GPA (dma-direct) ring.</summary>
    private void ProgramEarlyDmaDevice()
    {
        var name = _world.Settings.Lifecycle.EarlyDmaDevice;
        var index = _world.Devices.IndexOf(_world.Devices.FirstOrDefault(d => d.Name == name)!);
        if (name.Length == 0 || index < 0)
            return;
        var gpa = _world.Frames.Allocate(FrameOwner.DmaBuffer, _cpu.Index);
        var record = _world.Mappings.RegisterDirect(gpa, _cpu.Index, _world.Clock.NowNs);
        _cpu.Port.SetRawGpaRing(index, new DmaDescriptor(-1, gpa, 1, 1, 64, 1.0, [record]));
        _cpu.Log(DriverLogLevel.Info, "{Vcpu}: {Device} was bound before hv_iommu_init and uses a raw-GPA ring at 0x{Gpa:x} (H11)", Name, name, gpa);
    }

    private async GuestTask<string?> AllocatePagingDomainAsync(GuestDomain domain)
    {
        if (await DomainCallAsync(new CreateDeviceDomainInput(domain.Identity)) is { } error)
            return error;
        _created.Add(domain.Identity);
        domain.CreatedInHypervisor = true;
        var levels = _world.TableLevels;
        domain.Table = new StageOnePageTable(_world.Memory, _world.Frames, levels, (int)domain.Id, _world.IovaWidth, _world.Settings.Driver.Hazards.RacyTableInstall);
        // first_stage_paging_mode = (levels == 5): a 3-level table (table-depth = from-width) is announced as 4-level (H15).
        var mode = TableDepth.PagingMode(levels);
        if (await DomainCallAsync(new ConfigureDeviceDomainInput(domain.Identity, DeviceDomainSettings.Paging(domain.Table.RootGpa, mode))) is { } failed)
            return failed;
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
        if (!DriverInit.FallsBackToStrict(domain.Lazy, _world.Settings.Driver))
            return;
        domain.Lazy = false;
        _cpu.Count(SimCounter.FlushQueueInitFailures);
        _cpu.Log(DriverLogLevel.Warning, "{Vcpu}: iova flush queue initialization failed for domain {DomainId}; it falls back to strict", Name, domain.Id);
    }

    /// <summary>Runs an init error path (<see cref="InitUnwindPlan"/>): exactly the cleanups the chosen goto
    /// targets reach, nothing more (H16). sysfs and the device struct are guest-only and just logged; a cleanup
    /// of a step that never happened (iommu_device_sysfs_remove before iommu_device_sysfs_add) is a violation.</summary>
    private async GuestTask UnwindAsync(IEnumerable<InitCleanup> plan, InitStep failed, ExitPath path)
    {
        foreach (var step in plan)
        {
            if (failed != InitStep.None && InitUnwindPlan.UndoesStepNeverDone(failed, step))
                Found(new UnwindOfStepNeverDone(_world.InitStepName(failed), InitUnwindPlan.Label(step), InitUnwindPlan.Call(step),
                    step == InitCleanup.SysfsRemove ? "iommu_device_sysfs_add()" : "the step it undoes"));
            switch (step)
            {
                case InitCleanup.ReleaseDevices:
                    await ReleaseDevicesAsync();
                    break;
                case InitCleanup.DeleteBlocking:
                    await _cpu.Hypercall(new DeleteDeviceDomainInput(BlockingDomain), path);
                    break;
                case InitCleanup.DeleteIdentity:
                    await _cpu.Hypercall(new DeleteDeviceDomainInput(IdentityDomain), path);
                    break;
                case InitCleanup.FreePagingDomains:
                    await FreePagingDomainsAsync(path);
                    break;
                default:
                    _cpu.Log(DriverLogLevel.Debug, "{Vcpu}: init unwinding: {Step}", Name, step);
                    break;
            }
        }
    }
}
