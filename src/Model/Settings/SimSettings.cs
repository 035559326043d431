using System.Collections.Immutable;
using HvIommu.Model.Hypercalls;

namespace HvIommu.Model.Settings;

/// <summary>Whether a run is a stress run on all cores or a seed-exact deterministic run (docs/design.md §2).</summary>
public enum RunMode { Stress, Deterministic }

/// <summary>The outcome a topology or scenario expects (docs/design.md §3).</summary>
public enum Expectation { Clean, Violation }

/// <summary>
/// Everything one run is made of, read once from HOCON (config/reference.conf documents each key).
/// Pure data: the model and the actors take what they need from it.
/// </summary>
public sealed record SimSettings(
    ulong Seed,
    RunMode Mode,
    Expectation Expect,
    string? ExpectKind,
    string Name,
    string Hazard,
    string Description,
    RunSettings Run,
    VmSettings Vm,
    IommuSettings Iommu,
    DriverSettings Driver,
    HypervisorSettings Hypervisor,
    ImmutableArray<DomainSpec> Domains,
    ImmutableArray<DeviceSpec> Devices,
    WorkloadSettings Workload,
    ImmutableArray<FaultSpec> Faults,
    LifecycleSettings Lifecycle)
{
    /// <summary>
    /// Where the domain switch (lifecycle.domain-switch) moves the first device: "blocking", a domain name, or, for
    /// "", the paging domain after its home domain in <see cref="Domains"/>; null when nothing is switched.
    /// </summary>
    public string? SwitchTargetName
    {
        get
        {
            if (Lifecycle.DomainSwitch == DomainSwitchMode.None || Devices.Length == 0 || Domains.Length == 0)
                return null;
            if (Lifecycle.DomainSwitchTo.Length > 0)
                return Lifecycle.DomainSwitchTo;
            var home = Domains.IndexOf(Domains.FirstOrDefault(d => d.Name == Devices[0].Domain) ?? Domains[0]);
            return Domains[(home + 1) % Domains.Length].Name;
        }
    }

    /// <summary>
    /// Whether the domain switch moves the first device into a paging domain that another device of the topology DMAs
    /// in (its home domain): the move XSA-302 is about, where the device's old IOVAs reach that device's buffers.
    /// A move into an empty paging domain or to blocking only makes the old IOVAs fault.
    /// </summary>
    public bool SwitchesIntoPopulatedDomain =>
        SwitchTargetName is { } to && to != "blocking" && to != Devices[0].Domain
        && Devices.Skip(1).Any(d => d.Domain == to);
}

public sealed record RunSettings(
    long Ops,
    TimeSpan Duration,
    TimeSpan HangTimeout,
    TimeSpan ProgressInterval,
    int MaxViolationsKept,
    bool StopOnFirstViolation,
    bool LazyWindowIsViolation,
    string Dispatcher,
    int TraceCapacity = 200_000,
    bool ReuseActors = true);

public sealed record VmSettings(int MemoryMib, int Vcpus);

/// <summary>What HVCALL_GET_IOMMU_CAPABILITIES reports and the host IOMMU's cache sizes (brief §1.8, §4).</summary>
public sealed record IommuSettings(
    ulong CapabilityBits,
    int MaxIovaWidth,
    int MaxPasidWidth,
    ulong PageSizeBitmap,
    int MaxDomains,
    int IotlbEntries,
    int WalkCacheEntries,
    int AtcEntries);

/// <summary>dma-iommu mode (brief §5.1).</summary>
public enum DmaMode { Strict, Lazy }

/// <summary>Which flush hypercall the driver's iotlb_sync uses (brief §1.7, §1.10).</summary>
public enum FlushKind { Domain, List }

/// <summary>What the driver does when a flush hypercall fails (hazard H8).</summary>
public enum FlushFailurePolicy { Log, Fallback }

public sealed record DriverSettings(
    DmaMode DmaMode,
    TableDepthRule TableDepth,
    FlushKind Flush,
    int FlushQueueEntries,
    TimeSpan FlushQueueTimeout,
    FlushFailurePolicy OnFlushFailure,
    DriverHazards Hazards,
    int FlushQueueHz = 250,
    bool FlushQueueInitFails = false);

/// <summary>Order of the flush handler's invalidations (hazard H4).</summary>
public enum FlushOrder { IotlbFirst, DevTlbFirst }

/// <summary>What the host's flush does about a device that was surprise-removed (link down) and will answer no ATS
/// invalidation and no drain (H5; Linux 4fc82cd907ac "iommu/vt-d: Don't issue ATS Invalidation request when device is
/// disconnected").</summary>
public enum DisconnectedDevicePolicy
{
    /// <summary>Skip it: no ATS invalidation is sent to a device that pci_dev_is_disconnected() reports gone, and one
    /// already sent is given up as soon as the host sees the device is absent (the fix; the safe default).</summary>
    SkipDisconnected,
    /// <summary>Send as usual and wait for the completion the device never sends: the flush hangs (before the fix,
    /// qi_submit_sync kept waiting on the invalidation's wait descriptor).</summary>
    Wait,
    /// <summary>Send as usual and give up after the ATS completion time-out (hypervisor.latency.atc-timeout-ns): safe,
    /// but every flush of the device's domain costs the time-out.</summary>
    TimeOut,
}

/// <summary>The host flush handler's behaviour (brief §2.4, §4; [UNKNOWN] for the pvIOMMU host).</summary>
/// <param name="InvalidateAtc">The flush sends an ATS invalidation to every ATS-enabled device it reaches. Off (H5): the
/// flush never invalidates any device's ATC, as VT-d did for a device whose device-TLB cache tag was never assigned
/// (Linux 041be2717b19 "iommu/vt-d: Fix missed device TLB cache tag": cache_tag_flush_range found no DEVTLB tag for
/// the device, so the domain's flushes skipped its ATC).</param>
/// <param name="OnDisconnectedDevice">What the flush does about a surprise-removed device (H5, Linux 4fc82cd907ac).</param>
/// <param name="WrongOnlyAfterAttach"><see cref="AwaitAtcCompletions"/> off and <see cref="DrainDma"/> off apply only to the
/// first flush of a domain after a device was attached to it; every other flush awaits and drains. The shape of Linux
/// 0b15e02f0cc4 ("iommu/amd: Wait for completion of IOTLB flush in attach_device": the flush attach_device issued
/// did not wait for its completion), shown without breaking every unmap.</param>
public sealed record FlushHandlerSettings(
    FlushOrder Order,
    bool AwaitAtcCompletions,
    bool DrainDma,
    bool InvalidateWalkCache,
    bool InvalidateAtc = true,
    DisconnectedDevicePolicy OnDisconnectedDevice = DisconnectedDevicePolicy.SkipDisconnected,
    bool WrongOnlyAfterAttach = false);

/// <summary>Modelled costs in simulated nanoseconds (brief §7).</summary>
public sealed record LatencySettings(
    long VmExitNs,
    long FlushDomainNs,
    long FlushListNs,
    long AtcInvalidateNs,
    long IotlbHitNs,
    long WalkReferenceNs,
    long DmaTransferNs,
    long HypercallNs = 500,
    long AtcTimeoutNs = 60_000_000_000);

public sealed record HypervisorSettings(FlushHandlerSettings Flush, LatencySettings Latency, HostBehaviourSettings Behaviour);

/// <summary>One paging domain of the topology (a guest default DMA domain).</summary>
public sealed record DomainSpec(string Name);

/// <summary>How a device's DMA engine behaves.</summary>
public enum DeviceBehaviour { WellBehaved, StaleReplay }

/// <summary>One assigned PCI device of the topology.</summary>
/// <param name="VmbusGuid">The VMBus instance GUID of the device's vPCI bus (its logical device id is built from bytes
/// 4–7 of it, brief §1.1); null = drawn from the seed, never aliasing another device's id.</param>
public sealed record DeviceSpec(
    string Name,
    string Domain,
    bool Ats,
    int InFlight,
    DeviceBehaviour Behaviour,
    double ReplayProbability,
    Guid? VmbusGuid = null);

public sealed record WorkloadSettings(
    int BufferPages,
    int DmaPerOp,
    int DmaBytes,
    double WriteFraction,
    int OutstandingPerVcpu)
{
    /// <summary>The buffer-size mix (hviommu.workload.buffer-sizes): each operation draws an entry, then a size in it.
    /// Used when <see cref="BufferPages"/> is 0; buffers of 2 MiB and more come from the hugetlb pools.</summary>
    public System.Collections.Immutable.ImmutableArray<Workload.BufferSizeRange> BufferSizes { get; init; } = [];

    /// <summary>The hugetlb pools (2 MiB pages, 1 GiB pages) the mix needs with <paramref name="vcpus"/> vCPUs.</summary>
    public (int TwoM, int OneG) HugePools(int vcpus) =>
        BufferPages > 0 ? (0, 0) : Workload.BufferBacking.Pools(BufferSizes, vcpus * OutstandingPerVcpu);

    /// <summary>The 4 KiB frames one buffer takes at most (the fixed size, or the mix's small part).</summary>
    public int MaxSmallFramesPerBuffer => BufferPages > 0 ? BufferPages : Workload.BufferBacking.MaxSmallFrames(BufferSizes);

    /// <summary>A kernel ftrace replayed as (part of) the workload; <see cref="TraceWorkloadSettings.None"/> when none.</summary>
    public TraceWorkloadSettings Trace { get; init; } = TraceWorkloadSettings.None;
}

/// <summary>
/// Replaying a kernel ftrace of <c>iommu:map</c>/<c>iommu:unmap</c> events (hviommu.workload.trace*).
/// </summary>
/// <param name="File">The trace file, resolved (relative paths against the config file's directory); "" = none.</param>
/// <param name="Device">The device the trace drives; "" = the topology's first device.</param>
/// <param name="Ordering">global (timestamp order) or per-cpu (each vCPU its own stream).</param>
/// <param name="TimeScale">Simulated ns per traced ns (0 = back to back, as fast as the costs allow).</param>
/// <param name="DmaPerPage">DMA transactions per 4 KiB page of a mapping after it is mapped.</param>
/// <param name="DmaBytes">Bytes each of them moves (at most 4096).</param>
/// <param name="PeriodicDma">A mapping still live this much traced time after its last DMA gets DMA again (long-lived
/// queues and coherent buffers); zero = never.</param>
public sealed record TraceWorkloadSettings(
    string File,
    string Device,
    Workload.TraceOrdering Ordering,
    double TimeScale,
    int DmaPerPage,
    int DmaBytes,
    TimeSpan PeriodicDma)
{
    public static TraceWorkloadSettings None { get; } = new("", "", Workload.TraceOrdering.Global, 1.0, 8, 512, TimeSpan.FromMilliseconds(10));

    public bool Enabled => File.Length > 0;
}

/// <summary>An injected hypercall failure (brief §2.3, hazard H8): a named call fails with a named status.</summary>
public sealed record FaultSpec(HypercallCode Call, double Probability, HvStatus Status);
