using System.Collections.Immutable;
using HvIommu.Model.Hypercalls;
using HvIommu.Model.Iommu;
using HvIommu.Model.Memory;
using HvIommu.Model.PageTables;
using HvIommu.Model.Translation;

namespace HvIommu.Model.Oracle;

/// <summary>
/// The ground truth of which mappings are live, checked at the moment of every DMA access and every walk
/// (DESIGN.md §2). It observes: the driver tells it about maps, unmaps and frees, the flush handler about
/// flushes, the devices about accesses; it never changes the system. Thread-safe: stress mode calls it
/// from every core at once.
/// </summary>
public sealed class DmaOracle
{
    private readonly FrameAllocator _frames;
    private readonly Stage2 _stage2;
    private readonly ViolationLog _log;
    private readonly Func<ViolationKind, string> _hazardOf;
    private readonly MappingRegistry _registry = new();
    private readonly Dictionary<uint, DomainFlushTrack> _tracks = new();

    private readonly Time.ISimClock? _clock;

    /// <param name="hazardOf">The hazard id a finding of a kind is attributed to (Hazards.HazardRegistry.Attribution: only
    /// hazards whose knob is on); none when null.</param>
    /// <param name="clock">Read only when a finding is reported without a time (hot paths pass 0 to avoid reading it).</param>
    public DmaOracle(FrameAllocator frames, Stage2 stage2, ViolationLog log, Func<ViolationKind, string>? hazardOf = null, Time.ISimClock? clock = null)
    {
        _clock = clock;
        _frames = frames;
        _stage2 = stage2;
        _log = log;
        _hazardOf = hazardOf ?? (_ => "");
    }

    public ViolationLog Log => _log;

    public long MappingsRegistered => _registry.Count;

    /// <summary>What the oracle itself holds right now (see <see cref="OracleRetention"/>): bounded by the IOVAs
    /// in use and the unmaps awaiting a flush, not by the mappings of the run.</summary>
    public OracleRetention Retention
    {
        get
        {
            int pending = 0, overflow = 0;
            lock (_tracks)
            {
                foreach (var track in _tracks.Values)
                    lock (track)
                    {
                        pending += track.Pending.Count;
                        overflow += track.Overflow.Count(w => w.TryGetTarget(out _));
                    }
            }
            return new OracleRetention(_registry.LiveCount, _registry.RecentCount, pending, overflow);
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

    /// <summary>The domain's mapped mappings, oldest first (a host picking a frame to migrate, H14).</summary>
    public IReadOnlyList<MappingRecord> MappedIn(uint domain) => _registry.Mapped(domain);

    /// <summary>The mapping (live, or the last one unmapped at that IOVA) whose leaf points at <paramref name="pageGpa"/>.</summary>
    public MappingRecord? FindMapping(uint domain, ulong iova, ulong pageGpa) => _registry.FindMapping(domain, iova, pageGpa);

    /// <summary>A flush of <paramref name="domain"/> begins (before it invalidates anything); returns its number.</summary>
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
            track.Pending.RemoveAll(r => TryMarkFlushed(r, seq, blocks, nowNs));
            if (track.Overflow.Count > 0)
                track.Overflow.RemoveAll(w => !w.TryGetTarget(out var r) || TryMarkFlushed(r, seq, blocks, nowNs));
        }
    }

    /// <summary>Judges one DMA access at the moment it touches memory. Returns null when it is allowed.</summary>
    public Violation? CheckAccess(in DmaTranslation t, in AccessContext ctx)
    {
        if (ctx.DeviceBlocked)
            return Report(ViolationKind.IsolationBreach, t, ctx, null, 0,
                $"DMA by {ctx.Device} got through while the device is in the blocking domain",
                "The blocking domain must reject every DMA (§1.4); a translation cached before the device was blocked (ATC, IOTLB) was still used, H9.");
        if (ctx.DeviceDetached)
            return Report(ViolationKind.IsolationBreach, t, ctx, t.Mapping, 0,
                $"DMA by {ctx.Device} got through (translated from {From(t.Source)}) while the device was attached to no domain",
                "After HVCALL_DETACH_DEVICE_DOMAIN the guest can neither flush nor drain the device; a host that passes a detached device through or keeps its last domain's tables (§8 q3) lets its DMA escape during the RFC's DETACH → FLUSH → ATTACH window (H9, §1.6, §5.5).");
        if (t.Source == TranslationSource.Identity)
            return CheckIdentity(t, ctx);
        if (!_stage2.TryReverse(t.Hpa, out var gpa))
            return Report(ViolationKind.IsolationBreach, t, ctx, t.Mapping, 0,
                $"DMA to HPA 0x{t.Hpa:x}, which no longer backs any guest frame",
                "The host changed stage 2 for this GPA but a nested translation derived from the old backing survived (H14, §4): the host must invalidate IOTLB entries tagged with the guest's domain ids when it changes stage 2.");
        var frame = gpa & ~GuestMemory.PageMask;
        var info = _frames.GetInfo(frame);
        var record = t.Mapping;
        // A translation captures the generation of its page's first frame (a 2 MiB or 1 GiB buffer is
        // registered by its head), so judge reuse by that frame, whichever 4 KiB the DMA touches.
        var head = gpa & ~(t.Size.Bytes() - 1);
        var headInfo = head == frame ? info : _frames.GetInfo(head);
        if (headInfo.Generation != t.FrameGeneration)
        {
            if (record is { Queued: true, State: MappingState.Unmapped })
                return Report(ViolationKind.LazyWindowStaleAccess, t, ctx, record, head,
                    $"DMA through a stale translation from {From(t.Source)} reached frame 0x{head:x} after its buffer was returned, inside the flush-queue window",
                    "Lazy mode returns the buffer at dma_unmap and flushes later (§5.2 step 5, §5.3): the accepted trade-off of H3.");
            return Report(ViolationKind.DmaToFreedFrame, t, ctx, record, head,
                $"DMA through a translation from {From(t.Source)} reached frame 0x{head:x}, which was {(headInfo.Owner == FrameOwner.Free ? "freed" : $"reused as {headInfo.Owner}")} after the translation was made",
                ExplainFreed(record, t));
        }
        if (record is { State: MappingState.Flushed })
            return Report(ViolationKind.StaleTranslationAfterFlush, t, ctx, record, frame,
                $"DMA used a translation from {From(t.Source)} of {record} after flush #{record.FlushedBySeq} had completed",
                ExplainStale(t));
        if (record is not null && record.Domain != ctx.DeviceDomain)
            return Report(ViolationKind.IsolationBreach, t, ctx, record, frame,
                $"DMA by {ctx.Device} (now in domain {ctx.DeviceDomain}) used {record}",
                "A translation of the device's previous domain outlived the domain switch (H9, §1.6): the old domain must be flushed, and ATS disabled, before the device moves.");
        if (record is null && info.Owner != FrameOwner.DmaBuffer)
            return Report(ViolationKind.IsolationBreach, t, ctx, null, frame,
                $"DMA reached frame 0x{frame:x} ({info.Owner}) through a translation that no mapping of the domain backs",
                "The walk followed a leaf no dma_map wrote; with a freed table page still cached (H1) or a racing table install (H6) the IOMMU translates through garbage.");
        return null;
    }

    /// <summary>Checks the table pages a walk read: each must still be a page table of the walked domain (H1).</summary>
    public Violation? CheckWalk(ImmutableArray<WalkStep> chain, in DmaTranslation t, in AccessContext ctx)
    {
        foreach (var step in chain)
        {
            var info = _frames.GetInfo(step.TableGpa);
            if (info.Owner == FrameOwner.PageTable && info.OwnerId == (int)t.Domain)
                continue;
            return Report(ViolationKind.WalkThroughFreedTable, t, ctx, null, step.TableGpa,
                $"the walk of IOVA 0x{t.Iova:x} read a level-{step.Level} table at GPA 0x{step.TableGpa:x}, which is now {(info.Owner == FrameOwner.Free ? "free" : $"a {info.Owner} page")}",
                "A page-table page was freed while the IOMMU could still reach it through a cached pointer (H1, §3.1): generic_pt frees unlinked tables only in iotlb_sync after the flush, and the flush must drop the walk caches.");
        }
        return null;
    }

    /// <summary>
    /// Set when the host walks more levels than the guest's tables have (driver.table-depth = from-width at a
    /// width below 40 bits, H15): a fault on a live mapping is then the depth mismatch, not a lost install.
    /// </summary>
    public bool TableDepthMismatch { get; set; }

    /// <summary>A device's programmed (not replayed) DMA faulted: a lost mapping when its mapping is live (H6, H15).</summary>
    /// <param name="record">The mapping the device's descriptor was built for (null: none).</param>
    public Violation? CheckFault(in DmaTranslation t, in AccessContext ctx, MappingRecord? record)
    {
        if (ctx.Replay)
            return null;
        if (record is null || record.State != MappingState.Mapped)
            return null;
        if (record.Domain == DeviceDomainId.Default)
            return Report(ViolationKind.LostMapping, t, ctx, record, 0,
                $"DMA to raw GPA 0x{t.Iova:x}, handed out before the pvIOMMU existed, faulted ({t.Fault}) once the device was attached to domain {ctx.DeviceDomain}",
                "The device was bound and given a dma-direct (raw-GPA) address before hv_iommu_init; after its paging domain was attached that address is an IOVA nobody mapped (H11, §1.9 init ordering: \"late IOMMU probe at driver bind\").");
        // A device moved to another domain (H9) faults on its old domain's IOVAs: expected, not a lost mapping.
        if (record.Domain != ctx.DeviceDomain)
            return null;
        return Report(ViolationKind.LostMapping, t, ctx, record, 0,
            $"DMA to IOVA 0x{t.Iova:x} faulted ({t.Fault}) although {record} is live",
            TableDepthMismatch
                ? "The guest built a 3-level table (generic_pt derives the depth from the IOVA width when the driver sets no top level) but configured the domain for 4-level paging, so the host walks the table one level too deep and misses the leaf (H15, §3)."
                : "The leaf written by dma_map is not reachable from the root: an intermediate table was installed without compare-exchange and another vCPU's install overwrote it (H6, §3.1).");
    }

    /// <summary>Teardown: anything the guest or host still holds is a leak (H10, H16). Table pages left because a
    /// racy install (H6) overwrote the pointer to them (<paramref name="tablesOrphanedByRacyInstall"/> such
    /// overwrites) leaked through H6, and the explanation says so.</summary>
    public void CheckTeardown(int liveHostDomains, int baselineHostDomains, int tablePagesLeft, long nowNs, int tablesOrphanedByRacyInstall = 0)
    {
        var ctx = new AccessContext("", "", 0, false, false, 0, nowNs);
        var none = DmaTranslation.Faulted(WalkFault.None, TranslationSource.None, 0, 0);
        if (liveHostDomains > baselineHostDomains)
            Report(ViolationKind.LeakedDomain, none, ctx, null, 0,
                $"{liveHostDomains - baselineHostDomains} device domain(s) still exist in the hypervisor after teardown (baseline {baselineHostDomains})",
                "An error or teardown path skipped HVCALL_DELETE_DEVICE_DOMAIN (H16, §1.9: the RFC's init error path jumps past the static-domain cleanup).");
        if (tablePagesLeft > 0 && tablesOrphanedByRacyInstall > 0)
            Report(ViolationKind.LeakedTablePage, none, ctx, null, 0,
                $"{tablePagesLeft} page-table page(s) are still allocated after teardown; {tablesOrphanedByRacyInstall} table pointer(s) were overwritten by a racing install",
                "An intermediate table was installed with a plain store instead of compare-exchange: a racing vCPU's install overwrote the pointer to the table another vCPU had just installed, and that table (with every table under it) can no longer be reached by pt_iommu_deinit's walk (H6, §3.1).",
                hazard: "H6");
        else if (tablePagesLeft > 0)
            Report(ViolationKind.LeakedTablePage, none, ctx, null, 0,
                $"{tablePagesLeft} page-table page(s) are still allocated after teardown",
                "A freelist was never released after its flush, or a domain was freed without pt_iommu_deinit (H16).");
    }

    /// <summary>A hypercall did not complete within the hang timeout.</summary>
    public void ReportHung(string vcpu, HypercallCode code, uint domain, long nowNs) =>
        Report(ViolationKind.HypercallHung, DmaTranslation.Faulted(WalkFault.None, TranslationSource.None, domain, 0),
            new AccessContext("", vcpu, domain, false, false, 0, nowNs), null, 0,
            $"{code.LinuxName()} issued by {vcpu} never completed",
            "The hypercall did not return in time: the flush handler waits for a completion (an ATS invalidation, a DMA drain) that never arrives, or the run's hang timeout (run.hang-timeout) or step budget (--max-steps) is shorter than the work.");

    private Violation? CheckIdentity(in DmaTranslation t, in AccessContext ctx)
    {
        var info = _frames.GetInfo(t.Gpa & ~GuestMemory.PageMask);
        if (info.Owner != FrameOwner.PageTable)
            return null;
        return Report(ViolationKind.IsolationBreach, t, ctx, null, t.Gpa & ~GuestMemory.PageMask,
            $"DMA by {ctx.Device} through the identity domain reached page-table page 0x{t.Gpa:x}",
            "A device left with raw-GPA (identity) DMA can reach the guest's I/O page tables (H11, §1.9 init ordering).");
    }

    /// <param name="hazard">The hazard the cause is known to be (its knob is on: the cause was seen); otherwise the attribution's.</param>
    private Violation? Report(ViolationKind kind, in DmaTranslation t, in AccessContext ctx, MappingRecord? record, ulong frame, string description, string explanation, string? hazard = null)
    {
        hazard ??= _hazardOf(kind);
        var timeNs = ctx.SimTimeNs != 0 || _clock is null ? ctx.SimTimeNs : _clock.NowNs;
        var v = new Violation(kind, hazard, ctx.Step, timeNs, ctx.Vcpu, ctx.Device, t.Domain, t.Iova, frame,
            description, record is null ? explanation : $"{explanation} History: {History(record)}");
        return _log.Record(v) || kind == ViolationKind.LazyWindowStaleAccess ? v : null;
    }

    private static string History(MappingRecord r) => r.State switch
    {
        MappingState.Flushed => $"{r} mapped at {r.MapTimeNs} ns, unmapped at {r.UnmapTimeNs} ns, flushed by flush #{r.FlushedBySeq} at {r.FlushTimeNs} ns.",
        MappingState.Unmapped => $"{r} mapped at {r.MapTimeNs} ns, unmapped at {r.UnmapTimeNs} ns, no covering flush has completed yet{(r.Queued ? " (queued in a flush queue)" : "")}.",
        _ => $"{r} mapped at {r.MapTimeNs} ns and still live.",
    };

    private static string ExplainFreed(MappingRecord? r, in DmaTranslation t) => r?.State switch
    {
        MappingState.Unmapped => $"The buffer was freed before any flush covering its unmap had completed, while {From(t.Source)} still held the translation: the free came too early — the flush failed and was ignored (H8, §2.3), or the free did not wait for it (H2, §5.2 step 3).",
        MappingState.Flushed when t.Source == TranslationSource.Atc => "The flush completed and the buffer was freed while the device's ATC still held the translation: either the device TLB was invalidated before the IOTLB and refilled from it (H4: the IOTLB invalidation came too late, §4 rules), or the flush returned before the ATS invalidation completion came (H5, §2.4 (b)).",
        MappingState.Flushed => $"The flush completed and the buffer was freed while a DMA translated from {From(t.Source)} before the flush was still in flight: the drain of translated DMA never came before the flush returned (H5, §2.4 (c)).",
        _ => $"The frame changed owner under a live translation from {From(t.Source)}.",
    };

    /// <summary>Where a translation came from, in words: "the IOTLB", "the device's ATC", "a table walk".</summary>
    private static string From(TranslationSource source) => source switch
    {
        TranslationSource.Atc => "the device's ATC",
        TranslationSource.Iotlb => "the IOTLB",
        TranslationSource.Walk => "a table walk",
        TranslationSource.Identity => "the identity mapping",
        _ => "no translation",
    };

    private static string ExplainStale(in DmaTranslation t) => t.Source switch
    {
        TranslationSource.Atc => "The device's ATC still held the entry after the flush returned: the device TLB was invalidated before the IOTLB and refilled from it, or its completion was not awaited (H4/H5, §4 rules).",
        TranslationSource.Iotlb => "The IOTLB still held the entry after the flush returned: the flush did not cover this IOVA (H7 wrong range) or failed and was ignored (H8).",
        _ => "A DMA translated before the flush was still in flight when the flush returned (H5: drain).",
    };

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

    private DomainFlushTrack Track(uint domain)
    {
        lock (_tracks)
        {
            if (!_tracks.TryGetValue(domain, out var t))
                _tracks[domain] = t = new DomainFlushTrack();
            return t;
        }
    }

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
/// The records a <see cref="DmaOracle"/> holds itself: live mappings (registered, not unmapped), remembered last
/// unmaps (one per domain, IOVA and page size, for walks that raced an unmap), unmaps awaiting a covering flush
/// held strongly and, past a limit (65,536 per domain), weakly (counted while still alive: something else holds
/// them). Counts of records, not bytes.
/// </summary>
public readonly record struct OracleRetention(int Live, int RecentlyUnmapped, int AwaitingFlush, int AwaitingFlushWeak)
{
    /// <summary>All records counted.</summary>
    public long Total => (long)Live + RecentlyUnmapped + AwaitingFlush + AwaitingFlushWeak;
}
