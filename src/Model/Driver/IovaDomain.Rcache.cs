using HvIommu.Model.Time;

namespace HvIommu.Model.Driver;

/// <summary>The IOVA range caches (drivers/iommu/iova.c "Magazine caches for IOVA ranges") and the fast paths
/// dma-iommu uses: alloc_iova_fast, free_iova_fast, the per-CPU and global flushes and the depot trim.</summary>
public sealed partial class IovaDomain
{
    /// <summary>IOVA_RANGE_CACHE_MAX_SIZE: size classes 2^0..2^5 pages are cached; sizes below
    /// 2^(6-1) = 32 pages are rounded up to a power of two.</summary>
    public const int RangeCacheMaxSize = 6;

    /// <summary>IOVA_MAG_SIZE: PFNs per magazine (127, so a magazine with its size word is 1 KiB).</summary>
    public const int MagazineSize = 127;

    /// <summary>IOVA_DEPOT_DELAY: msecs_to_jiffies(100) between depot trims.</summary>
    public static readonly TimeSpan DepotDelay = TimeSpan.FromMilliseconds(100);

    private readonly Rcache[] _rcaches;

    /// <summary>What the caches did so far (for reports and tests).</summary>
    public IovaCacheStats Stats
    {
        get { lock (_lock) return _stats; }
    }

    private IovaCacheStats _stats;

    /// <summary>Full magazines in the depot of size class <paramref name="order"/>.</summary>
    public int DepotSize(int order)
    {
        lock (_lock)
            return _rcaches[order].Depot.Count;
    }

    /// <summary>Every PFN parked in a range cache (all CPUs' magazines and the depot): ranges the tree holds that no
    /// mapping uses.</summary>
    public IReadOnlySet<ulong> CachedPfns()
    {
        lock (_lock)
        {
            var pfns = new HashSet<ulong>();
            foreach (var rcache in _rcaches)
            {
                foreach (var mag in rcache.Depot)
                    AddPfns(pfns, mag);
                foreach (var c in rcache.Cpu)
                {
                    AddPfns(pfns, c.Loaded);
                    AddPfns(pfns, c.Prev);
                }
            }
            return pfns;
        }

        static void AddPfns(HashSet<ulong> pfns, Magazine mag)
        {
            for (var i = 0; i < mag.Size; i++)
                pfns.Add(mag.Pfns[i]);
        }
    }

    /// <summary>PFNs in CPU <paramref name="cpu"/>'s (loaded, prev) magazines of size class <paramref name="order"/>.</summary>
    public (int Loaded, int Prev) CpuMagazines(int order, int cpu)
    {
        lock (_lock)
        {
            var c = _rcaches[order].Cpu[cpu];
            return (c.Loaded.Size, c.Prev.Size);
        }
    }

    /// <summary>
    /// alloc_iova_fast (iova.c): round a size below 32 pages up to a power of two; take a cached range of that size
    /// class from <paramref name="cpu"/>'s magazines or the depot when one lies at or below the limit; else
    /// allocate from the tree (size-aligned, top-down below <paramref name="limitPfn"/>, inclusive). When the tree
    /// has no room and <paramref name="flushRcache"/> is set, every CPU's magazines and the depot go back to the tree
    /// and the tree is tried once more.
    /// </summary>
    /// <param name="nowNs">Simulated time: the depot trim's delayed work runs when it is due.</param>
    /// <returns>The range's first PFN, or 0 when none fits.</returns>
    public ulong AllocIovaFast(ulong size, ulong limitPfn, bool flushRcache, int cpu, long nowNs)
    {
        if (size == 0)
            throw new ArgumentOutOfRangeException(nameof(size), size, "an IOVA range has at least one page");
        CheckCpu(cpu);
        lock (_lock)
        {
            RunDueWorkLocked(nowNs);
            if (size < 1UL << (RangeCacheMaxSize - 1))
                size = System.Numerics.BitOperations.RoundUpToPowerOf2(size);
            var pfn = RcacheGetLocked(size, limitPfn + 1, cpu);
            if (pfn != 0)
            {
                _stats = _stats with { CacheHits = _stats.CacheHits + 1 };
                return pfn;
            }
            while (true)
            {
                var range = AllocAndInsertLocked(size, limitPfn + 1, sizeAligned: true);
                if (range is not null)
                {
                    _stats = _stats with { TreeAllocations = _stats.TreeAllocations + 1 };
                    return range.PfnLo;
                }
                if (!flushRcache)
                    return 0;
                // "Try replenishing IOVAs by flushing rcache."
                flushRcache = false;
                _stats = _stats with { CacheFlushes = _stats.CacheFlushes + 1 };
                for (var c = 0; c < Cpus; c++)
                    FreeCpuCachedLocked(c);
                FreeGlobalCachedLocked();
            }
        }
    }

    /// <summary>free_iova_fast (iova.c): park the range in <paramref name="cpu"/>'s magazine of its size class
    /// (order_base_2 of the unrounded <paramref name="size"/>); a range above 32 pages goes back to the tree.</summary>
    public void FreeIovaFast(ulong pfn, ulong size, int cpu, long nowNs)
    {
        CheckCpu(cpu);
        lock (_lock)
        {
            RunDueWorkLocked(nowNs);
            var order = OrderBase2(size);
            if (order < RangeCacheMaxSize && RcacheInsertLocked(_rcaches[order], pfn, cpu, nowNs))
                return;
            var i = FindLocked(pfn);
            if (i >= 0)
                RemoveLocked(i);
        }
    }

    /// <summary>free_cpu_cached_iovas: CPU <paramref name="cpu"/>'s loaded and previous magazines, every size
    /// class, back to the tree.</summary>
    public void FreeCpuCachedIovas(int cpu)
    {
        CheckCpu(cpu);
        lock (_lock)
            FreeCpuCachedLocked(cpu);
    }

    /// <summary>free_global_cached_iovas: every depot magazine back to the tree.</summary>
    public void FreeGlobalCachedIovas()
    {
        lock (_lock)
            FreeGlobalCachedLocked();
    }

    /// <summary>Runs the depot trims due by <paramref name="nowNs"/> (the rcaches' delayed work; a kworker runs it
    /// in the kernel, and nothing reads the caches between its due time and the next call here).</summary>
    public void RunDueWork(long nowNs)
    {
        lock (_lock)
            RunDueWorkLocked(nowNs);
    }

    /// <summary>iova_rcache_get / __iova_rcache_get: loaded magazine, else swap in prev, else a depot magazine
    /// replaces the empty loaded one; then iova_magazine_pop below limit_pfn - size.</summary>
    private ulong RcacheGetLocked(ulong size, ulong limitPfn, int cpu)
    {
        var order = OrderBase2(size);
        if (order >= RangeCacheMaxSize)
            return 0;
        var rcache = _rcaches[order];
        var c = rcache.Cpu[cpu];
        bool hasPfn;
        if (!c.Loaded.Empty)
            hasPfn = true;
        else if (!c.Prev.Empty)
        {
            (c.Loaded, c.Prev) = (c.Prev, c.Loaded);
            hasPfn = true;
        }
        else
        {
            hasPfn = rcache.Depot.TryPop(out var full);
            if (hasPfn)
                c.Loaded = full!;
        }
        return hasPfn ? c.Loaded.Pop(limitPfn - size) : 0;
    }

    /// <summary>__iova_rcache_insert: into loaded, else into prev swapped in, else the full loaded magazine goes
    /// to the depot (scheduling the trim) and a new empty one takes its place.</summary>
    private bool RcacheInsertLocked(Rcache rcache, ulong pfn, int cpu, long nowNs)
    {
        var c = rcache.Cpu[cpu];
        if (c.Loaded.Full)
        {
            if (!c.Prev.Full)
                (c.Loaded, c.Prev) = (c.Prev, c.Loaded);
            else
            {
                rcache.Depot.Push(c.Loaded);
                // schedule_delayed_work: no effect while the work is already pending.
                rcache.WorkDueNs ??= nowNs + DelayNs(nowNs);
                c.Loaded = new Magazine();
            }
        }
        c.Loaded.Push(pfn);
        return true;
    }

    /// <summary>iova_depot_work_func: while the depot holds more magazines than there are online CPUs, free one
    /// back to the tree and come back after IOVA_DEPOT_DELAY.</summary>
    private void RunDueWorkLocked(long nowNs)
    {
        foreach (var rcache in _rcaches)
        {
            while (rcache.WorkDueNs is { } due && due <= nowNs)
            {
                rcache.WorkDueNs = null;
                if (rcache.Depot.Count <= Cpus)
                    break;
                FreeMagazineLocked(rcache.Depot.Pop());
                _stats = _stats with { DepotTrims = _stats.DepotTrims + 1 };
                rcache.WorkDueNs = due + DelayNs(due);
            }
        }
    }

    private long DelayNs(long nowNs) => (long)(JiffiesTimeout.Delay(nowNs, DepotDelay, Hz).Ticks * 100);

    private void FreeCpuCachedLocked(int cpu)
    {
        foreach (var rcache in _rcaches)
        {
            FreeMagazineLocked(rcache.Cpu[cpu].Loaded);
            FreeMagazineLocked(rcache.Cpu[cpu].Prev);
        }
    }

    private void FreeGlobalCachedLocked()
    {
        foreach (var rcache in _rcaches)
            while (rcache.Depot.TryPop(out var mag))
                FreeMagazineLocked(mag);
    }

    /// <summary>iova_magazine_free_pfns: every PFN's range leaves the tree.</summary>
    private void FreeMagazineLocked(Magazine mag)
    {
        for (var i = 0; i < mag.Size; i++)
        {
            var index = FindLocked(mag.Pfns[i]);
            if (index >= 0)
                RemoveLocked(index);
        }
        mag.Size = 0;
    }

    private void CheckCpu(int cpu)
    {
        if ((uint)cpu >= (uint)Cpus)
            throw new ArgumentOutOfRangeException(nameof(cpu), cpu, $"CPUs are 0..{Cpus - 1}");
    }

    /// <summary>struct iova_rcache: the depot (a LIFO of full magazines) and each CPU's pair.</summary>
    private sealed class Rcache(int cpus)
    {
        public readonly Stack<Magazine> Depot = new();
        public readonly CpuRcache[] Cpu = Enumerable.Range(0, cpus).Select(_ => new CpuRcache()).ToArray();
        public long? WorkDueNs;
    }

    private sealed class CpuRcache
    {
        public Magazine Loaded = new();
        public Magazine Prev = new();
    }

    /// <summary>struct iova_magazine: up to IOVA_MAG_SIZE PFNs, pushed and popped at the end.</summary>
    private sealed class Magazine
    {
        // Allocated at the first push: most magazines of a short run stay empty, and a domain has two per CPU per size.
        public ulong[] Pfns = [];
        public int Size;

        public bool Full => Size == MagazineSize;
        public bool Empty => Size == 0;

        public void Push(ulong pfn)
        {
            if (Pfns.Length == 0)
                Pfns = new ulong[MagazineSize];
            Pfns[Size++] = pfn;
        }

        /// <summary>iova_magazine_pop: the last PFN at or below the limit, swapped out with the last one ("only
        /// fall back to the rbtree if we have no suitable pfns at all"); 0 when none is.</summary>
        public ulong Pop(ulong limitPfn)
        {
            var i = Size - 1;
            while (Pfns[i] > limitPfn)
            {
                if (i == 0)
                    return 0;
                i--;
            }
            var pfn = Pfns[i];
            Pfns[i] = Pfns[--Size];
            return pfn;
        }
    }
}

/// <summary>Counts of what an <see cref="IovaDomain"/>'s fast paths did.</summary>
/// <param name="CacheHits">alloc_iova_fast served from a magazine.</param>
/// <param name="TreeAllocations">alloc_iova_fast served from the tree.</param>
/// <param name="CacheFlushes">Allocation failures that flushed every range cache back to the tree.</param>
/// <param name="DepotTrims">Depot magazines the delayed work returned to the tree.</param>
public readonly record struct IovaCacheStats(long CacheHits, long TreeAllocations, long CacheFlushes, long DepotTrims);
