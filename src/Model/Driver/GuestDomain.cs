using HvIommu.Model.Hypercalls;
using HvIommu.Model.PageTables;

namespace HvIommu.Model.Driver;

/// <summary>
/// The guest's side of one paging domain (struct hv_iommu_domain, brief §1.2, with the dma-iommu cookie
/// of §5): its hypervisor identity, its stage-1 table in guest memory, its IOVA allocator and, in lazy
/// mode, the shared flush-queue counters and one flush queue per vCPU. Shared by every vCPU that maps
/// for a device of the domain.
/// </summary>
public sealed class GuestDomain
{
    /// <param name="brokenCounterRule">Hazard H2: the flush queues reap one flush early (<see cref="FlushQueue.BrokenCounterRule"/>).</param>
    /// <param name="hz">CONFIG_HZ, for the IOVA depot trim's delay.</param>
    public GuestDomain(string name, uint id, int vcpus, int flushQueueEntries, bool brokenCounterRule = false, int hz = 250)
    {
        Iova = new IovaDomain(vcpus, startPfn: 1, hz);
        Name = name;
        Id = id;
        Identity = HvInputDeviceDomain.Self(DeviceDomainId.S1(id));
        Fq = new FlushQueueDomain();
        Queues = Enumerable.Range(0, vcpus).Select(_ => new FlushQueue(Fq, flushQueueEntries, brokenCounterRule)).ToArray();
    }

    public string Name { get; }

    /// <summary>The guest-chosen device-domain id (from the driver's IDA, brief §1.3 step 4).</summary>
    public uint Id { get; }

    public HvInputDeviceDomain Identity { get; }

    /// <summary>Null until the domain is allocated (hv_iommu_domain_alloc_paging), and after it is freed.</summary>
    public StageOnePageTable? Table
    {
        get => _table;
        set
        {
            _orphanedByFreedTables += _table?.TablesOrphanedByRacyInstall ?? 0;
            _table = value;
        }
    }

    /// <summary>Table pointers racy installs (H6) overwrote in this domain's tables, freed ones included: the
    /// tables they orphaned are leaked, whatever teardown does.</summary>
    public int TablesOrphanedByRacyInstall => _orphanedByFreedTables + (_table?.TablesOrphanedByRacyInstall ?? 0);

    private StageOnePageTable? _table;
    private int _orphanedByFreedTables;

    /// <summary>The cookie's IOVA domain (iommu_dma_init_domain: a 4 KiB granule, base_pfn 1), one pair of range-cache
    /// magazines per vCPU.</summary>
    public IovaDomain Iova { get; }

    public FlushQueueDomain Fq { get; }

    /// <summary>True while the domain is IOMMU_DOMAIN_DMA_FQ (lazy unmaps through its flush queues); false for a
    /// strict domain, and for a lazy one whose flush queue could not be set up (iommu_dma_init_domain falls back to
    /// strict).</summary>
    /// <remarks>Read once per unmap and written with release semantics, as READ_ONCE / WRITE_ONCE of the cookie's
    /// <c>fq_domain</c> (<see cref="FlushQueueInit"/>).</remarks>
    public bool Lazy
    {
        get => Volatile.Read(ref _lazy);
        set => Volatile.Write(ref _lazy, value);
    }

    private bool _lazy;

    /// <summary>One flush queue per vCPU (the per-CPU iova_fq of §5.3).</summary>
    public FlushQueue[] Queues { get; }

    /// <summary>True once CREATE succeeded in the hypervisor and until DELETE.</summary>
    public bool CreatedInHypervisor { get; set; }
}
