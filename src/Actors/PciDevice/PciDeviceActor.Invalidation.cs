using Akka.Actor;
using HvIommu.Actors.Protocol;
using HvIommu.Model.Iommu;
using HvIommu.Model.Mappings;
using HvIommu.Model.Settings;
using HvIommu.Model.Translation;

namespace HvIommu.Actors.PciDevice;

/// <summary>The device's answers to the IOMMU (ATS invalidation, drain), its replays and its quiescing.</summary>
internal sealed partial class PciDeviceActor
{
    /// <summary>ATS invalidation request: drop the entries now; the completion waits for DMA that used them (PCIe ATS).</summary>
    private void InvalidateAtc(InvalidateAtc m)
    {
        Tick();
        if (_removed)
        {
            Unanswered(m.FlushId, m.ReplyTo, drain: false);
            return;
        }
        ReleaseHeldReplays(all: true);
        if (_slot.Atc is { } atc)
        {
            if (m.Blocks is { } blocks)
                atc.InvalidatePages(blocks.AsSpan());
            else
                atc.InvalidateAll();
            _world.Trace?.Event(Tracing.TraceEventKind.CacheInvalidate, Actor, "ATC invalidate",
                $"{(m.Blocks is { } b ? $"{b.Length} blocks" : "all entries")}, handler flush {m.FlushId}");
        }
        MaybePrefetch();
        var users = _inFlight.Values.Where(t => t.Translation.Source == TranslationSource.Atc).Select(t => t.Id).ToHashSet();
        Await(new Waiter(m.FlushId, m.ReplyTo, users, Drain: false));
    }

    /// <summary>Drain: answer once every transaction translated before this request has moved its data.</summary>
    private void Drain(DrainDma m)
    {
        Tick();
        if (_removed)
        {
            Unanswered(m.FlushId, m.ReplyTo, drain: true);
            return;
        }
        ReleaseHeldReplays(all: true);
        Await(new Waiter(m.FlushId, m.ReplyTo, _inFlight.Keys.ToHashSet(), Drain: true));
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
        w.ReplyTo.Tell(w.Drain ? new DmaDrained(w.FlushId, _spec.Name) : new AtcInvalidationCompleted(w.FlushId, _spec.Name));
    }

    /// <summary>A misbehaving device re-issues a completed descriptor later: sometimes while the driver is still
    /// unmapping (H5's window), sometimes after the flush (stale caches: H4, H7, H8).</summary>
    private void MaybeScheduleReplay(DmaDescriptor d)
    {
        if (_spec.Behaviour != DeviceBehaviour.StaleReplay || _quiesceReplyTo is not null || _removed || !_env.Chance(_spec.ReplayProbability))
            return;
        var page = _env.Next(d.Pages);
        if (_replayEngine is not null)
        {
            var ticket = ++_nextTicket;
            _scheduledReplays.Add(ticket, new Transaction(null, d.Iova + ((ulong)page << 12), AccessKind.Write, replay: true, d.Mappings[page]));
            _replayEngine.Tell(new ReplayLater(ticket, ReplayKind.Replay));
            return;
        }
        var tx = new Transaction(null, d.Iova + ((ulong)page << 12), AccessKind.Write, replay: true, d.Mappings[page])
        {
            DueStep = _step + _env.Next(2 * _spec.InFlight * Math.Max(1, d.Transactions) + 2),
        };
        _delayedReplays.Add(tx);
    }

    /// <summary>The replay engine ran: the replay it held goes to the device's queue now (unless quiescing dropped it).</summary>
    private void ReplayScheduled(ReplayNow m)
    {
        Tick();
        if (m.Kind == ReplayKind.Prefetch)
        {
            if (_prefetches.Remove(m.Ticket, out var iova) && _quiesceReplyTo is null)
                Prefetch(iova);
            return;
        }
        if (_scheduledReplays.Remove(m.Ticket, out var tx))
            _pending.Enqueue(tx);
        Pump();
    }

    /// <summary>
    /// After an ATS invalidation a misbehaving ATS device may ask again for the translation of a page it used
    /// recently — a translation request with no data, which PCIe ATS allows at any time — and so refill its ATC
    /// from whatever the IOMMU's caches hold then. Only a host that invalidates the IOTLB after the ATCs (H4, VT-d
    /// §6.5.2.5) hands it a stale entry. In deterministic mode (schedule version 3) whether it asks, for which
    /// page, and when (the replay engine's step) are the schedule's choices; a fault is not judged (the page may
    /// be unmapped), as for a replay.
    /// </summary>
    private void MaybePrefetch()
    {
        if (_replayEngine is null || _slot.Atc is null || _recent.Count == 0 || _quiesceReplyTo is not null || !_env.Chance(_spec.ReplayProbability))
            return;
        var d = _recent.ElementAt(_env.Next(_recent.Count));
        var page = _env.Next(d.Pages);
        var ticket = ++_nextTicket;
        _prefetches.Add(ticket, d.Iova + ((ulong)page << 12));
        _replayEngine.Tell(new ReplayLater(ticket, ReplayKind.Prefetch));
    }

    private void ReleaseDueReplays()
    {
        for (var i = _delayedReplays.Count - 1; i >= 0; i--)
        {
            if (_delayedReplays[i].DueStep > _step)
                continue;
            _pending.Enqueue(_delayedReplays[i]);
            _delayedReplays.RemoveAt(i);
        }
    }

    /// <summary>
    /// A replayed write, once translated, is held back for a few device steps before its data phase, as a
    /// posted write queued behind the device's other traffic would be. This keeps a translated transaction
    /// in flight across an unmap and its flush — the window H5 is about — instead of moving its data in
    /// the very next mailbox step. An ATS invalidation request, a drain request and quiescing force every
    /// held write out (PCIe orders the invalidation completion and the drain after them), so a correct
    /// flush handler still waits for them. Held writes do not take an in-flight slot from programmed DMA.
    /// </summary>
    private bool HoldReplay(Transaction tx)
    {
        if (!tx.Replay)
            return false;
        if (_replayEngine is not null)
        {
            // Held until the replay engine runs (or an invalidation, drain or quiesce forces it out).
            tx.ReleaseStep = long.MaxValue;
            _heldReplays.Add(tx);
            _replayEngine.Tell(new ReplayLater(tx.Id, ReplayKind.Transfer));
            return true;
        }
        var hold = _env.Next(2 * _spec.InFlight + 1);
        if (hold == 0)
            return false;
        tx.ReleaseStep = _step + hold;
        _heldReplays.Add(tx);
        return true;
    }

    private void ReleaseHeldReplays(bool all)
    {
        for (var i = _heldReplays.Count - 1; i >= 0; i--)
        {
            var tx = _heldReplays[i];
            if (!all && tx.ReleaseStep > _step)
                continue;
            _heldReplays.RemoveAt(i);
            Self.Tell(new TransferDue(tx.Id));
        }
    }

    private void StartQuiesce(Quiesce m)
    {
        Tick();
        _quiesceReplyTo = m.ReplyTo;
        _delayedReplays.Clear();
        _scheduledReplays.Clear();
        _prefetches.Clear();
        ReleaseHeldReplays(all: true);
        CheckQuiesced();
    }

    private void CheckQuiesced()
    {
        if (_quiesceReplyTo is null || _quiesced || _pending.Count > 0 || _inFlight.Count > 0)
            return;
        _quiesced = true;
        _quiesceReplyTo.Tell(new DeviceQuiesced(_spec.Name));
    }

    private sealed class DescriptorState(DmaDescriptor descriptor, IActorRef replyTo)
    {
        public DmaDescriptor Descriptor { get; } = descriptor;
        public IActorRef ReplyTo { get; } = replyTo;
        public int Remaining { get; set; } = descriptor.Transactions;
        public int Faults { get; set; }
    }

    private sealed class Transaction(DescriptorState? descriptor, ulong iova, AccessKind access, bool replay, MappingRecord? mapping)
    {
        public DescriptorState? Descriptor { get; } = descriptor;
        public ulong Iova { get; } = iova;
        public AccessKind Access { get; } = access;
        public bool Replay { get; } = replay;
        /// <summary>The mapping the descriptor was built for at this page (what a fault is judged against).</summary>
        public MappingRecord? Mapping { get; } = mapping;
        public int Bytes => Descriptor?.Descriptor.Bytes ?? 64;
        public long Id { get; set; }
        public long DueStep { get; init; }
        public long ReleaseStep { get; set; }
        public long IssuedNs { get; set; }
        public DmaTranslation Translation { get; set; }
        public DomainView? View { get; set; }
    }

    private sealed record Waiter(long FlushId, IActorRef ReplyTo, HashSet<long> Transactions, bool Drain);
}
