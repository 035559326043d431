using System.Collections.Concurrent;
using System.Collections.Immutable;
using HvIommu.Model.Events;
using HvIommu.Model.Hypercalls;
using HvIommu.Model.Mappings;
using HvIommu.Model.Memory;
using HvIommu.Model.PageTables;

namespace HvIommu.Model.Ledger;

/// <summary>
/// The run's registry of mappings and the life of each (docs/design.md §2: mapping → mapped → unmapped → flushed),
/// kept from the run's <see cref="SimEventStream"/>: the driver registers a mapping before it writes the leaf; the
/// events it and the IOMMU emit (leaf written, cleared, released by the flush queue; flushes started and completed)
/// move each <see cref="MappingRecord"/> along. The world owns one and hands it to the oracle (which only reads it,
/// to judge), to the translator (the shadow data of an IOTLB fill) and to the host's page migration (H14).
/// Thread-safe: stress mode emits from every core at once. It must see each event before the oracle does, so it
/// subscribes first.
/// </summary>
public sealed class MappingLedger : ISimEventSink, IMappingLookup
{
    private readonly FrameAllocator _frames;
    private readonly MappingRegistry _registry = new();
    private readonly ConcurrentDictionary<uint, DomainFlushTrack> _tracks = new();

    /// <param name="frames">The guest's frame allocator: a mapping records its data frame's generation when registered.</param>
    public MappingLedger(FrameAllocator frames) => _frames = frames;

    /// <summary>Serials handed out: every mapping the run registered.</summary>
    public long MappingsRegistered => _registry.Count;

    /// <summary>What the ledger holds right now (see <see cref="MappingRetention"/>): bounded by the IOVAs in use and
    /// the unmaps awaiting a flush, not by the mappings of the run.</summary>
    public MappingRetention Retention
    {
        get
        {
            int pending = 0, overflow = 0;
            foreach (var track in _tracks.Values)
                lock (track)
                {
                    pending += track.Pending.Count;
                    overflow += track.Overflow.Count(w => w.TryGetTarget(out _));
                }
            return new MappingRetention(_registry.LiveCount, _registry.RecentCount, pending, overflow);
        }
    }

    /// <summary>A dma-direct mapping (no IOMMU yet): the device was given the buffer's raw GPA (H11). Registered
    /// under domain <see cref="DeviceDomainId.Default"/> and live from now on.</summary>
    public MappingRecord RegisterDirect(ulong gpa, int vcpu, long nowNs)
    {
        var record = Register(DeviceDomainId.Default, gpa, gpa, PageSize.Size4K, writable: true, vcpu, nowNs);
        record.MarkMapped();
        return record;
    }

    /// <summary>dma_map is about to write a leaf: the mapping exists from now on (state Mapping).</summary>
    public MappingRecord Register(uint domain, ulong iova, ulong gpa, PageSize size, bool writable, int vcpu, long nowNs)
    {
        var record = new MappingRecord(_registry.NextSerial(), domain, iova, gpa, size, writable, _frames.GenerationOf(gpa), vcpu, nowNs);
        _registry.Add(record);
        return record;
    }

    /// <summary>The leaf is written.</summary>
    public void Mapped(MappingRecord record) => record.MarkMapped();

    /// <summary>dma_unmap is about to clear the leaf.</summary>
    public void UnmapStarting(MappingRecord record, long nowNs, bool queued) => record.MarkUnmapped(long.MaxValue, nowNs, queued);

    /// <summary>The leaf is cleared (and the CPU has fenced, as queue_iova's smp_mb does, brief §5.3): from now
    /// on only a flush that starts after this moment covers the mapping.</summary>
    public void UnmapDone(MappingRecord record, long nowNs)
    {
        Interlocked.MemoryBarrier();
        var track = Track(record.Domain);
        lock (track)
        {
            record.MarkUnmapped(track.Started, nowNs, record.Queued);
            track.Pending.Add(record);
            if (track.Pending.Count > PendingHeldLimit)
                track.SpillOldest(PendingHeldLimit);
        }
        _registry.RemoveLive(record);
    }

    /// <summary>fq_ring_free released the queued unmap's IOVA and table pages: its flush-queue window is over, so
    /// a stale use of it from now on is no longer H3's accepted trade-off (a correct queue releases only after a
    /// covering flush, so this matters only when the queue is broken, H2).</summary>
    public void FlushQueueReleased(MappingRecord record) => record.MarkReleased();

    /// <summary>The mapping (live, or the last one unmapped at that IOVA) whose leaf points at <paramref name="pageGpa"/>.</summary>
    public MappingRecord? FindMapping(uint domain, ulong iova, ulong pageGpa) => _registry.FindMapping(domain, iova, pageGpa);

    /// <inheritdoc />
    public IReadOnlyList<MappingRecord> Mapped(uint domain) => _registry.Mapped(domain);

    /// <summary>The record of the mapping <paramref name="fact"/> describes while it is registered and its unmap has
    /// not completed (its <see cref="MappingRecord.State"/> says how far it got), else null: what a device descriptor's
    /// page is judged against. Looked up by domain, IOVA and page size, comparing serials, so a mapping unmapped and
    /// replaced at the same IOVA is not mistaken for its successor; no index by serial is kept.</summary>
    public MappingRecord? Live(MappingFact fact) => _registry.Live(fact);

    /// <summary>Observes one event of the run's stream: the mapping and flush events move the records along; the
    /// others are the oracle's.</summary>
    public void On(in SimEvent e)
    {
        switch (e.Kind)
        {
            case SimEventKind.MappingWritten:
                Mapped(e.Mapping!);
                break;
            case SimEventKind.MappingClearing:
                UnmapStarting(e.Mapping!, e.TimeNs, e.Queued);
                break;
            case SimEventKind.MappingCleared:
                UnmapDone(e.Mapping!, e.TimeNs);
                break;
            case SimEventKind.MappingReleased:
                FlushQueueReleased(e.Mapping!);
                break;
            case SimEventKind.FlushStarted:
                var started = Track(e.Domain);
                lock (started)
                    started.Started = Math.Max(started.Started, e.FlushSeq);
                break;
            case SimEventKind.FlushCompleted:
                FlushCompleted(e.Domain, e.FlushSeq, e.Blocks, e.TimeNs);
                break;
        }
    }

    /// <summary>A flush of <paramref name="domain"/> begins (before it invalidates anything); returns its number. The
    /// run numbers its flushes in the IOMMU (<see cref="SimEventKind.FlushStarted"/>); this numbers them here, for
    /// tests that drive the ledger alone.</summary>
    public long FlushStarted(uint domain)
    {
        var track = Track(domain);
        lock (track)
            return ++track.Started;
    }

    /// <summary>Flush number <paramref name="seq"/> has completed: every mapping unmapped before it started and
    /// covered by <paramref name="blocks"/> (all, when null) is now flushed.</summary>
    public void FlushCompleted(uint domain, long seq, ImmutableArray<FlushVa>? blocks, long nowNs)
    {
        var track = Track(domain);
        lock (track)
        {
            // In place, in order, without a closure: a flush completes on the hot path of every strict unmap.
            var pending = track.Pending;
            var kept = 0;
            for (var i = 0; i < pending.Count; i++)
                if (!TryMarkFlushed(pending[i], seq, blocks, nowNs))
                    pending[kept++] = pending[i];
            pending.RemoveRange(kept, pending.Count - kept);
            if (track.Overflow.Count > 0)
                FlushOverflow(track, seq, blocks, nowNs);
        }
    }

    // Apart, so that the closure is allocated only when some unmap overflowed (a lambda's captures are allocated
    // on entry to the method that declares them, taken branch or not).
    private static void FlushOverflow(DomainFlushTrack track, long seq, ImmutableArray<FlushVa>? blocks, long nowNs) =>
        track.Overflow.RemoveAll(w => !w.TryGetTarget(out var r) || TryMarkFlushed(r, seq, blocks, nowNs));

    /// <summary>Marks <paramref name="r"/> flushed by flush <paramref name="seq"/> when that flush started after its
    /// unmap and covers it; true when it did.</summary>
    private static bool TryMarkFlushed(MappingRecord r, long seq, ImmutableArray<FlushVa>? blocks, long nowNs)
    {
        if (r.UnmapFlushSeq >= seq || (blocks is { } b && !Covers(b, r)))
            return false;
        r.MarkFlushed(seq, nowNs);
        return true;
    }

    private static bool Covers(ImmutableArray<FlushVa> blocks, MappingRecord r)
    {
        var first = r.Iova >> FlushVa.HvPageShift;
        var last = (r.Iova + r.Size.Bytes() - 1) >> FlushVa.HvPageShift;
        foreach (var b in blocks)
            if (b.PageNumber <= first && last <= b.LastPageNumber)
                return true;
        return false;
    }

    // Looked up on every unmap and flush from every core: a read takes no lock (a domain's track is created once).
    private DomainFlushTrack Track(uint domain) =>
        _tracks.TryGetValue(domain, out var track) ? track : _tracks.GetOrAdd(domain, static _ => new DomainFlushTrack());

    /// <summary>Unmapped mappings a domain holds strongly while they await a covering flush; past this the oldest
    /// half is held weakly (<see cref="DomainFlushTrack.SpillOldest"/>). A correct driver flushes every unmap
    /// within a few operations (strict) or a flush-queue's worth (lazy: 256 entries per vCPU), far below it.
    /// Tests lower it.</summary>
    internal int PendingHeldLimit { get; set; } = 1 << 16;

    private sealed class DomainFlushTrack
    {
        private int _overflowPruneAt;

        public long Started;
        public readonly List<MappingRecord> Pending = new();

        /// <summary>
        /// Unmapped mappings that waited so long for a covering flush that one may never come (a list flush of the
        /// wrong range, H7; a failed flush only logged, H8). Held weakly: such a record still matters while a
        /// cache entry, a DMA in flight or a descriptor holds it (a later covering flush must still mark it, so that
        /// a stale use of it is judged right), and not at all once nothing does.
        /// </summary>
        public readonly List<WeakReference<MappingRecord>> Overflow = new();

        /// <summary>Moves the older half of <see cref="Pending"/> to <see cref="Overflow"/>; drops collected ones
        /// whenever the overflow doubles, so it stays proportional to the records still alive. Under the track's lock.</summary>
        public void SpillOldest(int limit)
        {
            var spill = Pending.Count / 2;
            for (var i = 0; i < spill; i++)
                Overflow.Add(new WeakReference<MappingRecord>(Pending[i]));
            Pending.RemoveRange(0, spill);
            if (Overflow.Count <= Math.Max(limit, _overflowPruneAt))
                return;
            Overflow.RemoveAll(w => !w.TryGetTarget(out _));
            _overflowPruneAt = 2 * Overflow.Count;
        }
    }
}

/// <summary>
/// The records a <see cref="MappingLedger"/> holds itself: live mappings (registered, not unmapped), remembered last
/// unmaps (one per domain, IOVA and page size, for walks that raced an unmap), unmaps awaiting a covering flush
/// held strongly and, past a limit (65,536 per domain), weakly (counted while still alive: something else holds
/// them). Counts of records, not bytes.
/// </summary>
public readonly record struct MappingRetention(int Live, int RecentlyUnmapped, int AwaitingFlush, int AwaitingFlushWeak)
{
    /// <summary>All records counted.</summary>
    public long Total => (long)Live + RecentlyUnmapped + AwaitingFlush + AwaitingFlushWeak;
}
