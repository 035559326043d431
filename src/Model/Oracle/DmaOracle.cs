using System.Collections.Immutable;
using HvIommu.Model.Events;
using HvIommu.Model.Hypercalls;
using HvIommu.Model.Ledger;
using HvIommu.Model.Mappings;
using HvIommu.Model.Memory;
using HvIommu.Model.PageTables;
using HvIommu.Model.Translation;
using HvIommu.Model.Text;

namespace HvIommu.Model.Oracle;

/// <summary>
/// The ground truth of which mappings are live, checked at the moment of every DMA access and every walk
/// (docs/design.md §2). An observe-only monitor: it subscribes to the run's <see cref="SimEventStream"/> (walks by the
/// translator, the devices' DMA accesses and faults, hung hypercalls) and judges each against the
/// <see cref="MappingRecord"/> it names, whose life (mapped, unmapped, flushed) the run's
/// <see cref="MappingLedger"/> keeps from the same stream, subscribed before the oracle; it changes neither
/// the system nor the records. Thread-safe: stress mode emits from every core at once.
/// </summary>
public sealed class DmaOracle : ISimEventSink
{
    private readonly FrameAllocator _frames;
    private readonly Stage2 _stage2;
    private readonly ViolationLog _log;
    private readonly HazardCauses _causes;
    private readonly Func<ViolationKind, string> _hazardOf;
    private readonly MappingLedger _mappings;

    private readonly Time.ISimClock? _clock;

    /// <param name="mappings">The run's ledger of mappings: whether the mapping a device's descriptor was built for is
    /// still live is its answer (the descriptor carries only the mapping's <see cref="MappingFact"/>).</param>
    /// <param name="hazardOf">The hazard id a finding of a kind is attributed to (Hazards.HazardRegistry.Attribution: only
    /// hazards whose knob is on); none when null.</param>
    /// <param name="clock">Read only when a finding is reported without a time (hot paths pass 0 to avoid reading it).</param>
    /// <param name="causes">The hazard knobs the run has on: explanations name only these (default: all, as unit tests use it).</param>
    public DmaOracle(MappingLedger mappings, FrameAllocator frames, Stage2 stage2, ViolationLog log, HazardCauses? causes = null, Time.ISimClock? clock = null,
        Func<ViolationKind, string>? hazardOf = null)
    {
        _mappings = mappings;
        _clock = clock;
        _frames = frames;
        _stage2 = stage2;
        _log = log;
        _causes = causes ?? HazardCauses.All;
        _hazardOf = hazardOf ?? (_ => "");
    }

    /// <summary>The hazard knobs this oracle's explanations may name.</summary>
    public HazardCauses Causes => _causes;

    public ViolationLog Log => _log;

    /// <summary>Observes one event of the run's stream (the oracle's subscription): it judges walks, DMA accesses and
    /// faults, hung hypercalls and the lifecycle's findings at init unwind and teardown; the mapping and flush events are the <see cref="MappingLedger"/>'s.</summary>
    public void On(in SimEvent e)
    {
        switch (e.Kind)
        {
            case SimEventKind.Walked:
                CheckWalk(e.Chain, e.Translation, e.Context);
                break;
            case SimEventKind.DmaAccessed:
                CheckAccess(e.Translation, e.Context, e.ProgrammedFor);
                break;
            case SimEventKind.DmaFaulted:
                CheckFault(e.Translation, e.Context, e.ProgrammedFor);
                break;
            case SimEventKind.HypercallHung:
                ReportHung(e.Source, e.Hypercall, e.Domain, e.TimeNs);
                break;
            case SimEventKind.TeardownAudited when e.Lifecycle is TeardownAudit a:
                CheckTeardown(a.LiveHostDomains, a.BaselineHostDomains, a.TablePagesLeft, e.TimeNs,
                    a.DeleteRefusal is { } why ? (Why)why : null, a.TablesOrphanedByRacyInstall);
                break;
            case SimEventKind.IovaLeaked when e.Lifecycle is IovaLeak l:
                ReportLeakedIova(l.Domain, l.Ranges, l.Pages, l.FirstIova, e.Source, e.TimeNs);
                break;
            case SimEventKind.UnwoundStepNeverDone when e.Lifecycle is UnwindOfStepNeverDone u:
                ReportUnwindOfStepNeverDone(u.FailedStep, u.Label, u.Call, u.NeverDone, e.Source, e.TimeNs);
                break;
            case SimEventKind.TablesFreedUnderAttachedDevice when e.Lifecycle is TablesFreedUnderDevice t:
                ReportHostReferencedFree(t.Domain, t.Devices, t.TablePages, e.Source, e.TimeNs);
                break;
        }
    }

    /// <summary>Judges one DMA access at the moment it touches memory. Returns null when it is allowed.</summary>
    /// <param name="programmedFor">The mapping the device's descriptor was built for (programmed or replayed), if known:
    /// a translation that resolves to a mapping of another domain is an isolation breach (Xen XSA-302's shape).</param>
    public Violation? CheckAccess(in DmaTranslation t, in AccessContext ctx, MappingFact? programmedFor = null)
    {
        if (ctx.DeviceBlocked)
            return Report(ViolationKind.IsolationBreach, t, ctx, null, 0,
                $"DMA by {ctx.Device} got through (translated from {From(t.Source)}) while the device is in the blocking domain",
                _causes.Explain(
                    (Cause.AtsKeptWhenBlocked, "The blocking domain must reject every DMA (§1.4), but ATS was left enabled, so the device's ATC kept serving translations cached before it was blocked (H9: later revisions disable ATS before blocking)."),
                    (Cause.AttachKeepsAtc, "The ATTACH to the blocking domain left the device's ATC in place (H9: hypervisor.behaviour.attach-invalidates-atc = off)."),
                    (Cause.AttachLeavesOldDomain, LeftInOldDomain)));
        if (ctx.DeviceDetached)
            return Report(ViolationKind.IsolationBreach, t, ctx, t.Mapping, 0,
                $"DMA by {ctx.Device} got through (translated from {From(t.Source)}) while the device was attached to no domain",
                _causes.Explain(
                    (Cause.DetachedDeviceTranslates, "After HVCALL_DETACH_DEVICE_DOMAIN the guest can neither flush nor drain the device; a host that passes a detached device through or keeps its last domain's tables (§8 q3) lets its DMA escape during the RFC's DETACH → FLUSH → ATTACH window (H9, §1.6, §5.5)."),
                    (Cause.AttachKeepsAtc, "DETACH left the device's ATC in place, and the device kept translating from it (H9: hypervisor.behaviour.attach-invalidates-atc = off).")));
        if (t.Source == TranslationSource.Identity)
            return CheckIdentity(t, ctx);
        if (!_stage2.TryReverse(t.Hpa, out var gpa))
            return Report(ViolationKind.IsolationBreach, t, ctx, t.Mapping, 0,
                $"DMA to HPA 0x{t.Hpa:x}, which no longer backs any guest frame",
                _causes.Explain((Cause.StageTwoChangeKeepsEntries, "The host changed stage 2 for this GPA but a nested translation derived from the old backing survived (H14, §4): the host must invalidate IOTLB entries tagged with the guest's domain ids when it changes stage 2.")));
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
                    $"DMA through a stale translation from {From(t.Source)} reached frame 0x{head:x} after its buffer was returned, inside the flush-queue window"
                    + (IsGuestStructure(info) ? $"; the frame is now a {info.Owner} page{(info.Owner == FrameOwner.PageTable ? $" of domain {info.OwnerId}" : "")}, so a write would corrupt it (not performed)" : ""),
                    ("H3", "Lazy mode returns the buffer at dma_unmap and flushes later (§5.2 step 5, §5.3): the accepted trade-off of H3."));
            return Report(ViolationKind.DmaToFreedFrame, t, ctx, record, head,
                $"DMA through a translation from {From(t.Source)} reached frame 0x{head:x}, which was {(headInfo.Owner == FrameOwner.Free ? "freed" : $"reused as {headInfo.Owner}")} after the translation was made",
                ExplainFreed(record, t));
        }
        if (record is { State: MappingState.Flushed })
            return Report(ViolationKind.StaleTranslationAfterFlush, t, ctx, record, frame,
                $"DMA used a translation from {From(t.Source)} of {record} after flush #{record.FlushedBySeq} of domain {record.Domain} had completed",
                ExplainStale(t));
        if (record is not null && record.Domain != ctx.DeviceDomain)
            return Report(ViolationKind.IsolationBreach, t, ctx, record, frame,
                $"DMA by {ctx.Device} (now in domain {ctx.DeviceDomain}) used {record}",
                ExplainOtherDomain(t, ctx));
        if (record is not null && programmedFor is not null && record.Domain != programmedFor.Domain)
            return Report(ViolationKind.IsolationBreach, t, ctx, record, frame,
                $"DMA by {ctx.Device}{(ctx.Replay ? " (a replayed descriptor)" : "")} for a descriptor built for {programmedFor} resolved to {record}",
                _causes.Explain(
                    (Cause.MovedDeviceKeepsOldIovas, $"The device was moved to domain {ctx.DeviceDomain} while it still held descriptors built for its home domain {programmedFor.Domain} (and the driver kept programming those IOVAs): the new domain's tables resolve them to another device's live buffer. A device must be quiesced and its DMA addresses rebuilt before it changes domain — the shape of Xen XSA-302 (H9, §1.6, §5.5; Xen's fix quarantines such a device: lifecycle.quarantine-moved-device = on)."),
                    (Cause.DetachedDeviceTranslates, "The detached device kept translating through another domain's tables (H9, §8 q3)."),
                    (Cause.AttachKeepsAtc, "ATTACH moved the device without invalidating its ATC (H9: hypervisor.behaviour.attach-invalidates-atc = off)."),
                    (Cause.AmbiguousDeviceId, AliasedDeviceId(ctx, programmedFor.Domain))));
        // Programmed (not replayed) DMA for a live mapping must resolve to that very mapping: another live mapping of the
        // same domain means the IOMMU's tables or caches send the device's addresses somewhere the driver never pointed
        // them. A replay may legitimately hit an IOVA reused since (the IOMMU cannot tell one domain's buffers apart).
        if (record is not null && programmedFor is not null && !ctx.Replay && record.Serial != programmedFor.Serial
            && record.Domain == programmedFor.Domain && record.State == MappingState.Mapped && _mappings.Live(programmedFor) is { State: MappingState.Mapped })
            return Report(ViolationKind.IsolationBreach, t, ctx, record, frame,
                $"DMA by {ctx.Device} for a descriptor built for {programmedFor} resolved to {record}, another live mapping of the same domain",
                _causes.Explain(
                    (Cause.RacyTableInstall, "A racing table install overwrote a table pointer, so the walk reached another mapping's leaf (H6, §3.1)."),
                    (Cause.WalkCacheKept, "A stale walk-cache pointer led the walk into a table that now holds another mapping (H1)."),
                    (Cause.FreeTablesBeforeFlush, "A table page freed before the flush was reused for another mapping while a walk cache still pointed at it (H1).")));
        if (record is null && info.Owner != FrameOwner.DmaBuffer)
            return Report(ViolationKind.IsolationBreach, t, ctx, null, frame,
                $"DMA reached frame 0x{frame:x} ({info.Owner}) through a translation that no mapping of the domain backs",
                _causes.Explain(
                    (Cause.FreeTablesBeforeFlush, "The walk followed a leaf no dma_map wrote, through a table page freed while the walk cache still pointed at it (H1)."),
                    (Cause.WalkCacheKept, "The walk followed a leaf no dma_map wrote, through a stale walk-cache pointer (H1)."),
                    (Cause.RacyTableInstall, "The walk followed a leaf no dma_map wrote: a racing table install overwrote a table (H6).")));
        return null;
    }

    private static bool IsGuestStructure(FrameInfo info) => info.Owner is FrameOwner.PageTable or FrameOwner.Kernel;

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
                _causes.Explain(
                    (Cause.FreeTablesBeforeFlush, "A page-table page was freed before the flush while the IOMMU could still reach it through a cached pointer (H1, §3.1): generic_pt frees unlinked tables only in iotlb_sync after the flush."),
                    (Cause.WalkCacheKept, "The flush left the walk caches in place, so the IOMMU reached a table page freed after it through a cached pointer (H1, §3.1)."),
                    (Cause.SkipMapFlush, "A map replaced an emptied table by a large leaf and freed the table without flushing, while the walk cache still pointed at it (H19, §3.1): generic_pt's map_pages syncs the IOTLB before it frees the tables it replaced."),
                    (Cause.FreeDomainBeforeDetach, "The walk read a table of a domain whose tables were freed (pt_iommu_deinit) while a device was still attached to it (H10, §1.5): teardown must detach and flush before it frees."),
                    (Cause.DeleteKeepsCaches, "The domain was deleted and its tables freed, but DELETE left its walk-cache entries in place (H10, §8 q4)."),
                    (Cause.FreeTablesDespiteFailedDetach, "HVCALL_DETACH_DEVICE_DOMAIN failed, so the device stayed attached and the IOMMU kept walking the domain's tables, which the RFC's teardown freed anyway (H10; Xen fix 7b658fd273f9 keeps them: lifecycle.keep-tables-when-detach-fails = on).")));
        }
        return null;
    }

    /// <summary>
    /// Set when the host walks more levels than the guest's tables have (driver.table-depth = from-width at a
    /// width below 40 bits, H15): a fault on a live mapping is then the depth mismatch, not a lost install.
    /// </summary>
    public bool TableDepthMismatch { get; set; }

    /// <summary>A device's programmed (not replayed) DMA faulted: a lost mapping when its mapping is live (H6, H15).</summary>
    /// <param name="programmed">The mapping the device's descriptor was built for (null: none); whether it is live is the
    /// ledger's answer.</param>
    public Violation? CheckFault(in DmaTranslation t, in AccessContext ctx, MappingFact? programmed)
    {
        if (ctx.Replay || programmed is null)
            return null;
        if (_mappings.Live(programmed) is not { State: MappingState.Mapped } record)
            return null;
        if (record.Domain == DeviceDomainId.Default)
            return Report(ViolationKind.LostMapping, t, ctx, record, 0,
                $"DMA to raw GPA 0x{t.Iova:x}, handed out before the pvIOMMU existed, faulted ({t.Fault}) once the device was attached to domain {ctx.DeviceDomain}",
                _causes.Explain((Cause.EarlyDma, "The device was bound and given a dma-direct (raw-GPA) address before hv_iommu_init; after its paging domain was attached that address is an IOVA nobody mapped (H11, §1.9 init ordering: \"late IOMMU probe at driver bind\").")));
        // A device moved to another domain (H9) faults on its old domain's IOVAs: expected, not a lost mapping.
        if (record.Domain != ctx.DeviceDomain)
            return null;
        return Report(ViolationKind.LostMapping, t, ctx, record, 0,
            $"DMA to IOVA 0x{t.Iova:x} faulted ({t.Fault}) although {record} is live",
            TableDepthMismatch
                ? ("H15", "The guest built a 3-level table (generic_pt derives the depth from the IOVA width when the driver sets no top level) but configured the domain for 4-level paging, so the host walks the table one level too deep and misses the leaf (H15, §3).")
                : _causes.Explain(
                (Cause.RacyTableInstall, "The leaf written by dma_map is not reachable from the root: an intermediate table was installed without compare-exchange and another vCPU's install overwrote it (H6, §3.1)."),
                (Cause.WalkCacheKept, "The walk went through a stale walk-cache pointer to a table that was unlinked (and possibly reused) after an earlier unmap, because the flush did not drop the walk caches (H1): the live leaf is in the table now linked, not in the one the cache pointed at."),
                (Cause.FreeTablesBeforeFlush, "The walk went through a cached pointer to a table page freed before the flush and reused (H1).")));
    }

    /// <summary>Teardown: anything the guest or host still holds is a leak (H10, H16). Table pages left because a
    /// racy install (H6) overwrote the pointer to them (<paramref name="tablesOrphanedByRacyInstall"/> such
    /// overwrites were seen) leaked through H6, and the explanation says so first.</summary>
    /// <param name="leakCause">The hazard and cause the driver knows made a DELETE fail (e.g. DELETE refused because DETACH failed), if any.</param>
    public void CheckTeardown(int liveHostDomains, int baselineHostDomains, int tablePagesLeft, long nowNs, Why? leakCause = null, int tablesOrphanedByRacyInstall = 0)
    {
        var ctx = new AccessContext("", "", 0, false, false, 0, nowNs);
        var none = DmaTranslation.Faulted(WalkFault.None, TranslationSource.None, 0, 0);
        if (liveHostDomains > baselineHostDomains)
            Report(ViolationKind.LeakedDomain, none, ctx, null, 0,
                $"{liveHostDomains - baselineHostDomains} device domain(s) still exist in the hypervisor after teardown (baseline {baselineHostDomains})",
                leakCause is { } c ? c : _causes.Explain(
                    (Cause.RfcInitUnwinding, "An error path skipped HVCALL_DELETE_DEVICE_DOMAIN (H16, §1.9: the RFC's init error path jumps past the static-domain cleanup).")));
        if (tablePagesLeft > 0)
        {
            (Cause, string)[] leftBehind =
            [
                (Cause.RfcInitUnwinding, "A domain was left behind by the RFC's init error path without pt_iommu_deinit (H16)."),
                (Cause.FlushQueueOverrun, "A full flush queue took the entry anyway after one inline flush, so the ring wrapped and dropped parked entries whose table pages were never released (H18, §5.3)."),
                (Cause.BrokenFlushQueueCounter, "A flush-queue entry's table pages were never released (H2)."),
                (Cause.FlushQueuePublishedEarly, HalfInitialisedQueue),
            ];
            // A racing install seen to overwrite a table pointer is the cause, named first (the others only if on).
            Report(ViolationKind.LeakedTablePage, none, ctx, null, 0,
                $"{tablePagesLeft} page-table page(s) are still allocated after teardown"
                + (tablesOrphanedByRacyInstall > 0 ? $"; {tablesOrphanedByRacyInstall} table pointer(s) were overwritten by a racing install" : ""),
                tablesOrphanedByRacyInstall > 0
                    ? _causes.Explain([(Cause.RacyTableInstall, "An intermediate table was installed with a plain store instead of compare-exchange: a racing vCPU's install overwrote the pointer to the table another vCPU had just installed, and that table (with every table under it) can no longer be reached by pt_iommu_deinit's walk (H6, §3.1)."), .. leftBehind])
                    : _causes.Explain(leftBehind));
        }
    }

    /// <summary>Teardown, before put_iova_domain: <paramref name="ranges"/> IOVA ranges (<paramref name="pages"/> pages) of
    /// <paramref name="domain"/> are allocated although no live mapping, range cache or flush-queue entry holds them.</summary>
    public void ReportLeakedIova(uint domain, int ranges, ulong pages, ulong firstIova, string vcpu, long nowNs) =>
        Report(ViolationKind.LeakedIova, DmaTranslation.Faulted(WalkFault.None, TranslationSource.None, domain, firstIova),
            new AccessContext("", vcpu, domain, false, false, 0, nowNs), null, 0,
            $"{ranges} IOVA range(s) ({Counted.Of(pages, "page")}, the first at 0x{firstIova:x}) of domain {domain} are still allocated at teardown although no mapping, range cache or flush-queue entry holds them",
            _causes.Explain(
                (Cause.FlushQueueOverrun, "A full flush queue took the entry anyway after one inline flush while another vCPU's flush was still running, so the ring wrapped and its entries dropped out without their IOVAs being freed: the IOVA space is lost until the domain is freed (H18, §5.3)."),
                (Cause.FlushQueuePublishedEarly, HalfInitialisedQueue)));

    private const string HalfInitialisedQueue =
        "The sysfs switch to DMA-FQ ran iommu_dma_init_fq with fq_domain published before the per-CPU rings were initialised: an unmap queued its IOVA into a ring that iommu_dma_init_one_fq then reset, so the entry dropped out and its IOVA and table pages were never freed (H2, §5.3; Linux publishes fq_domain last, after smp_wmb()).";

    /// <summary>An init error path ran <paramref name="call"/> under <paramref name="label"/> although the step it undoes
    /// never happened (init failed at <paramref name="failedStep"/>): the reviewer's first point on the RFC (H16).</summary>
    public void ReportUnwindOfStepNeverDone(string failedStep, string label, string call, string neverDone, string vcpu, long nowNs) =>
        Report(ViolationKind.UnwindOfStepNeverDone, DmaTranslation.Faulted(WalkFault.None, TranslationSource.None, 0, 0),
            new AccessContext("", vcpu, 0, false, false, 0, nowNs), null, 0,
            $"hv_iommu_init failed at {failedStep}; its error path reached {label} and called {call} although {neverDone} never ran",
            _causes.Explain((Cause.RfcInitUnwinding,
                "The RFC's goto target after a static-domain failure is err_sysfs_remove, but iommu_device_sysfs_add() has not run yet: iommu_device_sysfs_remove() then unregisters a device that was never added (a NULL dereference at boot in the real kernel). The reviewer's fix jumps to err_free (H16, §1.3, §1.9).")));

    /// <summary>The guest is about to free the tables of <paramref name="domain"/> while the host still has
    /// <paramref name="devices"/> attached to it (H10).</summary>
    public void ReportHostReferencedFree(uint domain, IReadOnlyList<string> devices, int tablePages, string vcpu, long nowNs) =>
        Report(ViolationKind.HostReferencedTablesFreed, DmaTranslation.Faulted(WalkFault.None, TranslationSource.None, domain, 0),
            new AccessContext("", vcpu, domain, false, false, 0, nowNs), null, 0,
            $"{tablePages} page-table page(s) of domain {domain} freed while the host still has {string.Join(", ", devices)} attached to it",
            _causes.Explain(
                (Cause.FreeTablesDespiteFailedDetach, "HVCALL_DETACH_DEVICE_DOMAIN failed, so the device is still attached and the IOMMU may walk the domain's tables; the RFC's teardown frees them anyway (H10; Xen fix 7b658fd273f9 keeps them: lifecycle.keep-tables-when-detach-fails)."),
                (Cause.FreeDomainBeforeDetach, "Teardown frees the domain's tables (pt_iommu_deinit) before its devices are detached and the domain flushed (H10, §1.5).")));

    /// <summary>A hypercall did not complete within the hang timeout.</summary>
    public void ReportHung(string vcpu, HypercallCode code, uint domain, long nowNs) =>
        Report(ViolationKind.HypercallHung, DmaTranslation.Faulted(WalkFault.None, TranslationSource.None, domain, 0),
            new AccessContext("", vcpu, domain, false, false, 0, nowNs), null, 0,
            $"{code.LinuxName()} issued by {vcpu} never completed",
            _causes.On(Cause.AtcCompletionNotAwaited) || _causes.On(Cause.WaitsForRemovedDevice)
                ? _causes.Explain(
                    (Cause.WaitsForRemovedDevice, "The flush sent an ATS invalidation to a surprise-removed device and waits for a completion that device can never send (H5: hypervisor.flush.on-disconnected-device = wait). Linux 4fc82cd907ac skips devices pci_dev_is_disconnected() reports gone; before it, qi_submit_sync waited for ever."),
                    (Cause.AtcCompletionNotAwaited, "The flush handler waits for a completion (ATS invalidation, DMA drain) that never arrives (H5, §2.4)."))
                : ("", "The hypercall did not return: in deterministic mode nothing else was left to run, so it never would; in stress mode it was outstanding longer than the run's hang timeout (run.hang-timeout), which may be shorter than the work. If neither explains it, the simulator's correct path hung: please report it with the reproduce line."));

    private Violation? CheckIdentity(in DmaTranslation t, in AccessContext ctx)
    {
        var info = _frames.GetInfo(t.Gpa & ~GuestMemory.PageMask);
        if (info.Owner != FrameOwner.PageTable)
            return null;
        return Report(ViolationKind.IsolationBreach, t, ctx, null, t.Gpa & ~GuestMemory.PageMask,
            $"DMA by {ctx.Device} through the identity domain reached page-table page 0x{t.Gpa:x}",
            _causes.Explain(
                (Cause.EarlyDma, "A device left with raw-GPA (identity) DMA can reach the guest's I/O page tables (H11, §1.9 init ordering)."),
                (Cause.DetachedDeviceTranslates, "A detached device passed through (identity, §8 q3) can reach the guest's I/O page tables (H9).")));
    }

    private Violation? Report(ViolationKind kind, in DmaTranslation t, in AccessContext ctx, MappingRecord? record, ulong frame, string description, Why why)
    {
        var hazard = why.AttributedTo(_hazardOf(kind));
        var explanation = why.Text;
        var timeNs = ctx.SimTimeNs != 0 || _clock is null ? ctx.SimTimeNs : _clock.NowNs;
        var v = new Violation(kind, hazard, ctx.Step, timeNs, ctx.Vcpu, ctx.Device, t.Domain, t.Iova, frame,
            description, record is null ? explanation : $"{explanation} History: {History(record)}",
            record?.Serial ?? 0, record is { State: MappingState.Flushed } ? record.FlushedBySeq : 0);
        return _log.Record(v) || kind == ViolationKind.LazyWindowStaleAccess ? v : null;
    }

    private static string History(MappingRecord r) => r.State switch
    {
        MappingState.Flushed => $"{r} mapped at {r.MapTimeNs} ns, unmapped at {r.UnmapTimeNs} ns, flushed by flush #{r.FlushedBySeq} at {r.FlushTimeNs} ns.",
        MappingState.Unmapped => $"{r} mapped at {r.MapTimeNs} ns, unmapped at {r.UnmapTimeNs} ns, no covering flush has completed yet{(r.Queued ? " (queued in a flush queue)" : "")}.",
        _ => $"{r} mapped at {r.MapTimeNs} ns and still live.",
    };

    private Why ExplainFreed(MappingRecord? r, in DmaTranslation t) => r?.State switch
    {
        MappingState.Unmapped => _causes.Explain(
            (Cause.FlushFailureIgnored, $"The buffer was freed although the flush covering its unmap failed and the failure was only logged, while {From(t.Source)} still held the translation (H8, §2.3)."),
            (Cause.FreeIovaBeforeFlush, $"The buffer was freed before the flush covering its unmap, while {From(t.Source)} still held the translation (H2, §5.2 step 3)."),
            (Cause.BrokenFlushQueueCounter, $"The flush queue released the entry one flush early, before any flush covering its unmap had completed, while {From(t.Source)} still held the translation (H2, §5.3)."),
            (Cause.FlushQueuePublishedEarly, $"The sysfs switch to DMA-FQ published fq_domain before iommu_dma_init_fq reset the flush counters, and the reset landed inside a flush another vCPU had already started: its finish++ left fq_flush_finish_cnt one ahead of fq_flush_start_cnt, so the flush queue released this entry before any flush covering its unmap had completed, while {From(t.Source)} still held the translation (H2, §5.3; Linux publishes fq_domain last)."),
            (Cause.HypercallInputIrqsOn, HypercallPageReentered(t))),
        MappingState.Flushed => ExplainAfterFlush(t),
        _ => _causes.Explain(
            (Cause.FreeIovaBeforeFlush, $"The frame changed owner under a live translation from {From(t.Source)}: the buffer was freed before its flush (H2)."),
            (Cause.BrokenFlushQueueCounter, $"The frame changed owner under a live translation from {From(t.Source)}: the flush queue released it early (H2)."),
            (Cause.FlushQueuePublishedEarly, $"The frame changed owner under a live translation from {From(t.Source)}: the flush queue released it early after the half-initialised queue's counter reset (H2)."),
            (Cause.HypercallInputIrqsOn, HypercallPageReentered(t))),
    };

    /// <summary>H17's story: the flush the driver filled in was never executed, an interrupt's input replaced it in the page.</summary>
    private static string HypercallPageReentered(in DmaTranslation t) =>
        $"The flush covering this unmap never ran: the driver filled its vCPU's hypercall input page with interrupts enabled, an interrupt on the same vCPU (a DMA completion's unmap, or the flush-queue timer) filled the page with its own hypercall before the trap, and the host read that input instead — so another domain was flushed, the buffer was freed, and {From(t.Source)} still held the translation (H17, §1.7: every wrapper takes local_irq_save before it touches hyperv_pcpu_input_arg; driver.hazards.hypercall-input-irqs-on = on).";

    /// <summary>Where a translation came from, in words: "the IOTLB", "the device's ATC", "a table walk".</summary>
    private static string From(TranslationSource source) => source switch
    {
        TranslationSource.Atc => "the device's ATC",
        TranslationSource.Iotlb => "the IOTLB",
        TranslationSource.Walk => "a table walk",
        TranslationSource.Identity => "the identity mapping",
        _ => "no translation",
    };

    private Why ExplainStale(in DmaTranslation t) => ExplainAfterFlush(t);

    /// <summary>A translation used after the flush covering its unmap completed: who could have left it there.</summary>
    private Why ExplainAfterFlush(in DmaTranslation t) => t.Source switch
    {
        TranslationSource.Atc => _causes.Explain(
            (Cause.AttachFlushNotAwaited, "The first flush of the domain after an ATTACH returned without waiting for the ATS invalidation completions or the drain, while a DMA translated before it was still in flight (H5: hypervisor.flush.wrong-only-after-attach; Linux 0b15e02f0cc4, attach_device's flush did not wait for completion)."),
            (Cause.FlushSkipsAtc, "No flush invalidates the device's ATC (H5: hypervisor.flush.invalidate-atc = off; Linux 041be2717b19, a device with no device-TLB cache tag), so the entry outlived the flush that covered its unmap (§2.4 (b))."),
            (Cause.FlushMissesDepartedDevices, "The flush never reached this device: it had left the domain (attach-as-replace or detach) and the host flushes only the devices attached now, so its ATC kept the entry (H9, §8 q2)."),
            (Cause.AtsToggleKeepsAtc, "ATS was disabled and enabled again without invalidating the device's ATC, and flushes skip devices with ATS disabled: the entry cached before the device was blocked was served again (H9: arm_smmu_disable_ats / arm_smmu_enable_ats invalidate)."),
            (Cause.AtsKeptWhenBlocked, "ATS stayed enabled while the device was away from the domain, and the flushes of the domain no longer reached it, so its ATC kept the entry (H9)."),
            (Cause.AttachKeepsAtc, "ATTACH moved the device without invalidating its ATC, so the entry outlived the flushes that no longer reached the device (H9)."),
            (Cause.DevTlbFirst, "The device TLB was invalidated before the IOTLB and refilled from it before the IOTLB invalidation (H4, §4 rules)."),
            (Cause.AtcCompletionNotAwaited, "The flush returned before the device's ATS invalidation completion came (H5, §2.4 (b))."),
            (Cause.WrongFlushRange, "The list flush's range did not cover this IOVA, so the device's ATC was not invalidated for it (H7)."),
            (Cause.FlushFailureIgnored, "The flush failed and the failure was only logged (H8)."),
            (Cause.StageTwoChangeKeepsEntries, "A stage-2 change left nested entries in place (H14)."),
            (Cause.DmaNotDrained, "A DMA translated from the ATC before the flush was still in flight when the flush returned: the drain never came (H5, §2.4 (c)).")),
        TranslationSource.Iotlb => _causes.Explain(
            (Cause.AttachFlushNotAwaited, "The first flush of the domain after an ATTACH returned without waiting for the ATS invalidation completions or the drain, while a DMA translated before it was still in flight (H5: hypervisor.flush.wrong-only-after-attach; Linux 0b15e02f0cc4, attach_device's flush did not wait for completion)."),
            (Cause.DmaNotDrained, "A DMA translated from the IOTLB before the flush was still in flight when the flush returned: the drain never came (H5, §2.4 (c))."),
            (Cause.FlushMissesDepartedDevices, "The DMA was translated in the old domain before the device left it, and the flush never reached (drained) the departed device (H9, §8 q2)."),
            (Cause.WrongFlushRange, "The IOTLB still held the entry after the flush returned: the list flush's range did not cover this IOVA (H7)."),
            (Cause.FlushFailureIgnored, "The IOTLB still held the entry after the flush returned: the flush failed and the failure was only logged (H8)."),
            (Cause.DevTlbFirst, "The IOTLB entry was refilled by a translation racing the flush's invalidations (H4)."),
            (Cause.StageTwoChangeKeepsEntries, "A stage-2 change left nested entries in place (H14).")),
        _ => _causes.Explain(
            (Cause.AttachFlushNotAwaited, "The first flush of the domain after an ATTACH returned without waiting for the ATS invalidation completions or the drain, while a DMA translated before it was still in flight (H5: hypervisor.flush.wrong-only-after-attach; Linux 0b15e02f0cc4, attach_device's flush did not wait for completion)."),
            (Cause.FlushMissesDepartedDevices, "The DMA was translated in the old domain before the device left it, and the flush never reached (drained) the departed device (H9, §8 q2)."),
            (Cause.DmaNotDrained, "A DMA translated before the flush was still in flight when the flush returned: the drain never came (H5, §2.4 (c))."),
            (Cause.AtcCompletionNotAwaited, "A DMA translated before the flush was still in flight when the flush returned without waiting for the device (H5)."),
            // A walk made after the flush reaches a flushed leaf only through a table no longer linked from the root,
            // which only a cached pointer the flush left behind leads to.
            (Cause.WalkCacheKept, "The walk went through a stale walk-cache pointer to a table the unmap had unlinked, whose leaf still held the flushed mapping, because the flush did not drop the walk caches (H1, §3.1)."),
            (Cause.FreeTablesBeforeFlush, "The walk went through a cached pointer to a table page freed before the flush, whose leaf still held the flushed mapping (H1, §3.1).")),
    };

    private const string LeftInOldDomain =
        "The host's ATTACH put the device in its new domain without taking it out of the old one, so the old domain's mappings stayed reachable for it (H9: hypervisor.behaviour.attach-leaves-old-domain = on; cloud-hypervisor #6298 — virtio-iommu §5.13.6.3.2 requires the endpoint to be detached from its old domain).";

    private Why ExplainOtherDomain(in DmaTranslation t, in AccessContext ctx) => _causes.Explain(
        (Cause.AttachLeavesOldDomain, LeftInOldDomain),
        (Cause.AmbiguousDeviceId, AliasedDeviceId(ctx, null)),
        (Cause.AttachKeepsAtc, "ATTACH moved the device to another domain without invalidating its (untagged) ATC: the device kept translating its old domain's IOVAs (H9: hypervisor.behaviour.attach-invalidates-atc = off)."),
        (Cause.FlushMissesDepartedDevices, "A translation of the device's previous domain outlived the domain switch: the flush of the old domain never reached the device that left it (H9, §8 q2)."),
        (Cause.AtsKeptWhenBlocked, "A translation of the device's previous domain outlived the domain switch: ATS stayed enabled (H9)."),
        (Cause.AtsToggleKeepsAtc, "ATS was re-enabled without invalidating the ATC, which still held the previous domain's translation (H9)."),
        (Cause.DetachedDeviceTranslates, "The detached device kept translating through its last domain (H9, §8 q3)."));

    /// <summary>H13's story: the device was moved by another device's ATTACH that named the same logical id.</summary>
    private static string AliasedDeviceId(in AccessContext ctx, uint? home) =>
        $"{ctx.Device} is in domain {ctx.DeviceDomain}{(home is { } h ? $", not in its own domain {h}," : "")} because another device's vPCI bus shares its GUID bytes 4–7: both have the same logical device id, the host resolved that device's HVCALL_ATTACH_DEVICE_DOMAIN to {ctx.Device} and moved it, so its DMA addresses now resolve in a domain the driver never attached it to (H13, §1.9 \"Patch 1/5\": only the whole GUID is unique; driver.hazards.ambiguous-device-id = on, the safe driver refuses the ambiguous id at probe).";
}
