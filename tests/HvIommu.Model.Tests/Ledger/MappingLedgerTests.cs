using HvIommu.Model.Events;
using HvIommu.Model.Hypercalls;
using HvIommu.Model.Ledger;
using HvIommu.Model.Mappings;
using HvIommu.Model.Memory;
using HvIommu.Model.Oracle;
using HvIommu.Model.PageTables;

namespace HvIommu.Model.Tests.Ledger;

/// <summary>
/// The run's ledger of mappings keeps each record's life from the event stream alone (docs/design.md §2: mapping →
/// mapped → unmapped → flushed, and a lazy unmap's flush-queue window); the oracle, subscribed to the same stream,
/// only reads the records.
/// </summary>
[Trait("Category", "Model")]
public sealed class MappingLedgerTests
{
    private const uint Domain = 5;
    private const ulong Iova = 0x40_0000;
    private readonly GuestMemory _memory = new(16UL << 20);
    private readonly FrameAllocator _frames;
    private readonly MappingLedger _ledger;

    public MappingLedgerTests()
    {
        _frames = new FrameAllocator(_memory, 8UL << 20, 64);
        _ledger = new MappingLedger(_frames);
    }

    private MappingRecord Register() =>
        _ledger.Register(Domain, Iova, _frames.Allocate(FrameOwner.DmaBuffer, ownerId: 0), PageSize.Size4K, writable: true, vcpu: 0, nowNs: 0);

    private static SimEvent Started(long seq) => SimEvent.FlushStarted(Domain, seq, null, seq, "flush-handler", 20 + seq);

    private static SimEvent Completed(long seq) => SimEvent.FlushCompleted(Domain, seq, null, "flush-handler", 30 + seq);

    [Fact]
    public void A_record_moves_from_mapped_through_the_flush_queue_window_to_flushed_on_events_alone()
    {
        var record = Register();
        Assert.Equal(MappingState.Mapping, record.State);

        _ledger.On(SimEvent.MappingWritten(record, "vcpu0", 1));
        Assert.Equal(MappingState.Mapped, record.State);
        Assert.Same(record, Assert.Single(_ledger.Mapped(Domain)));

        _ledger.On(SimEvent.MappingClearing(record, queued: true, "vcpu0", 10));
        _ledger.On(SimEvent.MappingCleared(record, "vcpu0", 11));
        Assert.Equal((MappingState.Unmapped, true), (record.State, record.Queued));
        Assert.Empty(_ledger.Mapped(Domain));
        // The last unmap at the IOVA is still found, for a walk that read its leaf just before the clear.
        Assert.Same(record, _ledger.FindMapping(Domain, Iova, record.Gpa));

        _ledger.On(Started(1));
        _ledger.On(Completed(1));
        Assert.Equal((MappingState.Flushed, 1L, 31L), (record.State, record.FlushedBySeq, record.FlushTimeNs));
        _ledger.On(SimEvent.MappingReleased(record, "vcpu0", 40));
        Assert.False(record.Queued);
    }

    [Fact]
    public void A_flush_that_started_before_the_clear_does_not_flush_the_mapping_and_a_later_one_does()
    {
        var record = Register();
        _ledger.On(SimEvent.MappingWritten(record, "vcpu0", 1));
        _ledger.On(Started(1));
        _ledger.On(SimEvent.MappingClearing(record, queued: false, "vcpu0", 10));
        _ledger.On(SimEvent.MappingCleared(record, "vcpu0", 11));

        _ledger.On(Completed(1));
        Assert.Equal(MappingState.Unmapped, record.State);

        _ledger.On(Started(2));
        _ledger.On(Completed(2));
        Assert.Equal((MappingState.Flushed, 2L), (record.State, record.FlushedBySeq));
    }

    [Fact]
    public void The_oracle_alone_on_the_stream_changes_no_record()
    {
        var record = Register();
        var oracle = new DmaOracle(_ledger, _frames, new Stage2(_memory.SizeBytes), new ViolationLog(16, false));

        oracle.On(SimEvent.MappingWritten(record, "vcpu0", 1));
        oracle.On(SimEvent.MappingClearing(record, queued: true, "vcpu0", 10));
        oracle.On(SimEvent.MappingCleared(record, "vcpu0", 11));
        oracle.On(Started(1));
        oracle.On(Completed(1));

        Assert.Equal((MappingState.Mapping, false), (record.State, record.Queued));
        Assert.Same(record, _ledger.FindMapping(Domain, Iova, record.Gpa));
        Assert.Equal(1, _ledger.Retention.Live);
    }

    [Fact]
    public void Over_many_map_unmap_flush_cycles_at_one_iova_the_ledger_holds_one_live_and_one_last_unmapped_record()
    {
        const int cycles = 10_000;
        var gpa = _frames.Allocate(FrameOwner.DmaBuffer, ownerId: 0);
        for (var i = 1; i <= cycles; i++)
        {
            var record = _ledger.Register(Domain, Iova, gpa, PageSize.Size4K, writable: true, vcpu: 0, nowNs: i);
            _ledger.On(SimEvent.MappingWritten(record, "vcpu0", i));
            _ledger.On(SimEvent.MappingClearing(record, queued: false, "vcpu0", i));
            _ledger.On(SimEvent.MappingCleared(record, "vcpu0", i));
            _ledger.On(Started(i));
            _ledger.On(Completed(i));
            Assert.Equal(MappingState.Flushed, record.State);
        }
        _ledger.Register(Domain, Iova, gpa, PageSize.Size4K, writable: true, vcpu: 0, nowNs: cycles + 1);

        Assert.Equal(cycles + 1, _ledger.MappingsRegistered);
        Assert.Equal(new MappingRetention(Live: 1, RecentlyUnmapped: 1, AwaitingFlush: 0, AwaitingFlushWeak: 0), _ledger.Retention);
    }
}
