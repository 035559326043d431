using System.Collections.Immutable;
using HvIommu.Model.Device;
using HvIommu.Model.Hypercalls;
using HvIommu.Model.Iommu;
using HvIommu.Model.Mappings;
using HvIommu.Model.Memory;
using HvIommu.Model.Oracle;
using HvIommu.Model.PageTables;
using HvIommu.Model.Tests.Iommu;
using HvIommu.Model.Translation;

namespace HvIommu.Model.Tests.Oracle;

/// <summary>
/// Each DMA-access verdict of the oracle (docs/design.md §2), reached through a real map → translate → unmap →
/// flush → free sequence on guest memory, the stage-1 table, the host IOMMU and the translator.
/// </summary>
[Trait("Category", "Model")]
public sealed class AccessVerdictTests
{
    private const ulong Iova = 0xFFFF_F000;
    private readonly IommuRig _rig = new IommuRig().WithPagingDomain();

    [Fact]
    public void Access_through_a_live_mapping_is_allowed_from_walk_and_iotlb()
    {
        _rig.MapBuffer(Iova);
        var walk = _rig.Translate(_rig.Nic, Iova + 0x10);
        var cached = _rig.Translate(_rig.Nic, Iova + 0x20);
        Assert.Equal((TranslationSource.Walk, TranslationSource.Iotlb), (walk.Source, cached.Source));
        Assert.Null(_rig.Access(_rig.Nic, walk));
        Assert.Null(_rig.Access(_rig.Nic, cached));
        Assert.Equal(0, _rig.Log.Total);
    }

    [Fact]
    public void In_flight_translation_used_after_the_flush_completed_is_stale()
    {
        var record = _rig.MapBuffer(Iova);
        _rig.Translate(_rig.Nic, Iova);
        var inFlight = _rig.Translate(_rig.Nic, Iova);
        Assert.Equal(TranslationSource.Iotlb, inFlight.Source);
        _rig.Unmap(record);
        _rig.FlushDomain();

        var v = _rig.Access(_rig.Nic, inFlight);

        Assert.Equal(MappingState.Flushed, record.State);
        Assert.Equal(ViolationKind.StaleTranslationAfterFlush, v?.Kind);
        Assert.Equal(1, _rig.Log.Count(ViolationKind.StaleTranslationAfterFlush));
        Assert.Equal(IommuRig.DomainId, v!.Domain);
        Assert.Equal(record.Gpa, v.Frame);
    }

    [Fact]
    public void Iotlb_entry_surviving_a_flush_that_skipped_the_iotlb_is_stale()
    {
        var record = _rig.MapBuffer(Iova);
        _rig.Translate(_rig.Nic, Iova);
        _rig.Unmap(record);
        // The flush hypercall "completes" but its handler never invalidated the IOTLB (H8).
        _rig.Mappings.FlushCompleted(IommuRig.DomainId, _rig.Mappings.FlushStarted(IommuRig.DomainId), null, 20);

        var t = _rig.Translate(_rig.Nic, Iova);

        Assert.Equal(TranslationSource.Iotlb, t.Source);
        Assert.Equal(ViolationKind.StaleTranslationAfterFlush, _rig.Access(_rig.Nic, t)?.Kind);
    }

    [Fact]
    public void Access_between_unmap_and_flush_is_what_the_flush_is_for()
    {
        var record = _rig.MapBuffer(Iova);
        var t = _rig.Translate(_rig.Nic, Iova);
        _rig.Unmap(record);

        Assert.Equal(MappingState.Unmapped, record.State);
        Assert.Null(_rig.Access(_rig.Nic, t));
        Assert.Null(_rig.Access(_rig.Nic, _rig.Translate(_rig.Nic, Iova)));
        Assert.Equal(0, _rig.Log.Total);
    }

    [Fact]
    public void Access_to_a_buffer_freed_and_reused_after_the_flush_hits_a_freed_frame()
    {
        var record = _rig.MapBuffer(Iova);
        var t = _rig.Translate(_rig.Nic, Iova);
        _rig.Unmap(record);
        _rig.FlushDomain();
        _rig.FreeAndReuse(record);

        var v = _rig.Access(_rig.Nic, t);

        Assert.Equal(ViolationKind.DmaToFreedFrame, v?.Kind);
        Assert.Contains("reused as DmaBuffer", v!.Description);
        Assert.Contains("H5", v.Explanation);
    }

    [Theory]
    [InlineData(Cause.WalkCacheKept, "H1", "stale walk-cache pointer")]
    [InlineData(Cause.FreeTablesBeforeFlush, "H1", "table page freed before the flush")]
    [InlineData(Cause.DmaNotDrained, "H5", "drain never came")]
    public void A_walked_translation_of_a_flushed_mapping_names_the_walk_cache_when_only_it_can_explain_it(Cause on, string hazard, string text)
    {
        // With only the walk-cache knob wrong, a table walk can still reach a flushed leaf (through a pointer the flush
        // left cached): that is H1, not "no hazard knob of this run can cause it".
        var oracle = new DmaOracle(_rig.Mappings, _rig.Frames, _rig.Stage2, _rig.Log, HazardCauses.Of(on));
        var record = _rig.MapBuffer(Iova);
        var t = _rig.Translate(_rig.Nic, Iova);
        Assert.Equal(TranslationSource.Walk, t.Source);
        _rig.Unmap(record);
        _rig.FlushDomain();
        _rig.FreeAndReuse(record);

        var v = oracle.CheckAccess(t, IommuRig.Context(_rig.Nic));

        Assert.Equal((ViolationKind.DmaToFreedFrame, hazard), (v?.Kind, v?.Hazard));
        Assert.Contains(text, v!.Explanation);
        Assert.DoesNotContain(HazardCauses.Unexplained, v.Explanation);
    }

    [Fact]
    public void Strict_unmap_that_frees_the_buffer_before_any_flush_hits_a_freed_frame()
    {
        var record = _rig.MapBuffer(Iova);
        _rig.Translate(_rig.Nic, Iova);
        _rig.Unmap(record, queued: false);
        _rig.Frames.Free(record.Gpa);

        var v = _rig.Access(_rig.Nic, _rig.Translate(_rig.Nic, Iova));

        Assert.Equal(ViolationKind.DmaToFreedFrame, v?.Kind);
        Assert.Contains("freed", v!.Description);
        Assert.Contains("H2", v.Explanation);
    }

    /// <summary>Lazy dma_unmap: the leaf is cleared, the unmap queued, the buffer returned and reused at once,
    /// while the device still holds the translation it made before.</summary>
    private static DmaTranslation TranslateThenUnmapLazily(IommuRig rig)
    {
        var record = rig.MapBuffer(Iova);
        var t = rig.Translate(rig.Nic, Iova);
        rig.Unmap(record, queued: true);
        rig.FreeAndReuse(record);
        return t;
    }

    [Fact]
    public void Lazy_stale_access_inside_the_window_is_reported_but_not_counted_as_a_violation()
    {
        var t = TranslateThenUnmapLazily(_rig);

        var v = _rig.Access(_rig.Nic, t);

        Assert.Equal(ViolationKind.LazyWindowStaleAccess, v?.Kind);
        Assert.Equal("H3", v!.Hazard);
        Assert.Equal(1, _rig.Log.Count(ViolationKind.LazyWindowStaleAccess));
        Assert.Equal(0, _rig.Log.Total);
        Assert.Empty(_rig.Log.Kept);
    }

    [Fact]
    public void A_lazy_window_write_to_a_buffer_reused_as_a_page_table_is_counted_but_not_performed()
    {
        // The buffer freed at dma_unmap goes straight to the next page-table allocation (iommu_alloc_pages_node).
        var record = _rig.MapBuffer(Iova);
        var t = _rig.Translate(_rig.Nic, Iova, AccessKind.Write);
        _rig.Unmap(record, queued: true);
        _rig.Frames.Free(record.Gpa);
        Assert.Equal(record.Gpa, _rig.Frames.Allocate(FrameOwner.PageTable, (int)IommuRig.DomainId, zero: true));

        var v = _rig.Access(_rig.Nic, t);

        Assert.Equal(ViolationKind.LazyWindowStaleAccess, v?.Kind);
        Assert.Contains($"now a PageTable page of domain {IommuRig.DomainId}", v!.Description);
        Assert.True(LazyWindowWrite.IsSuppressed(t, IommuRig.Context(_rig.Nic), _rig.Stage2, _rig.Frames));
        Assert.Equal(0, _rig.Log.Total);
    }

    [Fact]
    public void Writes_to_reused_data_buffers_and_writes_judged_violations_are_performed()
    {
        var lazy = TranslateThenUnmapLazily(_rig);
        var window = _rig.Access(_rig.Nic, lazy);
        Assert.Equal(ViolationKind.LazyWindowStaleAccess, window?.Kind);
        Assert.False(LazyWindowWrite.IsSuppressed(lazy, IommuRig.Context(_rig.Nic), _rig.Stage2, _rig.Frames));

        // A strict-mode use after free onto a page-table page is a violation, and its write lands.
        const ulong other = 0xFFFF_E000;
        var record = _rig.MapBuffer(other);
        var t = _rig.Translate(_rig.Nic, other, AccessKind.Write);
        _rig.Unmap(record, queued: false);
        _rig.Frames.Free(record.Gpa);
        _rig.Frames.Allocate(FrameOwner.PageTable, (int)IommuRig.DomainId, zero: true);
        var v = _rig.Access(_rig.Nic, t);
        Assert.Equal(ViolationKind.DmaToFreedFrame, v?.Kind);
        Assert.False(LazyWindowWrite.IsSuppressed(t, IommuRig.Context(_rig.Nic), _rig.Stage2, _rig.Frames));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_translation_resolving_to_a_mapping_of_another_domain_than_its_descriptor_is_an_isolation_breach(bool replay)
    {
        // The descriptor was built for a mapping of domain 9 (the device's home); the device now translates in
        // domain 5, where the same IOVA maps another device's buffer (Xen XSA-302's shape).
        var home = _rig.Mappings.Register(9, Iova, IommuRig.FramesBaseGpa, PageSize.Size4K, true, 0, 0);
        _rig.Mappings.Mapped(home);
        _rig.MapBuffer(Iova);
        var t = _rig.Translate(_rig.Nic, Iova, replay: replay);

        var v = _rig.Oracle.CheckAccess(t, IommuRig.Context(_rig.Nic, replay), programmedFor: home);

        Assert.Equal(ViolationKind.IsolationBreach, v?.Kind);
        Assert.Contains("for a descriptor built for", v!.Description);
        Assert.Contains("XSA-302", v.Explanation);
    }

    [Fact]
    public void A_replay_resolving_to_a_newer_mapping_of_the_same_domain_is_not_an_isolation_breach()
    {
        var old = _rig.Mappings.Register(IommuRig.DomainId, Iova - 0x1000, IommuRig.FramesBaseGpa, PageSize.Size4K, true, 0, 0);
        _rig.MapBuffer(Iova);
        var t = _rig.Translate(_rig.Nic, Iova, replay: true);
        Assert.Null(_rig.Oracle.CheckAccess(t, IommuRig.Context(_rig.Nic, replay: true), programmedFor: old));
    }

    [Fact]
    public void Lazy_stale_access_is_a_violation_when_the_run_asks()
    {
        var rig = new IommuRig(lazyWindowIsViolation: true).WithPagingDomain();
        var t = TranslateThenUnmapLazily(rig);

        Assert.Equal(ViolationKind.LazyWindowStaleAccess, rig.Access(rig.Nic, t)?.Kind);
        Assert.Equal(1, rig.Log.Total);
        Assert.Equal(ViolationKind.LazyWindowStaleAccess, Assert.Single(rig.Log.Kept).Kind);
    }

    [Fact]
    public void Lazy_access_after_the_covering_flush_is_no_longer_in_the_window()
    {
        var t = TranslateThenUnmapLazily(_rig);
        _rig.FlushDomain();

        Assert.Equal(ViolationKind.DmaToFreedFrame, _rig.Access(_rig.Nic, t)?.Kind);
    }

    [Fact]
    public void Flush_started_before_the_unmap_completed_does_not_cover_it_and_the_next_one_does()
    {
        var record = _rig.MapBuffer(Iova);
        var t = _rig.Translate(_rig.Nic, Iova);
        var early = _rig.Mappings.FlushStarted(IommuRig.DomainId);
        _rig.Unmap(record);
        _rig.Mappings.FlushCompleted(IommuRig.DomainId, early, null, 20);

        Assert.Equal(MappingState.Unmapped, record.State);
        Assert.Null(_rig.Access(_rig.Nic, t));

        var late = _rig.Mappings.FlushStarted(IommuRig.DomainId);
        _rig.Mappings.FlushCompleted(IommuRig.DomainId, late, null, 30);

        Assert.Equal((MappingState.Flushed, late), (record.State, record.FlushedBySeq));
        Assert.Equal(ViolationKind.StaleTranslationAfterFlush, _rig.Access(_rig.Nic, t)?.Kind);
    }

    [Fact]
    public void Flush_started_between_unmap_start_and_unmap_done_does_not_cover_it()
    {
        var record = _rig.MapBuffer(Iova);
        _rig.Mappings.UnmapStarting(record, 10, queued: false);
        var racing = _rig.Mappings.FlushStarted(IommuRig.DomainId);
        _rig.Mappings.UnmapDone(record, 11);
        _rig.Mappings.FlushCompleted(IommuRig.DomainId, racing, null, 20);

        Assert.Equal(MappingState.Unmapped, record.State);
    }

    [Fact]
    public void List_flush_covers_only_the_mappings_inside_its_blocks()
    {
        var inside = _rig.MapBuffer(Iova);
        var outside = _rig.MapBuffer(Iova - 0x10_0000);
        _rig.Unmap(inside);
        _rig.Unmap(outside);

        var seq = _rig.Mappings.FlushStarted(IommuRig.DomainId);
        _rig.Mappings.FlushCompleted(IommuRig.DomainId, seq, ImmutableArray.Create(FlushVa.FromRange(Iova, Iova + 0xFFF)), 20);

        Assert.Equal((MappingState.Flushed, MappingState.Unmapped), (inside.State, outside.State));
        _rig.FlushDomain();
        Assert.Equal(MappingState.Flushed, outside.State);
        Assert.Equal(seq, inside.FlushedBySeq);
    }

    [Fact]
    public void Flushes_of_another_domain_do_not_cover_the_mapping()
    {
        var record = _rig.MapBuffer(Iova);
        _rig.Unmap(record);
        _rig.Mappings.FlushCompleted(9, _rig.Mappings.FlushStarted(9), null, 20);
        Assert.Equal(MappingState.Unmapped, record.State);
    }

    [Fact]
    public void Iotlb_hit_after_the_host_moved_the_frame_in_stage2_is_an_isolation_breach()
    {
        var record = _rig.MapBuffer(Iova);
        _rig.Translate(_rig.Nic, Iova);
        _rig.Stage2.Remap(record.Gpa, 0x20_0000_0000);

        var stale = _rig.Translate(_rig.Nic, Iova);

        Assert.Equal(TranslationSource.Iotlb, stale.Source);
        var v = _rig.Access(_rig.Nic, stale);
        Assert.Equal(ViolationKind.IsolationBreach, v?.Kind);
        Assert.Contains("H14", v!.Explanation);
    }

    [Fact]
    public void Host_that_invalidates_nested_entries_after_remap_stays_clean()
    {
        var record = _rig.MapBuffer(Iova);
        _rig.Translate(_rig.Nic, Iova);
        _rig.Stage2.Remap(record.Gpa, 0x20_0000_0000);
        _rig.Host.Iotlb.InvalidateWhereGpa(record.Gpa >> GuestMemory.PageShift);

        var fresh = _rig.Translate(_rig.Nic, Iova + 8);

        Assert.Equal((TranslationSource.Walk, 0x20_0000_0008UL), (fresh.Source, fresh.Hpa));
        Assert.Null(_rig.Access(_rig.Nic, fresh));
    }

    [Fact]
    public void Dma_by_a_device_that_was_blocked_after_translating_is_an_isolation_breach()
    {
        _rig.MapBuffer(Iova);
        var t = _rig.Translate(_rig.Nic, Iova);
        _rig.MoveToNewDomain(_rig.Nic, 2, DeviceDomainSettings.BlockAll);

        Assert.Equal(ViolationKind.IsolationBreach, _rig.Access(_rig.Nic, t)?.Kind);
    }

    [Fact]
    public void Translation_of_the_previous_domain_used_after_a_switch_is_an_isolation_breach()
    {
        _rig.MapBuffer(Iova);
        var t = _rig.Translate(_rig.AtsDevice, Iova);
        _rig.MoveToNewDomain(_rig.AtsDevice, 2, DeviceDomainSettings.Identity);

        var v = _rig.Access(_rig.AtsDevice, t);

        Assert.Equal(ViolationKind.IsolationBreach, v?.Kind);
        Assert.Contains("H9", v!.Explanation);
    }

    [Fact]
    public void Identity_dma_onto_a_page_table_page_is_an_isolation_breach_and_onto_a_buffer_is_not()
    {
        _rig.MoveToNewDomain(_rig.Nic, 1, DeviceDomainSettings.Identity);
        var buffer = _rig.Frames.Allocate(FrameOwner.DmaBuffer, 0);

        var toTable = _rig.Translate(_rig.Nic, _rig.Table.RootGpa + 0x40);
        var toBuffer = _rig.Translate(_rig.Nic, buffer);

        Assert.Equal(ViolationKind.IsolationBreach, _rig.Access(_rig.Nic, toTable)?.Kind);
        Assert.Null(_rig.Access(_rig.Nic, toBuffer));
    }
}
