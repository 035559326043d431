namespace HvIommu.Model.Driver;

/// <summary>One deferred unmap waiting in a flush queue (struct iova_fq_entry, brief §5.3).</summary>
/// <param name="Counter">The domain's flush-start count when it was queued.</param>
/// <param name="FreeList">Page-table pages unlinked by the unmap, freed with the entry.</param>
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
}

/// <summary>
/// One CPU's flush queue of a lazy DMA domain (brief §5.3): a ring of <c>IOVA_FQ_SIZE</c> (256) entries,
/// reaped in FIFO order up to the first entry whose counter is not below the finish count — so an entry
/// is released only after a flush that began after it was queued has completed. The lock is the per-CPU
/// fq lock (taken with IRQs off in Linux); the timer path reaps every CPU's queue under its lock.
/// </summary>
public sealed class FlushQueue(FlushQueueDomain domain, int capacity, bool brokenCounterRule = false)
{
    private readonly Queue<FlushQueueEntry> _ring = new(capacity);

    public FlushQueueDomain Domain { get; } = domain;
    public int Capacity { get; } = capacity;

    /// <summary>Hazard H2 knob: reap entries whose counter is not below finish (released one flush too early).</summary>
    public bool BrokenCounterRule { get; } = brokenCounterRule;

    public int Count
    {
        get
        {
            lock (_ring)
                return _ring.Count;
        }
    }

    /// <summary>queue_iova: reap, then append unless still full. Returns false when the queue is full even
    /// after reaping: the caller must flush inline (fq_flush_iotlb) and call again.</summary>
    public bool TryEnqueue(ulong iovaPfn, int pages, IReadOnlyList<ulong> freeList, object? payload, List<FlushQueueEntry> released)
    {
        lock (_ring)
        {
            ReapLocked(released);
            if (_ring.Count >= Capacity)
                return false;
            _ring.Enqueue(new FlushQueueEntry(iovaPfn, pages, Domain.StartCount, freeList, payload));
            return true;
        }
    }

    /// <summary>fq_ring_free: release every entry a completed flush covers, oldest first.</summary>
    public void Reap(List<FlushQueueEntry> released)
    {
        lock (_ring)
            ReapLocked(released);
    }

    private void ReapLocked(List<FlushQueueEntry> released)
    {
        var finish = Domain.FinishCount;
        while (_ring.TryPeek(out var head) && (BrokenCounterRule ? head.Counter <= finish : head.Counter < finish))
            released.Add(_ring.Dequeue());
    }
}
