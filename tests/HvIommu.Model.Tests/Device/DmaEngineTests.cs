using System.Collections.Immutable;
using HvIommu.Model.Caches;
using HvIommu.Model.Device;
using HvIommu.Model.Hypercalls;
using HvIommu.Model.Iommu;
using HvIommu.Model.Mappings;
using HvIommu.Model.PageTables;
using HvIommu.Model.Randomness;
using HvIommu.Model.Settings;
using HvIommu.Model.Translation;

namespace HvIommu.Model.Tests.Device;

/// <summary>
/// A device's DMA engine without an actor system (brief §2.4, §4): each test drives the engine with the messages a
/// device would get and checks the exact order of what it asks its port to do — translations, data phases, completions,
/// drain and ATS answers, replays handed to the replay engine — for every device hazard's window (H4, H5, H10, H11,
/// surprise removal).
/// </summary>
[Trait("Category", "Model")]
public sealed class DmaEngineTests
{
    private const ulong Buffer = 0x20_0000;
    private readonly List<string> _log = new();
    private readonly HashSet<ulong> _faulting = new();
    private readonly HashSet<ulong> _viaAtc = new();
    private readonly Queue<int> _choices = new();
    private DeviceSlot _slot = new("nic", 1, true, null);

    private DmaEngine<string> Engine(int inFlight = 8, DeviceBehaviour behaviour = DeviceBehaviour.WellBehaved, double replay = 0,
        bool replayEngine = false, int? removeAfter = null, bool ats = false)
    {
        if (ats)
            _slot = new DeviceSlot("gpu", 1, true, new DeviceTlb(16, new SeededRandom(1)));
        var spec = new DeviceSpec(_slot.Name, "dom", ats, inFlight, behaviour, replay);
        var random = new SeededRandom(7);
        return new DmaEngine<string>(spec, _slot, random, new EnvironmentChoices(random, new Scripted(_choices)), replayEngine, removeAfter, new Port(this));
    }

    private static DmaDescriptor Descriptor(long id, int transactions, ulong iova = Buffer, int pages = 1, double writes = 0) =>
        new(id, iova, pages, transactions, 64, writes, ImmutableArray.Create(new MappingFact[pages]));

    /// <summary>The IOVA of each translation asked for, in order (offsets inside the page dropped).</summary>
    private List<string> Translations() => _log.Where(l => l.StartsWith("translate")).ToList();

    [Fact]
    public void At_most_in_flight_transactions_are_translated_and_the_descriptor_completes_after_the_last_data_phase()
    {
        var e = Engine(inFlight: 2);
        e.Program(Descriptor(1, 3), "drv");
        Assert.Equal(["translate 0x200000", "issued 1", "due 1", "translate 0x200000", "issued 2", "due 2"], _log);
        Assert.Equal((2, 1), (e.InFlight, e.Pending));
        _log.Clear();
        e.TransferDue(1);
        Assert.Equal(["transfer 1", "translate 0x200000", "issued 3", "due 3"], _log);
        _log.Clear();
        e.TransferDue(2);
        e.TransferDue(3);
        e.TransferDue(3); // a repeated data phase is ignored
        Assert.Equal(["transfer 2", "transfer 3", "completed 1 faults 0 -> drv"], _log);
        Assert.Equal(0, _slot.InFlight);
    }

    [Fact]
    public void A_translation_fault_fails_the_transaction_without_a_data_phase()
    {
        var e = Engine();
        _faulting.Add(Buffer);
        e.Program(Descriptor(1, 2), "drv");
        Assert.Equal(["translate 0x200000", "translate 0x200000", "completed 1 faults 2 -> drv"], _log);
        Assert.Equal((0, 0), (e.InFlight, _slot.InFlight));
    }

    [Fact]
    public void A_drain_is_answered_only_once_every_transaction_translated_before_it_has_moved_its_data()
    {
        var e = Engine();
        e.Drain(6, "flush");
        Assert.Equal(["answered drain 6 -> flush"], _log); // an idle device answers at once
        _log.Clear();
        e.Program(Descriptor(1, 2), "drv");
        e.Drain(7, "flush");
        e.Program(Descriptor(2, 1, iova: 0x40_0000), "drv"); // translated after the drain: not waited for
        e.TransferDue(1);
        e.TransferDue(2);
        Assert.Equal("answered drain 7 -> flush", _log[^1]);
        Assert.Equal("transfer 2", _log[^3]);
        Assert.Equal(1, e.InFlight);
    }

    [Fact]
    public void An_ats_invalidation_completes_once_the_dma_that_used_the_atc_has_moved()
    {
        var e = Engine(ats: true);
        _viaAtc.Add(0x40_0000);
        e.Program(Descriptor(1, 1), "drv");               // transaction 1 via the IOTLB
        e.Program(Descriptor(2, 1, iova: 0x40_0000), "drv"); // transaction 2 via the ATC
        _log.Clear();
        e.InvalidateAtc(5, null, "flush");
        Assert.Equal(["atc invalidated all for 5"], _log);
        e.TransferDue(1);
        Assert.DoesNotContain(_log, l => l.StartsWith("answered"));
        e.TransferDue(2);
        Assert.Equal(["transfer 2", "completed 2 faults 0 -> drv", "answered atc 5 -> flush"], _log.TakeLast(3));
        _log.Clear();
        e.InvalidateAtc(8, [new FlushVa(0x200, 0)], "flush");
        Assert.Equal(["atc invalidated 1 blocks for 8", "answered atc 8 -> flush"], _log);
    }

    [Fact]
    public void A_replay_waits_for_its_replay_engine_step_and_a_drain_forces_the_held_write_out_before_answering()
    {
        var e = Engine(behaviour: DeviceBehaviour.StaleReplay, replay: 0.5, replayEngine: true);
        _choices.Enqueue(1); // the completed descriptor is replayed (page 0: one page, no choice)
        e.Program(Descriptor(1, 1), "drv");
        e.TransferDue(1);
        Assert.Equal(["completed 1 faults 0 -> drv", "later 1 Replay"], _log.TakeLast(2));
        _log.Clear();
        e.ReplayNow(1, ReplayKind.Replay);
        Assert.Equal(["translate 0x200000 replay", "issued 2", "later 2 Transfer"], _log); // held: no data phase yet
        _log.Clear();
        e.Drain(9, "flush");
        Assert.Equal(["due 2"], _log); // forced out; the drain waits for it
        e.TransferDue(2);
        Assert.Equal(["due 2", "transfer 2", "answered drain 9 -> flush"], _log);
        e.TransferDue(2); // the replay engine's own TransferDue comes late: ignored
        Assert.Equal(3, _log.Count);
    }

    [Fact]
    public void Without_a_replay_engine_a_replay_waits_its_drawn_number_of_device_steps()
    {
        var e = Engine(behaviour: DeviceBehaviour.StaleReplay, replay: 0.5);
        _choices.Enqueue(1); // replayed
        _choices.Enqueue(3); // due 3 steps after its completion
        _choices.Enqueue(0); // not held after translation
        e.Program(Descriptor(1, 1), "drv"); // step 1
        e.TransferDue(1);                   // step 2: completes; the replay is due at step 5
        e.Program(Descriptor(2, 0, iova: 0x40_0000), "drv"); // step 3
        e.Drain(1, "flush");                                // step 4
        Assert.DoesNotContain(_log, l => l.Contains("replay"));
        e.Program(Descriptor(3, 1, iova: 0x60_0000), "drv"); // step 5: released behind the new descriptor's transaction
        Assert.Equal(["translate 0x600000", "issued 2", "due 2", "translate 0x200000 replay", "issued 3", "due 3"], _log.TakeLast(6));
    }

    [Fact]
    public void Quiescing_stops_new_replays_drops_scheduled_ones_and_answers_once_idle()
    {
        var e = Engine(behaviour: DeviceBehaviour.StaleReplay, replay: 0.5, replayEngine: true);
        _choices.Enqueue(1);
        e.Program(Descriptor(1, 1), "drv");
        e.TransferDue(1); // replay ticket 1 scheduled
        e.Program(Descriptor(2, 1, iova: 0x40_0000), "drv");
        _log.Clear();
        e.Quiesce("host");
        Assert.Empty(_log); // transaction 2 still in flight
        e.TransferDue(2);
        Assert.Equal(["transfer 2", "completed 2 faults 0 -> drv", "quiesced -> host"], _log); // no replay decided
        e.ReplayNow(1, ReplayKind.Replay); // dropped by the quiesce
        Assert.Equal(3, _log.Count);
    }

    [Fact]
    public void A_surprise_removal_aborts_outstanding_dma_leaves_requests_unanswered_and_completes_new_descriptors_failed()
    {
        var e = Engine(removeAfter: 2);
        e.Program(Descriptor(1, 2), "drv");
        e.Drain(3, "flush");
        _log.Clear();
        e.Program(Descriptor(2, 4, iova: 0x40_0000), "drv");
        Assert.Equal(["removed 2", "completed 1 faults 2 -> drv", "unanswered drain 3 -> flush", "completed 2 faults 4 -> drv"], _log);
        Assert.True(e.Removed);
        Assert.Equal(0, _slot.InFlight);
        _log.Clear();
        e.InvalidateAtc(4, null, "flush");
        e.ReplayRecent("prod");
        e.TransferDue(1);
        Assert.Equal(["unanswered atc 4 -> flush", "completed -1 faults 0 -> prod"], _log);
    }

    [Fact]
    public void A_prod_replays_the_last_four_descriptors_as_writes_and_completes_descriptor_minus_one()
    {
        var e = Engine(behaviour: DeviceBehaviour.StaleReplay);
        for (var i = 0; i < 5; i++)
        {
            e.Program(Descriptor(i + 1, 1, iova: Buffer + ((ulong)i << 21)), "drv");
            e.TransferDue(i + 1);
        }
        _log.Clear();
        e.ReplayRecent("prod");
        Assert.Equal(["translate 0x400000 replay", "translate 0x600000 replay", "translate 0x800000 replay", "translate 0xa00000 replay"], Translations());
        for (var id = 6; id <= 9; id++)
            e.TransferDue(id);
        Assert.Equal("completed -1 faults 0 -> prod", _log[^1]);
        Assert.Single(_log, l => l.StartsWith("completed"));
        _log.Clear();
        e.ReplayRecent("prod"); // the recent descriptors stay: prodded again, it replays them again
        Assert.Equal(4, Translations().Count);
    }

    [Fact]
    public void A_well_behaved_device_answers_a_prod_at_once()
    {
        var e = Engine();
        e.Program(Descriptor(1, 1), "drv");
        e.TransferDue(1);
        _log.Clear();
        e.ReplayRecent("prod");
        Assert.Equal(["completed -1 faults 0 -> prod"], _log);
    }

    [Fact]
    public void A_raw_gpa_ring_adds_one_write_to_every_descriptor()
    {
        var e = Engine();
        e.SetRing(Descriptor(-2, 1, iova: 0x9000));
        e.Program(Descriptor(1, 1), "drv");
        Assert.Equal(["translate 0x200000", "translate 0x9000 write"], Translations());
        e.TransferDue(1);
        Assert.DoesNotContain(_log, l => l.StartsWith("completed"));
        e.TransferDue(2);
        Assert.Equal("completed 1 faults 0 -> drv", _log[^1]);
    }

    [Fact]
    public void After_an_ats_invalidation_the_schedule_may_have_the_device_prefetch_a_recent_page()
    {
        var e = Engine(behaviour: DeviceBehaviour.StaleReplay, replay: 0.5, replayEngine: true, ats: true);
        _choices.Enqueue(0); // the completed descriptor is not replayed
        e.Program(Descriptor(1, 1), "drv");
        e.TransferDue(1);
        _log.Clear();
        _choices.Enqueue(1); // prefetch (one recent descriptor of one page: no other choice)
        e.InvalidateAtc(5, null, "flush");
        Assert.Equal(["atc invalidated all for 5", "later 1 Prefetch", "answered atc 5 -> flush"], _log);
        e.ReplayNow(1, ReplayKind.Prefetch);
        Assert.Equal("prefetch 0x200000", _log[^1]);
        Assert.Equal(0, _slot.InFlight);
    }

    private sealed class Scripted(Queue<int> choices) : IChoiceMaker
    {
        public int Choose(int options) => choices.TryDequeue(out var c) ? c : 0;
    }

    private sealed class Port(DmaEngineTests t) : IDmaPort<string>
    {
        public bool Translate(DmaTransaction tx)
        {
            var page = tx.Iova & ~0xFFFUL;
            t._log.Add($"translate 0x{page:x}{(tx.Replay ? " replay" : tx.Access == AccessKind.Write ? " write" : "")}");
            if (t._faulting.Contains(page))
                return false;
            var source = t._viaAtc.Contains(page) ? TranslationSource.Atc : TranslationSource.Iotlb;
            tx.Translation = new DmaTranslation(true, WalkFault.None, source, 1, tx.Iova, page, page, PageSize.Size4K, true, 0, null);
            return true;
        }

        public void Issued(DmaTransaction tx) => t._log.Add($"issued {tx.Id}");
        public void TransferDue(long transactionId) => t._log.Add($"due {transactionId}");
        public void Transfer(DmaTransaction tx) => t._log.Add($"transfer {tx.Id}");
        public void Prefetch(ulong iova) => t._log.Add($"prefetch 0x{iova:x}");
        public void AtcInvalidated(long flushId, ImmutableArray<FlushVa>? blocks) =>
            t._log.Add($"atc invalidated {(blocks is { } b ? $"{b.Length} blocks" : "all")} for {flushId}");
        public void ReplayLater(long ticket, ReplayKind kind) => t._log.Add($"later {ticket} {kind}");
        public void Completed(string replyTo, long descriptorId, int faults) => t._log.Add($"completed {descriptorId} faults {faults} -> {replyTo}");
        public void Answered(string replyTo, long flushId, bool drain) => t._log.Add($"answered {(drain ? "drain" : "atc")} {flushId} -> {replyTo}");
        public void Unanswered(string replyTo, long flushId, bool drain) => t._log.Add($"unanswered {(drain ? "drain" : "atc")} {flushId} -> {replyTo}");
        public void Quiesced(string replyTo) => t._log.Add($"quiesced -> {replyTo}");
        public void Removed(int aborted) => t._log.Add($"removed {aborted}");
    }
}
