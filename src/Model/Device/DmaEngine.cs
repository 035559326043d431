using System.Collections.Immutable;
using HvIommu.Model.Hypercalls;
using HvIommu.Model.Iommu;
using HvIommu.Model.Mappings;
using HvIommu.Model.Randomness;
using HvIommu.Model.Settings;
using HvIommu.Model.Translation;

namespace HvIommu.Model.Device;

/// <summary>
/// An assigned PCI device's DMA engine as a pure state machine (docs/design.md §2, brief §2.4, §4): descriptors become
/// transactions, at most <see cref="DeviceSpec.InFlight"/> of them translated and not yet moved; each is translated when
/// issued and moves its data in a later step, so an unmap and a flush can fall between translation and access — the
/// window a flush must close by draining (H5). With ATS it answers an invalidation request once the DMA that used its
/// ATC has moved (PCIe ATS §10.3.8 ordering); a drain, once everything translated before it has moved. A stale-replay
/// device re-issues a completed descriptor later (H4, H5, H7, H8), holds a translated replayed write back as a posted
/// write would be, prefetches after an invalidation (H4), replays its recent descriptors when prodded (H10), writes a
/// raw-GPA ring with each descriptor (H11), and a surprise-removed device aborts everything and answers nothing.
/// <para>Every call is one message the device handles; the engine performs its effects through <see cref="IDmaPort{TReply}"/>
/// in the order it decides them (translations, data phases, answers, replays to time). Draws: offsets and read/write from
/// the device's own <see cref="SeededRandom"/>, and every misbehaviour (whether to replay, which page, how long to hold,
/// whether to prefetch) from its <see cref="EnvironmentChoices"/>. Not thread-safe: one device owns it.</para>
/// </summary>
/// <typeparam name="TReply">Whom an answer goes to (an actor reference in the simulator).</typeparam>
public sealed class DmaEngine<TReply> where TReply : class
{
    /// <summary>Descriptors a device keeps to replay when prodded (its ring's recent entries).</summary>
    public const int RecentKept = 4;

    /// <summary>Finished transactions kept for reuse at most (a device's in-flight and pending ones, with room).</summary>
    private const int DoneKept = 256;

    private readonly DeviceSpec _spec;
    private readonly DeviceSlot _slot;
    private readonly SeededRandom _random;
    private readonly EnvironmentChoices _env;
    private readonly IDmaPort<TReply> _port;
    private readonly bool _replayEngine;
    private readonly int? _removeAfter;
    private readonly Queue<DmaTransaction> _pending = new();
    private readonly List<DmaTransaction> _delayedReplays = new();
    private readonly List<DmaTransaction> _heldReplays = new();
    private readonly Dictionary<long, DmaTransaction> _scheduledReplays = new(); // by ticket, waiting in the replay engine
    private readonly Dictionary<long, ulong> _prefetches = new(); // ticket → IOVA of an ATS prefetch waiting in the replay engine
    private readonly Dictionary<long, DmaTransaction> _inFlight = new();
    private readonly List<Waiter> _waiters = new();
    private readonly Queue<DmaDescriptor> _recent = new();
    private readonly Stack<DmaTransaction> _done = new(); // finished transactions, handed out again by NewTransaction
    private DmaDescriptor? _ring;
    private long _nextTicket;
    private long _nextTransactionId;
    private TReply? _quiesceReplyTo;
    private bool _quiesced;
    private int _descriptorsSeen;

    /// <param name="spec">The device: its name, in-flight limit, behaviour and replay probability.</param>
    /// <param name="slot">The device as the IOMMU sees it: its ATC and its count of translations in flight.</param>
    /// <param name="random">The device's own draws (offsets, read or write).</param>
    /// <param name="env">Its misbehaviour's decisions (the strategy's choices in deterministic mode).</param>
    /// <param name="replayEngine">A stale-replay device times its replays, held writes and prefetches through
    /// <see cref="IDmaPort{TReply}.ReplayLater"/> (deterministic schedule version 3) instead of by its own steps.</param>
    /// <param name="surpriseRemoveAfter">This device leaves the bus when handed this many descriptors (lifecycle.surprise-remove); null: never.</param>
    public DmaEngine(DeviceSpec spec, DeviceSlot slot, SeededRandom random, EnvironmentChoices env, bool replayEngine, int? surpriseRemoveAfter, IDmaPort<TReply> port)
    {
        _spec = spec;
        _slot = slot;
        _random = random;
        _env = env;
        _replayEngine = replayEngine && spec.Behaviour == DeviceBehaviour.StaleReplay;
        _removeAfter = surpriseRemoveAfter;
        _port = port;
    }

    /// <summary>Messages handled so far (the device's own clock: delayed replays and held writes count in it).</summary>
    public long Step { get; private set; }

    /// <summary>The device was surprise-removed: no DMA, no answers.</summary>
    public bool Removed { get; private set; }

    /// <summary>Transactions translated whose data has not moved.</summary>
    public int InFlight => _inFlight.Count;

    /// <summary>Transactions waiting for an in-flight slot.</summary>
    public int Pending => _pending.Count;

    /// <summary>Drains and ATS invalidations not answered yet.</summary>
    public int Waiting => _waiters.Count;

    /// <summary>The driver wrote a descriptor: its transactions (and one ring write, H11) join the queue.</summary>
    public void Program(DmaDescriptor d, TReply replyTo)
    {
        Tick();
        if (_removeAfter is { } after && !Removed && ++_descriptorsSeen >= after)
            Remove();
        if (Removed)
        {
            _port.Completed(replyTo, d.Id, d.Transactions);
            return;
        }
        var state = new DescriptorState(d, replyTo);
        for (var i = 0; i < d.Transactions; i++)
        {
            var page = i % d.Pages;
            var offset = (ulong)_random.Next(64) << 6;
            var access = _random.Chance(d.WriteFraction) ? AccessKind.Write : AccessKind.Read;
            _pending.Enqueue(NewTransaction(state, d.Iova + ((ulong)page << 12) + offset, access, replay: false, d.MappingAt(page), d.Bytes));
        }
        if (_ring is { } ring)
        {
            state.Remaining++;
            var offset = (ulong)_random.Next(64) << 6;
            _pending.Enqueue(NewTransaction(state, ring.Iova + offset, AccessKind.Write, replay: false, ring.MappingAt(0), d.Bytes));
        }
        Pump();
    }

    /// <summary>The data phase of transaction <paramref name="transactionId"/> is due (a stale or repeated request is ignored).</summary>
    public void TransferDue(long transactionId)
    {
        Tick();
        if (!_inFlight.Remove(transactionId, out var tx))
            return;
        if (tx.Replay && _replayEngine)
            _heldReplays.Remove(tx);
        _port.Transfer(tx);
        _slot.TransferFinished();
        Finish(tx, faulted: false);
        if (_waiters.Count > 0)
            ReleaseWaiters(tx.Id);
        Recycle(tx);
        Pump();
    }

    /// <summary>ATS invalidation request: drop the entries now (all when <paramref name="blocks"/> is null); the
    /// completion waits for the in-flight DMA that used the ATC (PCIe ATS).</summary>
    public void InvalidateAtc(long flushId, ImmutableArray<FlushVa>? blocks, TReply replyTo)
    {
        Tick();
        if (Removed)
        {
            _port.Unanswered(replyTo, flushId, drain: false);
            return;
        }
        ReleaseHeldReplays(all: true);
        if (_slot.Atc is { } atc)
        {
            if (blocks is { } b)
                atc.InvalidatePages(b.AsSpan());
            else
                atc.InvalidateAll();
            _port.AtcInvalidated(flushId, blocks);
        }
        MaybePrefetch();
        var users = new HashSet<long>();
        foreach (var t in _inFlight.Values)
            if (t.Translation.Source == TranslationSource.Atc)
                users.Add(t.Id);
        Await(new Waiter(flushId, replyTo, users, Drain: false));
    }

    /// <summary>Drain: answer once every transaction translated before this request has moved its data.</summary>
    public void Drain(long flushId, TReply replyTo)
    {
        Tick();
        if (Removed)
        {
            _port.Unanswered(replyTo, flushId, drain: true);
            return;
        }
        ReleaseHeldReplays(all: true);
        Await(new Waiter(flushId, replyTo, _inFlight.Keys.ToHashSet(), Drain: true));
    }

    /// <summary>Stop starting replays; answer <paramref name="replyTo"/> once nothing is pending or in flight.</summary>
    public void Quiesce(TReply replyTo)
    {
        Tick();
        _quiesceReplyTo = replyTo;
        _delayedReplays.Clear();
        _scheduledReplays.Clear();
        _prefetches.Clear();
        ReleaseHeldReplays(all: true);
        CheckQuiesced();
    }

    /// <summary>The device's driver, bound before hv_iommu_init, gave it a ring at a raw GPA (H11).</summary>
    public void SetRing(DmaDescriptor ring)
    {
        Tick();
        _ring = ring;
    }

    /// <summary>
    /// The fault driver's prod (H10): a stale-replay device re-issues its recent descriptors now (one write each) and
    /// completes descriptor -1 once they are done; a well-behaved or removed one completes it at once. The recent
    /// descriptors stay: a device prodded again (after teardown freed tables the host still walks for it) replays them
    /// again, as a real device keeps its stale descriptors until it is reset.
    /// </summary>
    public void ReplayRecent(TReply replyTo)
    {
        Tick();
        if (_spec.Behaviour != DeviceBehaviour.StaleReplay || Removed || _recent.Count == 0)
        {
            _port.Completed(replyTo, -1, 0);
            return;
        }
        var prod = new DmaDescriptor(-1, 0, 1, _recent.Count, 64, 1.0, ImmutableArray<MappingFact>.Empty);
        var state = new DescriptorState(prod, replyTo);
        foreach (var d in _recent)
            _pending.Enqueue(NewTransaction(state, d.Iova, AccessKind.Write, replay: true, d.MappingAt(0), prod.Bytes));
        Pump();
    }

    /// <summary>The replay engine ran <paramref name="ticket"/>: a replay joins the queue, a prefetch is translated now
    /// (unless quiescing dropped it).</summary>
    public void ReplayNow(long ticket, ReplayKind kind)
    {
        Tick();
        if (kind == ReplayKind.Prefetch)
        {
            if (_prefetches.Remove(ticket, out var iova) && _quiesceReplyTo is null)
            {
                _slot.TranslationStarted();
                _port.Prefetch(iova);
                _slot.TransferFinished();
            }
            return;
        }
        if (_scheduledReplays.Remove(ticket, out var tx))
            _pending.Enqueue(tx);
        Pump();
    }

    private void Tick()
    {
        Step++;
        ReleaseHeldReplays(all: false);
    }

    private void Pump()
    {
        ReleaseDueReplays();
        while (_inFlight.Count - _heldReplays.Count < _spec.InFlight && _pending.TryDequeue(out var tx))
            Issue(tx);
        CheckQuiesced();
    }

    /// <summary>The translation phase: happens now; the data phase comes with a later <see cref="TransferDue"/>.</summary>
    private void Issue(DmaTransaction tx)
    {
        // Published before the translation, so a flush that finds the device idle after invalidating the caches knows
        // any later translation sees the new state and needs no drain.
        _slot.TranslationStarted();
        if (!_port.Translate(tx))
        {
            _slot.TransferFinished();
            Finish(tx, faulted: true);
            Recycle(tx);
            return;
        }
        tx.Id = ++_nextTransactionId;
        _port.Issued(tx);
        _inFlight.Add(tx.Id, tx);
        if (!HoldReplay(tx))
            _port.TransferDue(tx.Id);
    }

    /// <summary>A transaction, reusing one that is done: nothing but this engine held it, and it is off every queue.</summary>
    private DmaTransaction NewTransaction(object? state, ulong iova, AccessKind access, bool replay, MappingFact? mapping, int bytes)
    {
        if (!_done.TryPop(out var tx))
            return new DmaTransaction(state, iova, access, replay, mapping, bytes);
        tx.Reset(state, iova, access, replay, mapping, bytes);
        return tx;
    }

    /// <summary><paramref name="tx"/> is done (moved or faulted) and on no queue: keep it for <see cref="NewTransaction"/>,
    /// holding no mapping or domain meanwhile, so a finished mapping stays collectable.</summary>
    private void Recycle(DmaTransaction tx)
    {
        if (_done.Count >= DoneKept)
            return;
        tx.Reset(null, 0, AccessKind.Read, replay: false, null, 0);
        _done.Push(tx);
    }

    private void Finish(DmaTransaction tx, bool faulted)
    {
        if (tx.State is not DescriptorState d)
            return;
        if (faulted)
            d.Faults++;
        if (--d.Remaining > 0)
            return;
        _port.Completed(d.ReplyTo, d.Descriptor.Id, d.Faults);
        Remember(d.Descriptor);
        MaybeScheduleReplay(d.Descriptor);
    }

    private void Remember(DmaDescriptor d)
    {
        if (d.Id < 0)
            return;
        _recent.Enqueue(d);
        while (_recent.Count > RecentKept)
            _recent.Dequeue();
    }

    private void ReleaseWaiters(long transactionId)
    {
        for (var i = _waiters.Count - 1; i >= 0; i--)
        {
            var w = _waiters[i];
            if (w.Transactions.Remove(transactionId) && w.Transactions.Count == 0)
                Answer(w);
        }
    }

    private void Await(Waiter w)
    {
        if (w.Transactions.Count == 0)
            Answer(w);
        else
            _waiters.Add(w);
    }

    private void Answer(Waiter w)
    {
        _waiters.Remove(w);
        _port.Answered(w.ReplyTo, w.FlushId, w.Drain);
    }

    /// <summary>A stale-replay device re-issues a completed descriptor's page later: sometimes while the driver is
    /// still unmapping (H5's window), sometimes after the flush (stale caches: H4, H7, H8).</summary>
    private void MaybeScheduleReplay(DmaDescriptor d)
    {
        if (_spec.Behaviour != DeviceBehaviour.StaleReplay || _quiesceReplyTo is not null || Removed || !_env.Chance(_spec.ReplayProbability))
            return;
        var page = _env.Next(d.Pages);
        if (_replayEngine)
        {
            var ticket = ++_nextTicket;
            _scheduledReplays.Add(ticket, NewTransaction(null, d.Iova + ((ulong)page << 12), AccessKind.Write, replay: true, d.MappingAt(page), 64));
            _port.ReplayLater(ticket, ReplayKind.Replay);
            return;
        }
        var tx = NewTransaction(null, d.Iova + ((ulong)page << 12), AccessKind.Write, replay: true, d.MappingAt(page), 64);
        tx.DueStep = Step + _env.Next(2 * _spec.InFlight * Math.Max(1, d.Transactions) + 2);
        _delayedReplays.Add(tx);
    }

    /// <summary>
    /// After an ATS invalidation a stale-replay ATS device may ask again for the translation of a page it used
    /// recently — a translation request with no data, which PCIe ATS allows at any time — and so refill its ATC from
    /// whatever the IOMMU's caches hold then. Only a host that invalidates the IOTLB after the ATCs (H4, VT-d §6.5.2.5)
    /// hands it a stale entry. Only with a replay engine: whether it asks, for which page and when are the schedule's.
    /// </summary>
    private void MaybePrefetch()
    {
        if (!_replayEngine || _slot.Atc is null || _recent.Count == 0 || _quiesceReplyTo is not null || !_env.Chance(_spec.ReplayProbability))
            return;
        var d = _recent.ElementAt(_env.Next(_recent.Count));
        var page = _env.Next(d.Pages);
        var ticket = ++_nextTicket;
        _prefetches.Add(ticket, d.Iova + ((ulong)page << 12));
        _port.ReplayLater(ticket, ReplayKind.Prefetch);
    }

    private void ReleaseDueReplays()
    {
        for (var i = _delayedReplays.Count - 1; i >= 0; i--)
        {
            if (_delayedReplays[i].DueStep > Step)
                continue;
            _pending.Enqueue(_delayedReplays[i]);
            _delayedReplays.RemoveAt(i);
        }
    }

    /// <summary>
    /// A replayed write, once translated, is held back before its data phase, as a posted write queued behind the
    /// device's other traffic would be: for a few device steps, or until the replay engine runs. This keeps a
    /// translated transaction in flight across an unmap and its flush — the window H5 is about. An ATS invalidation
    /// request, a drain request and quiescing force every held write out (PCIe orders the invalidation completion and
    /// the drain after them), so a correct flush handler still waits for them. Held writes do not take an in-flight
    /// slot from programmed DMA.
    /// </summary>
    private bool HoldReplay(DmaTransaction tx)
    {
        if (!tx.Replay)
            return false;
        if (_replayEngine)
        {
            tx.ReleaseStep = long.MaxValue;
            _heldReplays.Add(tx);
            _port.ReplayLater(tx.Id, ReplayKind.Transfer);
            return true;
        }
        var hold = _env.Next(2 * _spec.InFlight + 1);
        if (hold == 0)
            return false;
        tx.ReleaseStep = Step + hold;
        _heldReplays.Add(tx);
        return true;
    }

    private void ReleaseHeldReplays(bool all)
    {
        for (var i = _heldReplays.Count - 1; i >= 0; i--)
        {
            var tx = _heldReplays[i];
            if (!all && tx.ReleaseStep > Step)
                continue;
            _heldReplays.RemoveAt(i);
            _port.TransferDue(tx.Id);
        }
    }

    private void CheckQuiesced()
    {
        if (_quiesceReplyTo is null || _quiesced || _pending.Count > 0 || _inFlight.Count > 0)
            return;
        _quiesced = true;
        _port.Quiesced(_quiesceReplyTo);
    }

    /// <summary>Surprise removal (lifecycle.surprise-remove; H5, Linux 4fc82cd907ac): outstanding transactions abort
    /// (their descriptors complete with errors), no DMA from now on, every pending drain or invalidation is unanswered.</summary>
    private void Remove()
    {
        Removed = true;
        _slot.Disconnect();
        _port.Removed(_pending.Count + _inFlight.Count);
        var aborted = _inFlight.Values.ToList();
        _inFlight.Clear();
        _heldReplays.Clear();
        _delayedReplays.Clear();
        foreach (var tx in aborted)
        {
            _slot.TransferFinished();
            Finish(tx, faulted: true);
        }
        while (_pending.TryDequeue(out var tx))
            Finish(tx, faulted: true);
        _recent.Clear();
        foreach (var w in _waiters.ToList())
            _port.Unanswered(w.ReplyTo, w.FlushId, w.Drain);
        _waiters.Clear();
        CheckQuiesced();
    }

    private sealed class DescriptorState(DmaDescriptor descriptor, TReply replyTo)
    {
        public DmaDescriptor Descriptor { get; } = descriptor;
        public TReply ReplyTo { get; } = replyTo;
        public int Remaining { get; set; } = descriptor.Transactions;
        public int Faults { get; set; }
    }

    private sealed record Waiter(long FlushId, TReply ReplyTo, HashSet<long> Transactions, bool Drain);
}
