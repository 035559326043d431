using System.Collections.Immutable;
using Akka.Actor;
using Akka.Event;
using HvIommu.Actors.Tracing;
using HvIommu.Model.Hypercalls;
using HvIommu.Model.Iommu;
using HvIommu.Model.Settings;

namespace HvIommu.Actors.Simulation;

/// <summary>
/// The host's IOMMU flush handler executing HVCALL_FLUSH_DEVICE_DOMAIN(_LIST) (brief §2.4): invalidate
/// the domain's IOTLB entries and walk caches, invalidate the ATCs of the domain's ATS devices and await
/// their completions, drain DMA translated with the old entries, then complete the hypercall. Whether it
/// waits, drains, drops walk caches, and in which order it invalidates are knobs ([UNKNOWN] in the brief;
/// H1, H4, H5). Several flushes may be in progress at once, each a small state machine.
/// </summary>
internal sealed class FlushHandlerActor : ReceiveActor
{
    private readonly SimWorld _world;
    private readonly IReadOnlyDictionary<string, IActorRef> _devices;
    private readonly FlushHandlerSettings _knobs;
    private readonly Dictionary<long, FlushRun> _runs = new();
    private readonly MessageTally _tally;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private long _nextFlushId;
    private long _completedFlushes;
    private bool _migrationDue;
    private readonly Model.Randomness.SeededRandom _migrationRandom;

    public FlushHandlerActor(SimWorld world, IReadOnlyDictionary<string, IActorRef> devices)
    {
        _world = world;
        _devices = devices;
        _knobs = world.Settings.Hypervisor.Flush;
        _tally = new MessageTally(world.Counters);
        _migrationRandom = world.Random.Derive("host/s2-migration");
        Receive<ExecuteFlush>(Start);
        Receive<AtcInvalidationCompleted>(m => Acknowledge(m.FlushId, m.Device, drain: false));
        Receive<DmaDrained>(m => Acknowledge(m.FlushId, m.Device, drain: true));
    }

    public static Props Props(SimWorld world, IReadOnlyDictionary<string, IActorRef> devices, string dispatcher) =>
        Akka.Actor.Props.Create(() => new FlushHandlerActor(world, devices)).WithDispatcher(dispatcher);

    protected override void PostStop() => _tally.Publish();

    private void Start(ExecuteFlush m)
    {
        _tally.Message();
        var devices = _world.Host.DevicesToFlush(m.Domain, out var departedMark);
        var run = new FlushRun(++_nextFlushId, m, _world.Oracle.FlushStarted(m.Domain), _world.Clock.NowNs, devices) { DepartedMark = departedMark };
        _runs.Add(run.Id, run);
        _world.Host.BumpEpoch(m.Domain);
        var latency = _world.Settings.Hypervisor.Latency;
        _world.AddModelledNs(m.Blocks is null ? latency.FlushDomainNs : latency.FlushListNs * m.Blocks.Value.Length);
        _log.Debug("Flush {FlushId} of domain {DomainId} started at {SimTimeNs} ns", run.Id, m.Domain, run.StartNs);
        _world.Trace?.Event(TraceEventKind.Flush, Actor, $"flush #{run.OracleSeq} started",
            $"domain {m.Domain}, {(m.Blocks is { } b ? $"{b.Length} blocks" : "whole domain")}, handler flush {run.Id}");
        if (_knobs.Order == FlushOrder.IotlbFirst)
            InvalidateIommuCaches(run);
        StartAtcInvalidation(run);
    }

    private void InvalidateIommuCaches(FlushRun run)
    {
        var host = _world.Host;
        if (run.Request.Blocks is { } blocks)
            host.Iotlb.InvalidatePages(run.Request.Domain, blocks.AsSpan());
        else
            host.Iotlb.InvalidateDomain(run.Request.Domain);
        _world.Trace?.Event(TraceEventKind.CacheInvalidate, Actor, "IOTLB invalidate",
            $"domain {run.Request.Domain}, {(run.Request.Blocks is { } b ? $"{b.Length} blocks" : "all entries")}, flush #{run.OracleSeq}");
        if (_knobs.InvalidateWalkCache)
        {
            host.WalkCache.InvalidateDomain(run.Request.Domain);
            _world.Trace?.Event(TraceEventKind.CacheInvalidate, Actor, "walk cache invalidate", $"domain {run.Request.Domain}, flush #{run.OracleSeq}");
        }
    }

    private void StartAtcInvalidation(FlushRun run)
    {
        foreach (var device in run.Devices)
        {
            // Only endpoints with ATS enabled get ATS invalidation requests (VT-d iommu_flush_dev_iotlb and
            // arm-smmu-v3 arm_smmu_atc_inv_domain skip the others); the driver invalidates when it re-enables ATS.
            if (device.Atc is null || !device.AtsEnabled)
                continue;
            _world.AddModelledNs(_world.Settings.Hypervisor.Latency.AtcInvalidateNs);
            _devices[device.Name].Tell(new InvalidateAtc(run.Id, run.Request.Blocks, Self));
            if (_knobs.AwaitAtcCompletions)
                run.Awaiting.Add(device.Name);
        }
        if (run.Awaiting.Count == 0)
            AtcPhaseDone(run);
    }

    private void AtcPhaseDone(FlushRun run)
    {
        if (_knobs.Order == FlushOrder.DevTlbFirst)
            InvalidateIommuCaches(run);
        run.Draining = true;
        if (_knobs.DrainDma)
            foreach (var device in run.Devices)
            {
                // Only DMA translated before the invalidation above needs draining; an idle device has none.
                if (device.InFlight == 0)
                    continue;
                _devices[device.Name].Tell(new DrainDma(run.Id, Self));
                run.Awaiting.Add(device.Name);
            }
        if (run.Awaiting.Count == 0)
            Complete(run);
    }

    private void Acknowledge(long flushId, string device, bool drain)
    {
        _tally.Message();
        // A completion for a flush that already finished (its wait was switched off) is simply late.
        if (!_runs.TryGetValue(flushId, out var run) || run.Draining != drain || !run.Awaiting.Remove(device) || run.Awaiting.Count > 0)
            return;
        if (drain)
            Complete(run);
        else
            AtcPhaseDone(run);
    }

    private void Complete(FlushRun run)
    {
        _runs.Remove(run.Id);
        _world.Host.FlushReachedDeparted(run.Request.Domain, run.DepartedMark);
        var now = _world.Clock.NowNs;
        _world.Oracle.FlushCompleted(run.Request.Domain, run.OracleSeq, run.Request.Blocks, now);
        _log.Debug("Flush {FlushId} of domain {DomainId} completed at {SimTimeNs} ns", run.Id, run.Request.Domain, now);
        var reply = new HypercallCompleted(run.Request.Code, HvStatus.Success);
        if (_world.Trace is { } trace)
        {
            trace.Event(TraceEventKind.Flush, Actor, $"flush #{run.OracleSeq} completed",
                $"domain {run.Request.Domain}, started at {run.StartNs} ns, {(_knobs.DrainDma ? "DMA drained" : "no drain")}");
            trace.HypercallReplied(Actor, run.Request.Vcpu, run.Request.ReplyTo, reply);
        }
        run.Request.ReplyTo.Tell(reply);
        MaybeMigrate(run.Request.Domain);
    }

    /// <summary>
    /// H14: every N-th completed flush the host migrates the frame of one live mapping of the flushed domain —
    /// only at a moment no device has DMA in flight (a host must quiesce DMA before moving a page; otherwise it
    /// waits for the next flush).
    /// </summary>
    private void MaybeMigrate(uint domain)
    {
        var every = _world.Settings.Hypervisor.Behaviour.S2MigrationEveryFlushes;
        if (every <= 0)
            return;
        if (++_completedFlushes % every == 0)
            _migrationDue = true;
        if (!_migrationDue || _world.Devices.Any(d => d.InFlight > 0))
            return;
        var mapped = _world.Oracle.MappedIn(domain);
        if (mapped.Count == 0)
            return;
        var victim = mapped[_migrationRandom.Next(mapped.Count)];
        _migrationDue = false;
        var newHpa = _world.Host.MigrateFrame(victim.Gpa, domain, _world.Devices.Where(d => d.Atc is not null));
        _log.Debug("Host migrated GPA {Gpa} of {Mapping} to HPA {Hpa}", $"0x{victim.Gpa:x}", victim.ToString(), $"0x{newHpa:x}");
        _world.Trace?.Event(TraceEventKind.CacheInvalidate, Actor, $"stage-2 migration of GPA 0x{victim.Gpa:x}",
            $"to HPA 0x{newHpa:x}; nested IOTLB/ATC entries {(_world.Settings.Hypervisor.Behaviour.S2ChangeInvalidatesIotlb ? "invalidated" : "kept (H14)")}");
    }

    private const string Actor = "flush-handler";

    private sealed class FlushRun(long id, ExecuteFlush request, long oracleSeq, long startNs, IReadOnlyList<DeviceSlot> devices)
    {
        /// <summary>The devices this flush reaches, fixed when it starts.</summary>
        public IReadOnlyList<DeviceSlot> Devices { get; } = devices;

        public long Id { get; } = id;
        public ExecuteFlush Request { get; } = request;
        public long OracleSeq { get; } = oracleSeq;
        public long StartNs { get; } = startNs;
        public HashSet<string> Awaiting { get; } = new();
        public bool Draining { get; set; }

        /// <summary>Which departures this flush reached (<see cref="HostIommu.DevicesToFlush"/>).</summary>
        public long DepartedMark { get; init; }
    }
}
