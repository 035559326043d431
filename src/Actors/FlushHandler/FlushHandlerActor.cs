using Akka.Actor;
using HvIommu.Actors.Configuration;
using HvIommu.Actors.Hypervisor;
using HvIommu.Actors.Logging;
using HvIommu.Actors.PciDevice;
using HvIommu.Actors.Simulation;
using HvIommu.Actors.Tracing;
using HvIommu.Actors.VmExit;
using HvIommu.Model.Events;
using HvIommu.Model.Hypercalls;
using HvIommu.Model.Iommu;
using HvIommu.Model.Settings;

namespace HvIommu.Actors.FlushHandler;

/// <summary>
/// The host's IOMMU flush handler executing HVCALL_FLUSH_DEVICE_DOMAIN(_LIST) (brief §2.4): invalidate
/// the domain's IOTLB entries and walk caches, invalidate the ATCs of the domain's ATS devices and await
/// their completions, drain DMA translated with the old entries, then complete the hypercall. The phases and
/// the hazard knobs (H1, H4, H5; [UNKNOWN] in the brief) are decided by <see cref="FlushHandling{TContext}"/>;
/// this actor performs its steps: cache invalidations on the host model, messages to the devices, the reply.
/// </summary>
internal sealed class FlushHandlerActor : ReceiveActor
{
    private readonly SimWorld _world;
    private readonly IReadOnlyDictionary<string, IActorRef> _devices;
    private readonly FlushHandling<FlushContext> _engine;
    private readonly List<FlushStep<FlushContext>> _steps = new();
    private readonly MessageTally _tally;
    private readonly SimLogger _log;
    private readonly StageTwoMigration _migration;
    private readonly Action<Model.Caches.IotlbEntry> _countCollateral;
    private readonly FlushCharges _charges;

    public FlushHandlerActor(SimWorld world, IReadOnlyDictionary<string, IActorRef> devices)
    {
        _world = world;
        _log = new SimLogger(Context, world.Clock);
        _devices = devices;
        _engine = new FlushHandling<FlushContext>(world.Settings.Hypervisor.Flush);
        _tally = new MessageTally(world.Counters);
        _migration = new StageTwoMigration(world.Settings.Hypervisor.Behaviour.S2MigrationEveryFlushes,
            new Model.Randomness.EnvironmentChoices(world.Random.Derive("host/s2-migration"), world.Choices), world.Host, world.Mappings, world.Devices);
        _countCollateral = world.CountIfCollateral;
        _charges = new FlushCharges(world.Settings.Hypervisor.Latency, world.Costs);
        Receive<ExecuteFlush>(Start);
        Receive<AtcInvalidationCompleted>(m =>
        {
            _tally.Message();
            _engine.OnAtcCompleted(m.FlushId, m.Device, _steps);
            Perform();
        });
        Receive<DmaDrained>(m =>
        {
            _tally.Message();
            _engine.OnDrained(m.FlushId, m.Device, _steps);
            Perform();
        });
        Receive<RequestUnanswered>(Unanswered);
        Receive<ScheduleEnded>(_ => _tally.Publish());
    }

    public static Props Props(SimWorld world, IReadOnlyDictionary<string, IActorRef> devices, string dispatcher) =>
        Props(() => world, devices, dispatcher);

    /// <summary>Props that build the handler from the world <paramref name="world"/> returns then (a kept topology's current schedule).</summary>
    public static Props Props(Func<SimWorld> world, IReadOnlyDictionary<string, IActorRef> devices, string dispatcher) =>
        SimProps.Of(() => new FlushHandlerActor(world(), devices), dispatcher);

    protected override void PostStop() => _tally.Publish();

    private void Start(ExecuteFlush m)
    {
        _tally.Message();
        var devices = _world.Host.DevicesToFlush(m.Domain, out var departedMark);
        var context = new FlushContext(m, _world.Flushes.Next(m.Domain), _world.Clock.NowNs, departedMark);
        _world.Host.BumpEpoch(m.Domain);
        _charges.Started(m.Blocks, m.Vcpu);
        var run = _engine.Start(m.Domain, m.Blocks, devices, context, _steps, _world.Host.TakeAttachedSinceFlush(m.Domain));
        _log.Debug("Flush {FlushId} of domain {DomainId} started", run.Id, m.Domain);
        _world.Events.On(SimEvent.FlushStarted(m.Domain, context.OracleSeq, m.Blocks, run.Id, Actor, context.StartNs));
        Perform();
    }

    /// <summary>A surprise-removed device will not answer (H5, Linux 4fc82cd907ac): wait for ever, give up after the ATS
    /// completion time-out (charged to the flush and the waiting vCPU), or give up at once.</summary>
    private void Unanswered(RequestUnanswered m)
    {
        _tally.Message();
        var policy = _engine.Knobs.OnDisconnectedDevice;
        _charges.Unanswered(policy, _engine.Run(m.FlushId)?.Context.Request.Vcpu);
        _world.Trace?.Event(TraceEventKind.Flush, Actor, $"{(m.Drain ? "drain" : "ATS invalidation")} of removed device {m.Device} unanswered",
            $"handler flush {m.FlushId}: {ConfigWords.Name(ConfigWords.OnDisconnectedDevice, policy)}");
        _engine.OnUnanswered(m.FlushId, m.Device, m.Drain, _steps);
        Perform();
    }

    /// <summary>Performs the engine's steps in order.</summary>
    private void Perform()
    {
        // By index: acknowledging an idle device's drain appends the flush's Complete step to the list.
        for (var i = 0; i < _steps.Count; i++)
        {
            var step = _steps[i];
            var run = step.Run;
            var seq = run.Context.OracleSeq;
            switch (step.Kind)
            {
                case FlushStepKind.InvalidateIotlb:
                    if (run.Blocks is { } blocks)
                        _world.Host.Iotlb.InvalidatePages(run.Domain, blocks.AsSpan(), _countCollateral);
                    else
                        _world.Host.Iotlb.InvalidateDomain(run.Domain, _countCollateral);
                    _world.Trace?.Event(TraceEventKind.CacheInvalidate, Actor, "IOTLB invalidate",
                        $"domain {run.Domain}, {(run.Blocks is { } b ? $"{b.Length} blocks" : "all entries")}, flush #{seq}");
                    break;
                case FlushStepKind.InvalidateWalkCache:
                    _world.Host.WalkCache.InvalidateDomain(run.Domain);
                    _world.Trace?.Event(TraceEventKind.CacheInvalidate, Actor, "walk cache invalidate", $"domain {run.Domain}, flush #{seq}");
                    break;
                case FlushStepKind.InvalidateAtc:
                    _charges.AtcInvalidation(run.AwaitsAtc, run.Context.Request.Vcpu);
                    _devices[step.Device!.Name].Tell(new InvalidateAtc(run.Id, run.Blocks, Self));
                    break;
                case FlushStepKind.Drain:
                    if (_engine.NeedsDrainRequest(step, _steps))
                        _devices[step.Device!.Name].Tell(new DrainDma(run.Id, Self));
                    break;
                case FlushStepKind.Complete:
                    Complete(run);
                    break;
            }
        }
        _steps.Clear();
    }

    private void Complete(FlushRun<FlushContext> run)
    {
        var request = run.Context.Request;
        var now = _world.Clock.NowNs;
        _world.Host.FlushReachedDeparted(run.Domain, run.Context.DepartedMark);
        _world.Events.On(SimEvent.FlushCompleted(run.Domain, run.Context.OracleSeq, run.Blocks, Actor, now, run.Context.StartNs, run.DrainsDma));
        _log.Debug("Flush {FlushId} of domain {DomainId} completed", run.Id, run.Domain);
        var reply = new HypercallCompleted(request.Code, HvStatus.Success);
        _world.Trace?.HypercallReplied(Actor, request.Vcpu, request.ReplyTo, reply);
        request.ReplyTo.Tell(reply);
        MaybeMigrate(run.Domain);
    }

    /// <summary>H14: the host may migrate a page of the flushed domain now (<see cref="StageTwoMigration"/>).</summary>
    private void MaybeMigrate(uint domain)
    {
        if (_migration.AfterFlush(domain) is not { } moved)
            return;
        var victim = moved.Victim;
        _log.Debug("Host migrated GPA {Gpa} of {Mapping} to HPA {Hpa}", $"0x{victim.Gpa:x}", victim.ToString(), $"0x{moved.NewHpa:x}");
        _world.Trace?.Event(TraceEventKind.CacheInvalidate, Actor, $"stage-2 migration of GPA 0x{victim.Gpa:x}",
            $"to HPA 0x{moved.NewHpa:x}; nested IOTLB/ATC entries {(_world.Settings.Hypervisor.Behaviour.S2ChangeInvalidatesIotlb ? "invalidated" : "kept (H14)")}");
    }

    private const string Actor = "flush-handler";

    /// <summary>What the actor keeps per flush: the request (whom to answer), the oracle's flush number, the start
    /// time, and which departed devices it reached (<see cref="HostIommu.DevicesToFlush(uint, out long)"/>).</summary>
    private sealed record FlushContext(ExecuteFlush Request, long OracleSeq, long StartNs, long DepartedMark);
}
