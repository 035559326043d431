using Akka.Actor;
using HvIommu.Actors.Metrics;
using HvIommu.Actors.Protocol;
using HvIommu.Actors.Simulation;
using HvIommu.Actors.Tracing;
using HvIommu.Model.Hypercalls;
using HvIommu.Model.Iommu;
using HvIommu.Model.Randomness;
using HvIommu.Model.Settings;
using HvIommu.Model.Translation;

namespace HvIommu.Actors.PciDevice;

/// <summary>
/// An assigned PCI device's DMA engine (docs/design.md §2): each transaction is translated (ATC → IOTLB →
/// nested walk) when it is issued and moves its data in a later step, so an unmap and a flush can fall
/// between translation and access — exactly the window a flush must close by draining (H5). With ATS it
/// answers invalidation requests once the DMA that used the ATC has finished. A misbehaving device replays
/// old descriptors after completion, which the IOMMU must stop once the flush has completed.
/// </summary>
internal sealed partial class PciDeviceActor : ReceiveActor
{
    private readonly SimWorld _world;
    private readonly DeviceSlot _slot;
    private readonly DeviceSpec _spec;
    private readonly SeededRandom _random;
    private readonly EnvironmentChoices _env; // what the device decides to do on its own: replays, their page and timing
    private readonly MessageTally _tally;
    private readonly Queue<Transaction> _pending = new();
    private readonly List<Transaction> _delayedReplays = new();
    private readonly List<Transaction> _heldReplays = new();
    private readonly Dictionary<long, Transaction> _scheduledReplays = new(); // by ticket, waiting in the replay engine
    private readonly Dictionary<long, ulong> _prefetches = new(); // ticket → IOVA of an ATS prefetch waiting in the replay engine
    private IActorRef? _replayEngine;
    private long _nextTicket;
    private readonly Dictionary<long, Transaction> _inFlight = new();
    private readonly List<Waiter> _waiters = new();
    private readonly byte[] _buffer = new byte[4096];
    private long _nextTransactionId;
    private long _step;
    private IActorRef? _quiesceReplyTo;
    private bool _quiesced;
    private long _modelledNs;
    private long _transfers;
    private long _iotlbHits;
    private long _walkReferences;

    public PciDeviceActor(SimWorld world, int index)
    {
        _world = world;
        _slot = world.Devices[index];
        _spec = world.Settings.Devices[index];
        _random = world.Random.Derive("device-engine/" + _spec.Name);
        _env = new EnvironmentChoices(_random, world.Choices);
        _tally = new MessageTally(world.Counters);
        Array.Fill(_buffer, (byte)0xA5);
        Receive<ProgramDma>(Program);
        Receive<TransferDue>(Transfer);
        Receive<InvalidateAtc>(InvalidateAtc);
        Receive<DrainDma>(Drain);
        Receive<Quiesce>(StartQuiesce);
        Receive<SetRawGpaRing>(SetRing);
        Receive<ReplayRecent>(ReplayRecentDescriptors);
        Receive<ReplayNow>(ReplayScheduled);
    }

    protected override void PreStart()
    {
        if (_world.ScheduledReplays && _spec.Behaviour == DeviceBehaviour.StaleReplay)
            _replayEngine = Context.ActorOf(ReplayEngineActor.Props(Context.Props.Dispatcher), "replays");
    }

    public static Props Props(SimWorld world, int index, string dispatcher) =>
        SimProps.Of(() => new PciDeviceActor(world, index), dispatcher);

    protected override void PostStop()
    {
        _tally.Publish();
        var latency = _world.Settings.Hypervisor.Latency;
        _world.Costs.Charge(Model.Costs.CostKind.DmaTransfer, latency.DmaTransferNs, _transfers);
        _world.Costs.Charge(Model.Costs.CostKind.IotlbHit, latency.IotlbHitNs, _iotlbHits);
        _world.Costs.Charge(Model.Costs.CostKind.WalkReference, latency.WalkReferenceNs, _walkReferences);
        _world.Costs.DeviceBusy(_modelledNs);
    }

    private void Program(ProgramDma m)
    {
        Tick();
        if (Gone(m))
            return;
        var d = m.Descriptor;
        var state = new DescriptorState(d, m.ReplyTo);
        for (var i = 0; i < d.Transactions; i++)
        {
            var page = i % d.Pages;
            var offset = (ulong)_random.Next(64) << 6;
            var access = _random.Chance(d.WriteFraction) ? AccessKind.Write : AccessKind.Read;
            _pending.Enqueue(new Transaction(state, d.Iova + ((ulong)page << 12) + offset, access, replay: false, d.Mappings[page]));
        }
        EnqueueRingAccess(state);
        Pump();
    }

    private void Pump()
    {
        ReleaseDueReplays();
        while (_inFlight.Count - _heldReplays.Count < _spec.InFlight && _pending.TryDequeue(out var tx))
            Issue(tx);
        CheckQuiesced();
    }

    /// <summary>The translation phase: happens now; the data phase comes with a later message.</summary>
    private void Issue(Transaction tx)
    {
        // Published before the domain view is read and the translation made, so a flush that finds the
        // device idle after invalidating the caches (and after a domain switch) knows any later translation
        // sees the new state and needs no drain.
        _slot.TranslationStarted();
        var t = TranslateStable(tx.Iova, tx.Access, tx.Replay, out var view, out var ctx);
        CountSource(t.Source);
        ChargeTranslation(t);
        if (_world.Trace is { } trace)
            TraceTranslation(trace, tx, t, view);
        // The walk and fault checks (H1, H6) report from inside the translation; stop on them too.
        _world.StopIfAnswered();
        if (!t.Ok)
        {
            _slot.TransferFinished();
            if (!tx.Replay)
                _world.Oracle.CheckFault(t, ctx, tx.Mapping);
            Finish(tx, faulted: true);
            return;
        }
        tx.Translation = t;
        tx.View = view;
        tx.Id = ++_nextTransactionId;
        // Latency is sampled (one transaction in eight): reading the clock is a large share of a DMA's cost.
        tx.IssuedNs = tx.Id % LatencyRecorder.DmaSampleEvery == 0 ? _world.Clock.NowNs : 0;
        _inFlight.Add(tx.Id, tx);
        if (!HoldReplay(tx))
            Self.Tell(new TransferDue(tx.Id));
    }

    /// <summary>An ATS translation request with no data phase (a prefetch): translated, cached as any translation
    /// is (ATC fill), its fault not judged.</summary>
    private void Prefetch(ulong iova)
    {
        _slot.TranslationStarted();
        var t = TranslateStable(iova, AccessKind.Read, replay: true, out var view, out _);
        _slot.TransferFinished();
        CountSource(t.Source);
        ChargeTranslation(t);
        _world.Trace?.Event(TraceEventKind.DmaTranslate, Actor, $"ATS prefetch 0x{iova:x}",
            t.Ok ? $"GPA 0x{t.Gpa:x} via {t.Source}, domain {view.DomainId}" : $"fault {t.Fault} ({t.Source}), domain {view.DomainId}");
        _world.StopIfAnswered();
    }

    /// <summary>Translates <paramref name="iova"/> against a context the host did not change meanwhile: redone if an
    /// ATTACH/DETACH moved the device during the walk (<see cref="DeviceSlot.ContextSeq"/>, odd while it is changing),
    /// after waiting out a stage-2 change's hold on DMA.</summary>
    private DmaTranslation TranslateStable(ulong iova, AccessKind access, bool replay, out DomainView view, out AccessContext ctx)
    {
        DmaTranslation t;
        int seq;
        var spin = WaitWhileDmaQuiesced();
        do
        {
            while (((seq = _slot.ContextSeq) & 1) != 0)
                spin.SpinOnce();
            view = _slot.View;
            ctx = AccessFor(view, replay);
            t = _world.Translator.Translate(_slot, iova, access, ctx, view);
        }
        while (_slot.ContextSeq != seq);
        return t;
    }

    /// <summary>
    /// After publishing a translation (<see cref="DeviceSlot.TranslationStarted"/>): waits while the host holds DMA off
    /// for a stage-2 change (<see cref="HostIommu.TryQuiesceDma"/>), so the translation reads the new stage-2 entry.
    /// Only a concurrent (stress) run can see the hold: the host takes and releases it within one message.
    /// </summary>
    private SpinWait WaitWhileDmaQuiesced()
    {
        var spin = new SpinWait();
        while (_world.Host.DmaQuiesced)
            spin.SpinOnce();
        return spin;
    }

    /// <summary>The data phase: the oracle judges the access at the moment it touches memory.</summary>
    private void Transfer(TransferDue m)
    {
        Tick();
        if (!_inFlight.Remove(m.TransactionId, out var tx))
            return;
        if (tx.Replay && _replayEngine is not null)
            _heldReplays.Remove(tx);
        // Judged against the domain the device was in when the IOMMU translated it: DMA translated before a
        // domain switch and landing after it belongs to the old domain (whose flush must drain it, H9).
        var ctx = AccessFor(tx.View!, tx.Replay);
        var verdict = _world.Oracle.CheckAccess(tx.Translation, ctx, tx.Mapping);
        if (verdict is not null)
            _world.StopIfAnswered();
        var suppressed = tx.Access == AccessKind.Write && _world.Oracle.SuppressesWrite(verdict, tx.Translation);
        _world.Trace?.Event(TraceEventKind.DmaAccess, Actor, $"DMA {tx.Access} 0x{tx.Iova:x}",
            $"GPA 0x{tx.Translation.Gpa:x} ({tx.Translation.Source}), transaction {tx.Id}{(tx.Replay ? ", replayed descriptor" : "")}{(suppressed ? ", write to a reused page-table/kernel frame not performed (H3 window)" : "")}");
        if (!suppressed)
            Move(tx);
        _slot.TransferFinished();
        _modelledNs += _world.Settings.Hypervisor.Latency.DmaTransferNs;
        _transfers++;
        if (tx.IssuedNs != 0)
            _world.RecordLatency(_world.DmaLatency, tx.IssuedNs);
        Finish(tx, faulted: false);
        if (_waiters.Count > 0)
            ReleaseWaiters(tx.Id);
        Pump();
    }

    private void Move(Transaction tx)
    {
        if (!_world.Stage2.TryReverse(tx.Translation.Hpa, out var gpa))
            return;
        var length = (int)Math.Min((ulong)tx.Bytes, 4096 - (gpa & 0xFFF));
        if (tx.Access == AccessKind.Write)
            _world.Memory.Write(gpa, _buffer.AsSpan(0, length));
        else
            _world.Memory.Read(gpa, _buffer.AsSpan(0, length));
        _tally.Dma(length);
    }

    private void Finish(Transaction tx, bool faulted)
    {
        if (tx.Descriptor is not { } d)
            return;
        if (faulted)
            d.Faults++;
        if (--d.Remaining > 0)
            return;
        d.ReplyTo.Tell(new DmaCompleted(d.Descriptor.Id, d.Faults));
        Remember(d.Descriptor);
        MaybeScheduleReplay(d.Descriptor);
    }

    /// <summary>The oracle's view of this access; it reads the clock itself only if it reports something.</summary>
    private AccessContext AccessFor(DomainView view, bool replay) =>
        new(_spec.Name, "", view.DomainId, view.Blocked, replay, _step, 0, view.AttachedNowhere);

    private void CountSource(TranslationSource source)
    {
        switch (source)
        {
            case TranslationSource.Atc:
                _tally.Add(SimCounter.AtcHits);
                break;
            case TranslationSource.Iotlb:
                _tally.Add(SimCounter.IotlbHits);
                if (_slot.Atc is not null)
                    _tally.Add(SimCounter.AtcMisses);
                break;
            case TranslationSource.Walk:
                _tally.Add(SimCounter.IotlbMisses);
                if (_slot.Atc is not null)
                    _tally.Add(SimCounter.AtcMisses);
                break;
        }
    }

    private string Actor => "device-" + _spec.Name;

    /// <summary>The cost model's DMA translation latency: an ATC hit is the device's own (0); an IOTLB hit its
    /// lookup; a walk the missed lookup plus every memory reference of the nested walk.</summary>
    private void ChargeTranslation(in DmaTranslation t)
    {
        var latency = _world.Settings.Hypervisor.Latency;
        long ns;
        switch (t.Source)
        {
            case TranslationSource.Iotlb:
                _iotlbHits++;
                ns = latency.IotlbHitNs;
                break;
            case TranslationSource.Walk:
                _walkReferences += t.WalkReferences;
                ns = latency.IotlbHitNs + t.WalkReferences * latency.WalkReferenceNs;
                break;
            default:
                ns = 0;
                break;
        }
        _modelledNs += ns;
        _world.TranslationCost.Record(Math.Max(1, ns));
    }

    /// <summary>The translate step, and the cache fills it made: a walk fills the IOTLB, a miss in the ATC fills it.</summary>
    private void TraceTranslation(Tracing.SimTrace trace, Transaction tx, DmaTranslation t, DomainView view)
    {
        var what = t.Ok ? $"GPA 0x{t.Gpa:x} via {t.Source}" : $"fault {t.Fault} ({t.Source})";
        trace.Event(TraceEventKind.DmaTranslate, Actor, $"translate 0x{tx.Iova:x}",
            $"{what}, domain {view.DomainId}{(t.Mapping is { } m ? $", mapping #{m.Serial}" : "")}{(tx.Replay ? ", replayed descriptor" : "")}");
        if (!t.Ok)
            return;
        if (t.Source == TranslationSource.Walk)
            trace.Event(TraceEventKind.CacheFill, Actor, $"IOTLB fill 0x{tx.Iova:x}", $"GPA 0x{t.Gpa:x}, domain {t.Domain}");
        if (_slot.Atc is not null && t.Source is TranslationSource.Walk or TranslationSource.Iotlb)
            trace.Event(TraceEventKind.CacheFill, Actor, $"ATC fill 0x{tx.Iova:x}", $"GPA 0x{t.Gpa:x}, domain {t.Domain}");
    }

    private void Tick()
    {
        _step++;
        _tally.Message();
        ReleaseHeldReplays(all: false);
    }
}
