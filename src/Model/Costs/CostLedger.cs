namespace HvIommu.Model.Costs;

/// <summary>What a modelled cost is charged for (hviommu.hypervisor.latency documents each figure).</summary>
public enum CostKind
{
    /// <summary>A VM exit and re-entry (every hypercall is one).</summary>
    VmExit,
    /// <summary>The hypervisor's handling of a hypercall beyond the exit (input decode, domain lookup).</summary>
    Hypercall,
    /// <summary>HVCALL_FLUSH_DEVICE_DOMAIN: a domain-selective IOTLB and walk-cache invalidation.</summary>
    FlushDomain,
    /// <summary>HVCALL_FLUSH_DEVICE_DOMAIN_LIST: one page-selective invalidation per list entry.</summary>
    FlushListEntry,
    /// <summary>An ATS invalidation request to a device and its completion.</summary>
    AtcInvalidation,
    /// <summary>A translation served by the IOMMU's IOTLB.</summary>
    IotlbHit,
    /// <summary>One memory reference of a nested (stage 1 × stage 2) walk.</summary>
    WalkReference,
    /// <summary>A DMA transaction's data transfer.</summary>
    DmaTransfer,
}

/// <summary>
/// The run's cost model in simulated time (brief §7): every modelled event is charged its configured nanoseconds,
/// totalled by kind; the guest side of it is also placed on a timeline per vCPU (a vCPU is busy during its VM
/// exits and the flushes it waits for), and each event of a replayed trace starts no earlier than its scaled
/// trace timestamp, so <see cref="MakespanNs"/> is how long the run would take in simulated time. Thread-safe.
/// </summary>
public sealed class CostLedger
{
    private readonly long[] _ns = new long[Enum.GetValues<CostKind>().Length];
    private readonly long[] _count = new long[Enum.GetValues<CostKind>().Length];
    // Each vCPU's timeline, updated atomically (the hypervisor, the flush handler and the vCPU charge it from their
    // own threads); its total is read once the run is quiet.
    private readonly long[] _vcpuClock;
    private long _flushNs;
    private long _deviceNs;

    public CostLedger(int vcpus) => _vcpuClock = new long[Math.Max(1, vcpus)];

    /// <summary>Charges <paramref name="count"/> events of <paramref name="kind"/> at <paramref name="nsEach"/> each.</summary>
    public void Charge(CostKind kind, long nsEach, long count = 1)
    {
        Interlocked.Add(ref _ns[(int)kind], nsEach * count);
        Interlocked.Add(ref _count[(int)kind], count);
    }

    /// <summary>Nanoseconds charged to <paramref name="kind"/>.</summary>
    public long Ns(CostKind kind) => Interlocked.Read(ref _ns[(int)kind]);

    /// <summary>Events charged to <paramref name="kind"/>.</summary>
    public long Count(CostKind kind) => Interlocked.Read(ref _count[(int)kind]);

    /// <summary>Everything charged, ns.</summary>
    public long TotalNs => Enum.GetValues<CostKind>().Sum(Ns);

    /// <summary>Simulated ns spent in flushes (their exits, hypercall handling, invalidations, ATS round trips).</summary>
    public long FlushNs => Interlocked.Read(ref _flushNs);

    /// <summary>Adds to <see cref="FlushNs"/>.</summary>
    public void AddFlushNs(long ns) => Interlocked.Add(ref _flushNs, ns);

    /// <summary>vCPU <paramref name="vcpu"/> is busy for <paramref name="ns"/> (an exit, a flush it waits for).</summary>
    public void VcpuBusy(int vcpu, long ns)
    {
        if ((uint)vcpu >= (uint)_vcpuClock.Length)
            return;
        Interlocked.Add(ref _vcpuClock[vcpu], ns);
    }

    /// <summary>vCPU <paramref name="vcpu"/> starts an event traced at <paramref name="atNs"/> (already scaled): it
    /// cannot start before then.</summary>
    public void VcpuStartsAt(int vcpu, long atNs)
    {
        if ((uint)vcpu >= (uint)_vcpuClock.Length)
            return;
        ref var clock = ref _vcpuClock[vcpu];
        var seen = Interlocked.Read(ref clock);
        while (seen < atNs)
        {
            var was = Interlocked.CompareExchange(ref clock, atNs, seen);
            if (was == seen)
                return;
            seen = was;
        }
    }

    /// <summary>Device-side time (translations and transfers), which overlaps the vCPUs' work.</summary>
    public void DeviceBusy(long ns) => Interlocked.Add(ref _deviceNs, ns);

    /// <summary>The run's length in simulated time: the latest vCPU timeline, or the device's work if longer.</summary>
    public long MakespanNs
    {
        get
        {
            var latest = Interlocked.Read(ref _deviceNs);
            for (var i = 0; i < _vcpuClock.Length; i++)
                latest = Math.Max(latest, Interlocked.Read(ref _vcpuClock[i]));
            return latest;
        }
    }
}
