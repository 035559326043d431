namespace HvIommu.Model.Driver;

/// <summary>One deferred unmap waiting in a flush queue (struct iova_fq_entry, brief §5.3).</summary>
/// <param name="Counter">The domain's flush-start count when it was queued.</param>
/// <param name="FreeList">Page-table pages released with the entry: its unmap's, plus any an overrun entry
/// left in the same slot (queue_iova splices onto the slot's list).</param>
/// <param name="Payload">What the owner needs to release with it (the oracle's mapping records).</param>
public sealed record FlushQueueEntry(ulong IovaPfn, int Pages, long Counter, IReadOnlyList<ulong> FreeList, object? Payload);

/// <summary>
/// The counters a lazy DMA domain shares across CPUs (brief §5.3): <c>fq_flush_start_cnt</c>,
/// <c>fq_flush_finish_cnt</c> and <c>fq_timer_on</c>. A flush is start++ → flush_iotlb_all → finish++.
/// </summary>
public sealed class FlushQueueDomain
{
    private long _start;
    private long _finish;
    private int _timerOn;

    public long StartCount => Interlocked.Read(ref _start);
    public long FinishCount => Interlocked.Read(ref _finish);

    /// <summary>fq_flush_iotlb's first half: start++ before the flush hypercall.</summary>
    public void FlushStarting() => Interlocked.Increment(ref _start);

    /// <summary>fq_flush_iotlb's second half: finish++ after the hypercall returned.</summary>
    public void FlushFinished() => Interlocked.Increment(ref _finish);

    /// <summary>Sets fq_timer_on; true when this caller must arm the timer (it was clear).</summary>
    public bool TryArmTimer() => Interlocked.CompareExchange(ref _timerOn, 1, 0) == 0;

    /// <summary>fq_flush_timeout clears the flag first, so unmaps during the flush re-arm it.</summary>
    public void TimerFired() => Volatile.Write(ref _timerOn, 0);

    /// <summary>iommu_dma_init_fq's first step: <c>atomic64_set</c> of both flush counters to 0. Run while an
    /// fq_flush_iotlb is between its two increments (possible only when fq_domain was published first, H2), it leaves
    /// finish one ahead of start for good, and every later entry is reaped one flush early.</summary>
    public void ResetCounters()
    {
        Interlocked.Exchange(ref _start, 0);
        Interlocked.Exchange(ref _finish, 0);
    }

    /// <summary>iommu_dma_init_fq's <c>timer_setup</c> and <c>atomic_set(&amp;fq_timer_on, 0)</c>. A timer an early unmap
    /// already armed still fires in the model (Linux re-initialising a pending timer_list is undefined).</summary>
    public void SetupTimer() => Volatile.Write(ref _timerOn, 0);
}

/// <summary>
/// One CPU's flush queue of a lazy DMA domain (drivers/iommu/dma-iommu.c <c>struct iova_fq</c>, brief §5.3):
/// a power-of-two ring of slots with head and tail, of which <c>fq_full</c> keeps one empty — 256 slots hold
/// 255 entries. Reaping (<c>fq_ring_free_locked</c>) goes FIFO up to the first entry whose counter is not
/// below the finish count, so an entry is released only after a flush that began after it was queued has
/// completed. The lock is the per-CPU fq lock (taken with IRQs off in Linux); the timer path reaps every
/// CPU's queue under its lock.
/// </summary>
public sealed class FlushQueue
{
    // The ring's slots are created on first use: a strict domain never queues, and an explorer builds one queue per
    // vCPU and domain per schedule. A slot is non-null from its first AddLocked on; every slot between head and tail
    // has been added to, so only AddLocked and the whole-ring sweeps meet a null one.
    private Slot?[]? _slots;
    private readonly Lock _lock = new();
    private readonly int _size;
    private readonly int _mask;
    private int _head;
    private int _tail;

    /// <param name="size">Slots in the ring (IOVA_DEFAULT_FQ_SIZE 256, or 32768 for the single queue); a power of two.</param>
    /// <param name="brokenCounterRule">Hazard H2 knob: reap entries whose counter is not above the finish count.</param>
    public FlushQueue(FlushQueueDomain domain, int size, bool brokenCounterRule = false)
    {
        if (size < 2 || (size & (size - 1)) != 0)
            throw new ArgumentOutOfRangeException(nameof(size), size, "a flush queue has a power-of-two number of slots, at least 2 (mod_mask = size - 1)");
        Domain = domain;
        _size = size;
        _mask = size - 1;
        BrokenCounterRule = brokenCounterRule;
    }

    public FlushQueueDomain Domain { get; }

    /// <summary>Slots in the ring; <see cref="UsableEntries"/> of them can hold entries at once.</summary>
    public int Capacity => _size;

    /// <summary>fq_full: tail + 1 == head, so one slot always stays empty.</summary>
    public int UsableEntries => _size - 1;

    public bool BrokenCounterRule { get; }

    /// <summary>Entries an overrun dropped from the ring (Linux's queue_iova adding to a still-full ring): their
    /// IOVAs are never freed while the domain lives.</summary>
    public long OverrunEntriesLost { get; private set; }

    /// <summary>Pages of IOVA space those lost entries held.</summary>
    public long OverrunPagesLost { get; private set; }

    public int Count
    {
        get
        {
            lock (_lock)
                return (_tail - _head) & _mask;
        }
    }

    /// <summary>queue_iova up to its full check: reap, then append unless the ring is full. False when full even
    /// after reaping: the caller flushes inline (fq_flush_iotlb) and calls <see cref="AddAfterFlush"/>.</summary>
    public bool TryEnqueue(ulong iovaPfn, int pages, IReadOnlyList<ulong> freeList, object? payload, List<FlushQueueEntry> released)
    {
        lock (_lock)
        {
            ReapLocked(released);
            if (FullLocked())
                return false;
            AddLocked(iovaPfn, pages, freeList, payload);
            return true;
        }
    }

    /// <summary>
    /// queue_iova after its one inline flush: reap again, then add. With <paramref name="overrun"/> (Linux as
    /// written, dma-iommu.c queue_iova: <c>fq_ring_add</c> runs whether or not the ring is still full) a ring still
    /// full — a flush another CPU started earlier has not finished — wraps: tail meets head, every entry in it
    /// (the new one too) drops out of the ring and its IOVA leaks, while its table pages stay on the slot's list
    /// until a later entry reuses the slot. Without it the caller flushes again until there is room.
    /// </summary>
    /// <returns>False only without <paramref name="overrun"/>, when the ring is still full.</returns>
    public bool AddAfterFlush(ulong iovaPfn, int pages, IReadOnlyList<ulong> freeList, object? payload, List<FlushQueueEntry> released, bool overrun)
    {
        lock (_lock)
        {
            ReapLocked(released);
            if (FullLocked())
            {
                if (!overrun)
                    return false;
                for (var i = _head; i != _tail; i = (i + 1) & _mask)
                {
                    OverrunEntriesLost++;
                    OverrunPagesLost += _slots![i]!.Pages;
                }
                OverrunEntriesLost++;
                OverrunPagesLost += pages;
            }
            AddLocked(iovaPfn, pages, freeList, payload);
            return true;
        }
    }

    /// <summary>The IOVA PFNs of the entries in the ring now (an overrun's dropped entries are not among them).</summary>
    public IReadOnlyList<ulong> PendingPfns()
    {
        lock (_lock)
        {
            var pfns = new List<ulong>();
            for (var i = _head; i != _tail; i = (i + 1) & _mask)
                pfns.Add(_slots![i]!.IovaPfn);
            return pfns;
        }
    }

    /// <summary>fq_ring_free: release every entry a completed flush covers, oldest first.</summary>
    public void Reap(List<FlushQueueEntry> released)
    {
        lock (_lock)
            ReapLocked(released);
    }

    /// <summary>
    /// iommu_dma_free_fq (dma-iommu.c, domain teardown): after stopping the timer, frees the table pages of the
    /// entries still in the ring — with no flush — and forgets them; their IOVAs go with the whole IOVA domain
    /// (put_iova_domain). Pages left on slots outside the ring by an overrun are not reached: they leak.
    /// </summary>
    /// <returns>The table pages to free now.</returns>
    public List<ulong> FreeAll()
    {
        lock (_lock)
        {
            var pages = new List<ulong>();
            for (var i = _head; i != _tail; i = (i + 1) & _mask)
            {
                pages.AddRange(_slots![i]!.FreeList);
                _slots[i]!.Clear();
            }
            _head = _tail;
            return pages;
        }
    }

    /// <summary>
    /// iommu_dma_init_one_fq (dma-iommu.c): head = tail = 0 and every entry's freelist re-initialised. On a ring an
    /// unmap already used (fq_domain published too early, H2) its entries drop out: their IOVAs are never freed and
    /// their table pages never released.
    /// </summary>
    /// <returns>The entries dropped, the IOVA pages they held and the table pages on the slots' lists.</returns>
    public (int Entries, long Pages, int TablePages) Initialise()
    {
        lock (_lock)
        {
            var (entries, pages) = (0, 0L);
            for (var i = _head; i != _tail; i = (i + 1) & _mask)
            {
                entries++;
                pages += _slots![i]!.Pages;
            }
            var tables = 0;
            foreach (var slot in _slots ?? [])
            {
                if (slot is null)
                    continue;
                tables += slot.FreeList.Count;
                slot.Clear();
            }
            _head = _tail = 0;
            return (entries, pages, tables);
        }
    }

    private bool FullLocked() => ((_tail + 1) & _mask) == _head;

    /// <summary>fq_ring_add and the entry fill: the slot's table-page list is spliced onto, not replaced.</summary>
    private void AddLocked(ulong iovaPfn, int pages, IReadOnlyList<ulong> freeList, object? payload)
    {
        var slot = (_slots ??= new Slot?[_size])[_tail] ??= new Slot();
        _tail = (_tail + 1) & _mask;
        slot.IovaPfn = iovaPfn;
        slot.Pages = pages;
        slot.Counter = Domain.StartCount;
        slot.Payload = payload;
        slot.FreeList.AddRange(freeList);
    }

    private void ReapLocked(List<FlushQueueEntry> released)
    {
        var finish = Domain.FinishCount;
        for (; _head != _tail; _head = (_head + 1) & _mask)
        {
            var slot = _slots![_head]!;
            if (BrokenCounterRule ? slot.Counter > finish : slot.Counter >= finish)
                break;
            released.Add(new FlushQueueEntry(slot.IovaPfn, slot.Pages, slot.Counter, slot.FreeList.ToArray(), slot.Payload));
            slot.Clear();
        }
    }

    private sealed class Slot
    {
        public ulong IovaPfn;
        public int Pages;
        public long Counter;
        public object? Payload;
        public readonly List<ulong> FreeList = new();

        public void Clear()
        {
            FreeList.Clear();
            Payload = null;
        }
    }
}
