using System.Runtime.CompilerServices;
using HvIommu.Model.Hypercalls;
using HvIommu.Model.Translation;
using HvIommu.Model.Iommu;
using HvIommu.Model.Mappings;
using HvIommu.Model.Memory;
using HvIommu.Model.Oracle;
using HvIommu.Model.Tests.Iommu;
using HvIommu.Model.Ledger;

namespace HvIommu.Model.Tests.Oracle;

/// <summary>
/// The oracle keeps what can still be judged and nothing more: a long map → DMA → unmap → flush → free
/// sequence leaves its records bounded and lets the garbage collector take every finished mapping, while a
/// translation still held by a cache or a DMA in flight keeps its mapping, so a stale use of it long after is
/// judged with the right kind and history.
/// </summary>
[Trait("Category", "Model")]
public sealed class RetentionTests
{
    private const ulong Iova = 0xFFFF_F000;
    private const int Cycles = 20_000;
    private const int Limit = 256;
    private readonly IommuRig _rig = new IommuRig().WithPagingDomain();

    public RetentionTests() => _rig.Mappings.PendingHeldLimit = Limit;

    [Fact]
    public void A_long_run_of_operations_leaves_the_oracle_bounded_and_its_mappings_collectable()
    {
        var first = FinishedMapping(Iova);
        var afterWarmUp = Cycle(Cycles / 10);
        var afterAll = Cycle(Cycles);
        Collect();

        Assert.False(first.IsAlive, "the first mapping, unmapped, flushed and freed long ago, is still reachable");
        Assert.Equal(afterWarmUp, afterAll);
        Assert.True(afterAll.Total <= 8, $"oracle holds {afterAll} after {Cycles} operations over 4 IOVAs");
        Assert.Equal(1 + Cycles / 10 + Cycles, _rig.Mappings.MappingsRegistered);
        Assert.Equal(0, _rig.Log.Total);
    }

    [Fact]
    public void A_translation_held_in_flight_keeps_its_mapping_judged_as_stale_after_its_flush()
    {
        var (inFlight, serial) = InFlightThenFlushed(Iova);
        Cycle(Cycles);
        Collect();

        var v = _rig.Access(_rig.Nic, inFlight);

        Assert.Equal(ViolationKind.StaleTranslationAfterFlush, v?.Kind);
        Assert.Contains($"mapping #{serial} ", v!.Description);
        Assert.Contains("flushed by flush #1", v.Explanation);
    }

    [Fact]
    public void A_translation_held_in_flight_is_judged_a_freed_frame_access_when_its_buffer_was_reused()
    {
        var (inFlight, serial) = InFlightThenFlushed(Iova, reuse: true);
        Cycle(Cycles);
        Collect();

        var v = _rig.Access(_rig.Nic, inFlight);

        Assert.Equal(ViolationKind.DmaToFreedFrame, v?.Kind);
        Assert.Contains($"mapping #{serial} ", v!.Explanation);
        Assert.Contains("drain never came (H5", v.Explanation);
    }

    [Fact]
    public void A_lazy_unmap_still_queued_stays_in_its_window_however_many_unmaps_wait_behind_it()
    {
        var record = _rig.MapBuffer(Iova);
        var inFlight = _rig.Translate(_rig.Nic, Iova);
        _rig.Unmap(record, queued: true);
        _rig.FreeAndReuse(record);
        record = null;
        // Lazy unmaps with no flush yet: the oldest ones (ours first) move to the weakly held overflow.
        for (var i = 0; i < 2 * Limit + 10; i++)
        {
            var iova = Iova - (ulong)(1 + i % 4) * 0x1000;
            var other = _rig.MapBuffer(iova);
            foreach (var table in _rig.Unmap(other, queued: true).FreeList)
                _rig.Frames.Free(table);
            _rig.Frames.Free(other.Gpa);
        }
        Collect();
        var retained = _rig.Mappings.Retention;

        Assert.True(retained.AwaitingFlush <= Limit, retained.ToString());
        Assert.Equal(1, retained.AwaitingFlushWeak);
        Assert.Equal(ViolationKind.LazyWindowStaleAccess, _rig.Access(_rig.Nic, inFlight)?.Kind);
        Assert.Equal(0, _rig.Log.Total);
        // The flush queue's flush covers it: from then on the stale use is a use after free.
        _rig.FlushDomain();
        Assert.Equal(ViolationKind.DmaToFreedFrame, _rig.Access(_rig.Nic, inFlight)?.Kind);
    }

    [Fact]
    public void Unmaps_no_flush_covers_are_held_weakly_past_the_limit_and_still_marked_when_a_flush_comes()
    {
        var held = _rig.MapBuffer(Iova);
        var inFlight = _rig.Translate(_rig.Nic, Iova);
        _rig.Unmap(held);
        held = null;
        // A list flush of the wrong range (H7) after every unmap: it covers none of them.
        var elsewhere = FlushVa.FromRange(0x1000, 0x1FFF);
        for (var i = 0; i < 3 * Limit; i++)
        {
            var r = _rig.Mappings.Register(IommuRig.DomainId, 0x10_0000, 0x20_0000, HvIommu.Model.PageTables.PageSize.Size4K, true, 0, 0);
            _rig.Mappings.Mapped(r);
            _rig.Mappings.UnmapStarting(r, 1, queued: false);
            _rig.Mappings.UnmapDone(r, 2);
            _rig.Mappings.FlushCompleted(IommuRig.DomainId, _rig.Mappings.FlushStarted(IommuRig.DomainId), [elsewhere], 3);
        }
        Collect();
        var retained = _rig.Mappings.Retention;
        _rig.FlushDomain();

        Assert.True(retained.AwaitingFlush <= Limit, retained.ToString());
        Assert.Equal(1, retained.AwaitingFlushWeak);
        Assert.Equal(0, _rig.Mappings.Retention.AwaitingFlush + _rig.Mappings.Retention.AwaitingFlushWeak);
        Assert.Equal(MappingState.Flushed, inFlight.Mapping!.State);
        Assert.Equal(ViolationKind.StaleTranslationAfterFlush, _rig.Access(_rig.Nic, inFlight)?.Kind);
    }

    /// <summary>Maps, translates (through the walk, filling the IOTLB), unmaps, flushes, frees; returns a weak
    /// reference to the mapping and drops every strong one.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private WeakReference FinishedMapping(ulong iova)
    {
        var record = _rig.MapBuffer(iova);
        Assert.Null(_rig.Access(_rig.Nic, _rig.Translate(_rig.Nic, iova)));
        Finish(record);
        return new WeakReference(record);
    }

    /// <summary>A DMA translated (from the IOTLB) and still in flight while its mapping is unmapped and flushed
    /// (and its buffer freed and reused when asked).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private (DmaTranslation InFlight, long Serial) InFlightThenFlushed(ulong iova, bool reuse = false)
    {
        var record = _rig.MapBuffer(iova);
        _rig.Translate(_rig.Nic, iova);
        var inFlight = _rig.Translate(_rig.Nic, iova);
        Assert.Equal((TranslationSource.Iotlb, record.Serial), (inFlight.Source, inFlight.MappingSerial));
        var gather = _rig.Unmap(record);
        _rig.FlushDomain();
        foreach (var table in gather.FreeList)
            _rig.Frames.Free(table);
        if (reuse)
            _rig.FreeAndReuse(record);
        return (inFlight, record.Serial);
    }

    /// <summary>Correct operations over four IOVAs (the first one included, so the oracle's last unmap there moves on);
    /// returns what the oracle holds at the end.</summary>
    private MappingRetention Cycle(int operations)
    {
        for (var i = 0; i < operations; i++)
        {
            var iova = Iova - (ulong)(i % 4) * 0x1000;
            var record = _rig.MapBuffer(iova);
            Assert.Null(_rig.Access(_rig.Nic, _rig.Translate(_rig.Nic, iova)));
            Finish(record);
        }
        return _rig.Mappings.Retention;
    }

    private void Finish(MappingRecord record)
    {
        var gather = _rig.Unmap(record);
        _rig.FlushDomain();
        foreach (var table in gather.FreeList)
            _rig.Frames.Free(table);
        _rig.Frames.Free(record.Gpa);
    }

    private static void Collect()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
    }
}
