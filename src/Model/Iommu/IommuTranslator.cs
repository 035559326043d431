using System.Collections.Immutable;
using HvIommu.Model.Caches;
using HvIommu.Model.Events;
using HvIommu.Model.Hypercalls;
using HvIommu.Model.Mappings;
using HvIommu.Model.Memory;
using HvIommu.Model.PageTables;
using HvIommu.Model.Translation;

namespace HvIommu.Model.Iommu;

/// <summary>
/// Translates one DMA address as the IOMMU hardware does (brief §4): the device's ATC if it has ATS,
/// then the IOTLB tagged by domain, then the paging-structure cache and a nested walk, filling the caches
/// on the way back. Each translation carries the shadow data the oracle needs (frame generation, mapping
/// record, found through <paramref name="mappings"/>), and every walk is emitted as a
/// <see cref="SimEventKind.Walked"/> event with the table pages it read (the oracle checks them, H1): the model
/// knows nothing of the oracle.
/// </summary>
public sealed class IommuTranslator(GuestMemory memory, HostIommu host, FrameAllocator frames, IMappingLookup mappings, ISimEventSink events, ulong apertureMax)
{
    private long _walks;
    private long _walkReferences;

    public long Walks => Interlocked.Read(ref _walks);
    public long WalkReferences => Interlocked.Read(ref _walkReferences);

    /// <param name="view">The device's view as the caller read it (so that its verdict and this translation agree);
    /// null reads it now.</param>
    public DmaTranslation Translate(DeviceSlot device, ulong iova, AccessKind access, in AccessContext ctx, DomainView? view = null)
    {
        view ??= device.View;
        var t = TranslateIn(device, iova, access, ctx, view);
        // A host whose ATTACH left the device in its old domain as well (cloud-hypervisor #6298, fixed by detaching the
        // endpoint from its old domain on ATTACH as virtio-iommu §5.13.6.3.2 requires): the old domain's mappings stay
        // programmed for the device, so what the new domain does not translate still reaches the old domain's buffers.
        if (!t.Ok && (t.Fault is WalkFault.NotPresent or WalkFault.Blocked or WalkFault.OutsideAperture)
            && view.LeftIn is { Blocked: false, TranslationEnabled: true } old)
            return TranslateInIommu(old, iova, access, ctx);
        return t;
    }

    private DmaTranslation TranslateIn(DeviceSlot device, ulong iova, AccessKind access, in AccessContext ctx, DomainView view)
    {
        if (view.Blocked)
        {
            // The IOMMU rejects the device's untranslated requests; but with ATS still enabled the device
            // serves translations from its own ATC (why later revisions disable ATS before blocking, H9).
            if (device.AtsEnabled && device.Atc is { } cached && cached.TryLookup(iova, out var hit))
                return Check(new DmaTranslation(true, WalkFault.None, TranslationSource.Atc, view.DomainId, iova, hit.Translate(iova), hit.Gpa | InPage(iova, hit.Size), hit.Size, hit.Writable, hit.FrameGeneration, hit.Mapping), access);
            return DmaTranslation.Faulted(WalkFault.Blocked, TranslationSource.None, view.DomainId, iova);
        }
        if (!view.TranslationEnabled)
            return Identity(view, iova);
        if (device.AtsEnabled && device.Atc is { } atc)
        {
            if (atc.TryLookup(iova, out var a))
                return Check(new DmaTranslation(true, WalkFault.None, TranslationSource.Atc, view.DomainId, iova, a.Translate(iova), a.Gpa | InPage(iova, a.Size), a.Size, a.Writable, a.FrameGeneration, a.Mapping), access);
            // The translation request: its completion is cached only if no ATC invalidation (of any source) and
            // no flush of the domain began meanwhile.
            var invalidations = atc.Invalidations;
            var epoch = host.Epoch(view.DomainId);
            var t = TranslateInIommu(view, iova, access, ctx);
            // A context change (ATTACH/DETACH: new view, then ATC invalidation) between the caller's view read and the
            // count read above is caught by the view no longer being the one translated through.
            if (t.Ok && atc.FillUnlessInvalidated(iova, new DeviceTlbEntry(PageBase(t.Hpa, t.Size), PageBase(t.Gpa, t.Size), t.Size, t.Writable, t.FrameGeneration, t.Mapping), invalidations)
                && (host.Epoch(view.DomainId) != epoch || !ReferenceEquals(device.View, view)))
                atc.InvalidatePages([FlushVa.FromRange(PageBase(iova, t.Size), PageBase(iova, t.Size) + t.Size.Bytes() - 1)]);
            return t;
        }
        return TranslateInIommu(view, iova, access, ctx);
    }

    private DmaTranslation TranslateInIommu(DomainView view, ulong iova, AccessKind access, in AccessContext ctx)
    {
        if (host.Iotlb.TryLookup(view.DomainId, iova, out var e))
            return Check(new DmaTranslation(true, WalkFault.None, TranslationSource.Iotlb, view.DomainId, iova, e.Translate(iova), e.Gpa | InPage(iova, e.Size), e.Size, e.Writable, e.FrameGeneration, e.Mapping), access);

        var epoch = host.Epoch(view.DomainId);
        var walk = host.WalkCache.TryLookupDeepest(view.DomainId, iova, Math.Min(view.Levels - 1, PagingStructureCache.MaxLevel), out var level, out var tableGpa)
            ? NestedWalker.WalkFrom(memory, host.Stage2, level - 1, tableGpa, apertureMax, iova, access)
            : NestedWalker.Walk(memory, host.Stage2, view.RootGpa, view.Levels, apertureMax, iova, access);
        Interlocked.Increment(ref _walks);
        Interlocked.Add(ref _walkReferences, walk.MemoryReferences);

        var probe = DmaTranslation.Faulted(walk.Fault, TranslationSource.Walk, view.DomainId, iova) with { WalkReferences = walk.MemoryReferences };
        events.On(SimEvent.Walked(walk.Chain, probe, ctx));
        FillWalkCache(view, iova, walk.Chain);
        if (host.Epoch(view.DomainId) != epoch)
            host.WalkCache.InvalidateDomain(view.DomainId);
        if (!walk.Ok)
            return probe;

        var pageGpa = PageBase(walk.Gpa, walk.Size);
        var record = mappings.FindMapping(view.DomainId, iova, pageGpa);
        var generation = record?.FrameGeneration ?? frames.GenerationOf(pageGpa);
        host.Iotlb.Fill(view.DomainId, iova, new IotlbEntry(PageBase(walk.Hpa, walk.Size), pageGpa, walk.Size, walk.Writable, generation, Mapping: record));
        if (host.Epoch(view.DomainId) != epoch)
            host.Iotlb.InvalidatePages(view.DomainId, [FlushVa.FromRange(PageBase(iova, walk.Size), PageBase(iova, walk.Size) + walk.Size.Bytes() - 1)]);
        return new DmaTranslation(true, WalkFault.None, TranslationSource.Walk, view.DomainId, iova, walk.Hpa, walk.Gpa, walk.Size, walk.Writable, generation, record) { WalkReferences = walk.MemoryReferences };
    }

    private void FillWalkCache(DomainView view, ulong iova, ImmutableArray<WalkStep> chain)
    {
        // Each non-leaf entry read points to the next table; cache the pointers (levels 1..top).
        for (var i = 0; i + 1 < chain.Length; i++)
        {
            var step = chain[i];
            if (step.Level >= 1 && step.Level <= PagingStructureCache.MaxLevel)
                host.WalkCache.Fill(view.DomainId, step.Level, iova, chain[i + 1].TableGpa);
        }
    }

    private DmaTranslation Identity(DomainView view, ulong iova)
    {
        if (!host.Stage2.TryTranslate(iova, out var hpa))
            return DmaTranslation.Faulted(WalkFault.Stage2Fault, TranslationSource.Identity, view.DomainId, iova);
        return new DmaTranslation(true, WalkFault.None, TranslationSource.Identity, view.DomainId, iova, hpa, iova, PageSize.Size4K, true, frames.GenerationOf(iova & ~GuestMemory.PageMask), null);
    }

    private static DmaTranslation Check(DmaTranslation t, AccessKind access) =>
        access == AccessKind.Write && !t.Writable ? t with { Ok = false, Fault = WalkFault.WriteToReadOnly } : t;

    private static ulong PageBase(ulong address, PageSize size) => address & ~(size.Bytes() - 1);

    private static ulong InPage(ulong iova, PageSize size) => iova & (size.Bytes() - 1);
}
