using Akka.Actor;
using Akka.Event;
using HvIommu.Model.Driver;
using HvIommu.Model.Hypercalls;
using HvIommu.Model.Memory;
using HvIommu.Model.PageTables;

namespace HvIommu.Actors.Simulation;

/// <summary>Driver init (hv_iommu_init, probe, default domains, attach) and teardown, run by vCPU 0 (brief §1.3–§1.6).</summary>
internal sealed partial class VcpuActor
{
    private static readonly HvInputDeviceDomain IdentityDomain = HvInputDeviceDomain.Self(DeviceDomainId.S1(SimWorld.IdentityDomainId));
    private static readonly HvInputDeviceDomain BlockingDomain = HvInputDeviceDomain.Self(DeviceDomainId.S1(SimWorld.BlockingDomainId));
    private readonly List<HvInputDeviceDomain> _created = new();

    private async Task InitializeAsync(InitializeGuest m)
    {
        var result = await TryInitializeAsync();
        if (result is not null)
        {
            _log.Error("{Vcpu}: pvIOMMU init failed: {Reason}", Name, result);
            await UnwindAsync();
        }
        m.ReplyTo.Tell(new GuestInitCompleted(result is null, result ?? "Microsoft Hypervisor IOMMU initialized"));
    }

    /// <summary>Returns null on success, else what failed.</summary>
    private async Task<string?> TryInitializeAsync()
    {
        var caps = await HypercallAsync(new GetIommuCapabilitiesInput());
        if (caps.Status != HvStatus.Success || caps.Output is not GetIommuCapabilitiesOutput output)
            return $"HVCALL_GET_IOMMU_CAPABILITIES returned {caps.Status.LinuxName()} (-ENODEV)";
        if (!output.IommuCap.HasFlag(IommuCapabilities.Present) || !output.IommuCap.HasFlag(IommuCapabilities.S1))
            return "the hypervisor reports no pvIOMMU with stage-1 support (-ENODEV)";

        // hv_initialize_static_domains (§1.4): identity = translation off; blocking = translation on + blocked.
        if (await CreateAndConfigureAsync(IdentityDomain, new DeviceDomainSettings(false, false, FirstStagePagingMode.FourLevel, 0)) is { } e1)
            return "identity domain: " + e1;
        if (await CreateAndConfigureAsync(BlockingDomain, new DeviceDomainSettings(true, true, FirstStagePagingMode.FourLevel, 0)) is { } e2)
            return "blocking domain: " + e2;

        // probe_device (§1.6): is the endpoint managed by the pvIOMMU?
        for (var i = 0; i < _world.Devices.Length; i++)
        {
            var device = _world.Devices[i];
            var prop = await HypercallAsync(new GetLogicalDevicePropertyInput(HvInputDeviceDomain.PartitionIdSelf, device.LogicalDeviceId));
            _world.Managed[i] = prop.Status == HvStatus.Success && prop.Output is GetLogicalDevicePropertyOutput { IommuEnabled: true };
        }

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
            var attach = await HypercallAsync(new AttachDeviceDomainInput(_world.DomainOfDevice[i].Identity, _world.Devices[i].LogicalDeviceId));
            if (attach.Status != HvStatus.Success && attach.Status != HvStatus.DeviceAlreadyInDomain)
                return $"attach of {_world.Devices[i].Name}: {attach.Status.LinuxName()}";
        }
        return null;
    }

    private async Task<string?> AllocatePagingDomainAsync(GuestDomain domain)
    {
        var create = await HypercallAsync(new CreateDeviceDomainInput(domain.Identity));
        if (create.Status != HvStatus.Success)
            return "HVCALL_CREATE_DEVICE_DOMAIN: " + create.Status.LinuxName();
        _created.Add(domain.Identity);
        domain.CreatedInHypervisor = true;
        var levels = _world.Settings.Driver.PageTableLevels;
        domain.Table = new StageOnePageTable(_world.Memory, _world.Frames, levels, (int)domain.Id, _world.IovaWidth, _world.Settings.Driver.Hazards.RacyTableInstall);
        var mode = levels == 5 ? FirstStagePagingMode.FiveLevel : FirstStagePagingMode.FourLevel;
        var configure = await HypercallAsync(new ConfigureDeviceDomainInput(domain.Identity, DeviceDomainSettings.Paging(domain.Table.RootGpa, mode)));
        return configure.Status == HvStatus.Success ? null : "HVCALL_CONFIGURE_DEVICE_DOMAIN: " + configure.Status.LinuxName();
    }

    private async Task<string?> CreateAndConfigureAsync(HvInputDeviceDomain domain, DeviceDomainSettings settings)
    {
        var create = await HypercallAsync(new CreateDeviceDomainInput(domain));
        if (create.Status != HvStatus.Success)
            return "HVCALL_CREATE_DEVICE_DOMAIN: " + create.Status.LinuxName();
        _created.Add(domain);
        var configure = await HypercallAsync(new ConfigureDeviceDomainInput(domain, settings));
        return configure.Status == HvStatus.Success ? null : "HVCALL_CONFIGURE_DEVICE_DOMAIN: " + configure.Status.LinuxName();
    }

    /// <summary>The fixed error path (later revisions, §1.9): delete what was created, newest first, and free the tables.</summary>
    private async Task UnwindAsync()
    {
        foreach (var domain in _world.Domains)
            FreeTable(domain);
        for (var i = _created.Count - 1; i >= 0; i--)
            await HypercallAsync(new DeleteDeviceDomainInput(_created[i]));
        _created.Clear();
    }

    /// <summary>
    /// Teardown after the workload: drain the flush queues, release every device (detach, as the RFC's
    /// release path does), flush and free each paging domain (pt_iommu_deinit, then DELETE, §1.5), delete
    /// the static domains, and let the oracle count what is left (H10, H16).
    /// </summary>
    private async Task TeardownAsync(TeardownGuest m)
    {
        Timers.CancelAll();
        foreach (var domain in _world.Domains.Where(d => d.Table is not null))
        {
            await FlushQueueFlushAsync(domain);
            ReapAll(domain);
        }
        for (var i = 0; i < _world.Devices.Length; i++)
        {
            if (_world.Devices[i].View.DomainId != DeviceDomainId.Null)
                await HypercallAsync(new DetachDeviceDomainInput(HvInputDeviceDomain.PartitionIdSelf, _world.Devices[i].LogicalDeviceId));
        }
        foreach (var domain in _world.Domains.Where(d => d.Table is not null))
            await FlushAsync(domain, new FlushDeviceDomainInput(domain.Identity));
        await UnwindAsync();
        var tablesLeft = _world.Frames.CountOwnedBy(FrameOwner.PageTable);
        _world.Oracle.CheckTeardown(_world.Host.DomainCount, 0, tablesLeft, _world.Clock.NowNs);
        var buffersLeft = _world.Frames.CountOwnedBy(FrameOwner.DmaBuffer);
        m.ReplyTo.Tell(new GuestTeardownCompleted($"{_world.Host.DomainCount} device domains and {tablesLeft} table pages left; {buffersLeft} DMA buffers still allocated"));
    }

    private void FreeTable(GuestDomain domain)
    {
        if (domain.Table is not { } table)
            return;
        var freed = new List<ulong>();
        table.Deinit(freed);
        domain.Table = null;
    }
}
