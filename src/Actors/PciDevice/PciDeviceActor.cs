using System.Collections.Immutable;
using Akka.Actor;
using HvIommu.Actors.Hypervisor;
using HvIommu.Actors.Metrics;
using HvIommu.Actors.Simulation;
using HvIommu.Actors.Tracing;
using HvIommu.Model.Device;
using HvIommu.Model.Events;
using HvIommu.Model.Hypercalls;
using HvIommu.Model.Iommu;
using HvIommu.Model.Randomness;
using HvIommu.Model.Settings;
using HvIommu.Model.Translation;

namespace HvIommu.Actors.PciDevice;

/// <summary>
/// An assigned PCI device (docs/design.md §2): the interpreter of its <see cref="DmaEngine{TReply}"/>, which decides
/// what the device does (transactions in flight, replays, drains, ATS invalidation completions, surprise removal).
/// The actor hands each message to the engine and performs what the engine asks through <see cref="IDmaPort{TReply}"/>:
/// translations against the host IOMMU, data phases judged by the oracle, trace and cost accounting, messages.
/// </summary>
internal sealed partial class PciDeviceActor : ReceiveActor, IDmaPort<IActorRef>
{
    private readonly SimWorld _world;
    private readonly DeviceSlot _slot;
    private readonly DeviceSpec _spec;
    private readonly MessageTally _tally;
    private readonly DmaEngine<IActorRef> _engine;
    private readonly DeviceDataPath _path;
    private IActorRef? _replayEngine;
    private bool _published;

    public PciDeviceActor(SimWorld world, int index)
    {
        _world = world;
        _slot = world.Devices[index];
        _spec = world.Settings.Devices[index];
        _tally = new MessageTally(world.Counters);
        _path = new DeviceDataPath(world.Translator, world.Host, world.Memory, world.Frames, _slot, world.Settings.Hypervisor.Latency);
        var random = world.Random.Derive("device-engine/" + _spec.Name);
        var life = world.Settings.Lifecycle;
        _engine = new DmaEngine<IActorRef>(_spec, _slot, random, new EnvironmentChoices(random, world.Choices), world.ScheduledReplays,
            life.SurpriseRemove == _spec.Name ? life.SurpriseRemoveAfter : null, this);
        Receive<ProgramDma>(m => Handle(m).Program(m.Descriptor, m.ReplyTo));
        Receive<TransferDue>(m => Handle(m).TransferDue(m.TransactionId));
        Receive<InvalidateAtc>(m => Handle(m).InvalidateAtc(m.FlushId, m.Blocks, m.ReplyTo));
        Receive<DrainDma>(m => Handle(m).Drain(m.FlushId, m.ReplyTo));
        Receive<Quiesce>(m => Handle(m).Quiesce(m.ReplyTo));
        Receive<SetRawGpaRing>(m => Handle(m).SetRing(m.Ring));
        Receive<ReplayRecent>(m => Handle(m).ReplayRecent(m.ReplyTo));
        Receive<ReplayNow>(m => Handle(m).ReplayNow(m.Ticket, m.Kind));
        Receive<ScheduleEnded>(_ => Publish());
    }

    protected override void PreStart()
    {
        if (_world.ScheduledReplays && _spec.Behaviour == DeviceBehaviour.StaleReplay)
            _replayEngine = SimProps.StartOrCreate(Context, "replays", () => ReplayEngineActor.Props(Context.Props.Dispatcher));
    }

    public static Props Props(SimWorld world, int index, string dispatcher) => Props(() => world, index, dispatcher);

    /// <summary>Props that build the device from the world <paramref name="world"/> returns then (a kept topology's current schedule).</summary>
    public static Props Props(Func<SimWorld> world, int index, string dispatcher) =>
        SimProps.Of(() => new PciDeviceActor(world(), index), dispatcher);

    protected override void PostStop() => Publish();

    // Once: at the schedule's end when the topology is kept (ScheduleEnded), else at the stop.
    private void Publish()
    {
        if (_published)
            return;
        _published = true;
        _tally.Publish();
        var latency = _world.Settings.Hypervisor.Latency;
        _world.Costs.Charge(Model.Costs.CostKind.DmaTransfer, latency.DmaTransferNs, _path.Transfers);
        _world.Costs.Charge(Model.Costs.CostKind.IotlbHit, latency.IotlbHitNs, _path.IotlbHits);
        _world.Costs.Charge(Model.Costs.CostKind.WalkReference, latency.WalkReferenceNs, _path.WalkReferences);
        _world.Costs.DeviceBusy(_path.ModelledNs);
    }

    private DmaEngine<IActorRef> Handle(object _)
    {
        _tally.Message();
        return _engine;
    }

    private string Actor => "device-" + _spec.Name;

    bool IDmaPort<IActorRef>.Translate(DmaTransaction tx)
    {
        var t = Translate(tx.Iova, tx.Access, tx.Replay, out var view, out var ctx);
        if (_world.Trace is { } trace)
            TraceTranslation(trace, tx, t, view);
        // The walk and fault checks (H1, H6) report from inside the translation; stop on them too.
        _world.StopIfAnswered();
        if (!t.Ok)
        {
            if (!tx.Replay)
                _world.Events.On(SimEvent.DmaFaulted(t, ctx, tx.Mapping));
            return false;
        }
        tx.Translation = t;
        tx.View = view;
        return true;
    }

    // Latency is sampled (one transaction in eight): reading the clock is a large share of a DMA's cost.
    void IDmaPort<IActorRef>.Issued(DmaTransaction tx) =>
        tx.IssuedNs = tx.Id % LatencyRecorder.DmaSampleEvery == 0 ? _world.Clock.NowNs : 0;

    void IDmaPort<IActorRef>.TransferDue(long transactionId) => Self.Tell(new TransferDue(transactionId));

    /// <summary>The data phase: the access is emitted at the moment it touches memory (the oracle judges it), in the
    /// context of the domain the device was in when the IOMMU translated it (DMA translated before a domain switch
    /// belongs to the old domain, H9); what is written follows from the translation alone.</summary>
    void IDmaPort<IActorRef>.Transfer(DmaTransaction tx)
    {
        var ctx = _path.ContextFor(tx.View!, tx.Replay, _engine.Step);
        var findings = _world.Violations.Findings;
        _world.Events.On(SimEvent.DmaAccessed(tx.Translation, ctx, tx.Mapping));
        if (_world.Violations.Findings != findings)
            _world.StopIfAnswered();
        var moved = _path.Transfer(tx, ctx, out var suppressed);
        _world.Trace?.Event(TraceEventKind.DmaAccess, Actor, $"DMA {tx.Access} 0x{tx.Iova:x}",
            $"GPA 0x{tx.Translation.Gpa:x} ({tx.Translation.Source}), transaction {tx.Id}{(tx.Replay ? ", replayed descriptor" : "")}{(suppressed ? ", write to a reused page-table/kernel frame not performed (H3 window)" : "")}");
        if (moved >= 0)
            _tally.Dma(moved);
        if (tx.IssuedNs != 0)
            _world.RecordLatency(_world.DmaLatency, tx.IssuedNs);
    }

    void IDmaPort<IActorRef>.Prefetch(ulong iova)
    {
        var t = Translate(iova, AccessKind.Read, replay: true, out var view, out _);
        _world.Trace?.Event(TraceEventKind.DmaTranslate, Actor, $"ATS prefetch 0x{iova:x}",
            t.Ok ? $"GPA 0x{t.Gpa:x} via {t.Source}, domain {view.DomainId}" : $"fault {t.Fault} ({t.Source}), domain {view.DomainId}");
        _world.StopIfAnswered();
    }

    void IDmaPort<IActorRef>.AtcInvalidated(long flushId, ImmutableArray<FlushVa>? blocks) =>
        _world.Trace?.Event(TraceEventKind.CacheInvalidate, Actor, "ATC invalidate",
            $"{(blocks is { } b ? $"{b.Length} blocks" : "all entries")}, handler flush {flushId}");

    void IDmaPort<IActorRef>.ReplayLater(long ticket, ReplayKind kind) => _replayEngine!.Tell(new ReplayLater(ticket, kind));

    void IDmaPort<IActorRef>.Completed(IActorRef replyTo, long descriptorId, int faults) => replyTo.Tell(new DmaCompleted(descriptorId, faults));

    void IDmaPort<IActorRef>.Answered(IActorRef replyTo, long flushId, bool drain) =>
        replyTo.Tell(drain ? new DmaDrained(flushId, _spec.Name) : new AtcInvalidationCompleted(flushId, _spec.Name));

    /// <summary>A request the removed device will never answer: the host learns the target is absent.</summary>
    void IDmaPort<IActorRef>.Unanswered(IActorRef replyTo, long flushId, bool drain) => replyTo.Tell(new RequestUnanswered(flushId, _spec.Name, drain));

    void IDmaPort<IActorRef>.Quiesced(IActorRef replyTo) => replyTo.Tell(new DeviceQuiesced(_spec.Name));

    void IDmaPort<IActorRef>.Removed(int aborted) =>
        _world.Trace?.Event(TraceEventKind.CacheInvalidate, Actor, "surprise removal",
            $"{_spec.Name} left the bus: {aborted} transactions aborted, no further answers");
}
