using System.Runtime.CompilerServices;
using Akka.Actor;
using Akka.Configuration;
using HvIommu.Model.Time;

namespace HvIommu.Actors.Deterministic;

/// <summary>
/// One ActorSystem set up for deterministic runs and reused across many schedules (creating a system per
/// schedule costs milliseconds): the virtual-time scheduler, the deterministic dispatcher and mailbox, and a
/// long-lived root on that dispatcher. Per schedule: <see cref="Reset"/>, <see cref="StartRun"/>,
/// <see cref="DriveUntil"/>, <see cref="StopRun"/>. All calls come from one thread, which drives.
/// </summary>
public sealed class DeterministicSystem : IDisposable
{
    /// <summary>The dispatcher every actor of a deterministic run must use (set it on every child's Props).</summary>
    public const string DispatcherId = "hviommu.deterministic.dispatcher";

    public const string DefaultRunName = "run";

    private const long StartupSteps = 10_000;
    private static readonly TimeSpan StartupTimeout = TimeSpan.FromSeconds(10);

    private readonly IActorRef _host;
    private IActorRef? _run;
    private IActorRef? _kept;
    private object? _keptTopology;

    private DeterministicSystem(ActorSystem system)
    {
        System = system;
        Scheduler = (VirtualTimeScheduler)system.Scheduler;
        // A top-level actor is started by the /user guardian on its own dispatcher: its Create arrives from
        // another thread, so wait for it here, once, before any schedule. The guardian starts the real cell and
        // only then swaps it into the host's reference: a message told before the swap waits in Akka's temporary
        // cell and reaches the mailbox later from the guardian's thread (a schedule's first CreateRun stranded,
        // or foreign work while driving). So the host is ready when it has started *and* its reference is swapped.
        var started = new StrongBox<bool>();
        _host = system.ActorOf(Props.Create(() => new DeterministicHost(started)).WithDispatcher(DispatcherId), "deterministic");
        bool Ready() => started.Value && _host is not IRepointableRef { IsStarted: false };
        while (!Ready())
        {
            Driver.DriveToQuiescence(StartupSteps);
            if (!Ready() && !Driver.AwaitForeignWork(StartupTimeout, Ready))
                throw new InvalidOperationException($"The deterministic host did not start within {StartupTimeout}.");
        }
    }

    /// <summary>
    /// The HOCON that installs the virtual scheduler and defines the deterministic dispatcher. Throughput 1
    /// alone lets a mailbox run deliver two user messages; the deterministic queue makes it exactly one
    /// (<see cref="DeterministicMessageQueue.TryDequeue"/>), without a throughput deadline and its clock reads.
    /// </summary>
    public static Config Configuration { get; } = ConfigurationFactory.ParseString($$"""
        akka.scheduler.implementation = "{{typeof(VirtualTimeScheduler).FullName}}, HvIommu.Actors"
        {{DispatcherId}} {
          type = Dispatcher
          executor = "{{typeof(DeterministicExecutorConfigurator).FullName}}, HvIommu.Actors"
          throughput = 1
          mailbox-type = "{{typeof(DeterministicMailboxType).FullName}}, HvIommu.Actors"
        }
        """);

    public ActorSystem System { get; }

    public VirtualTimeScheduler Scheduler { get; }

    public SimulationDriver Driver => Scheduler.Driver;

    /// <summary>Virtual time of the current schedule.</summary>
    public ISimClock Clock => Scheduler;

    /// <summary>The current schedule's root actor, or null between runs.</summary>
    public IActorRef? Run => _run;

    /// <summary>Creates the system; <paramref name="overlay"/> (e.g. logging) falls back to <see cref="Configuration"/>.</summary>
    public static DeterministicSystem Create(string name = "hviommu-deterministic", Config? overlay = null)
    {
        var config = overlay is null ? Configuration : overlay.WithFallback(Configuration);
        return new DeterministicSystem(ActorSystem.Create(name, config));
    }

    /// <summary>The run kept by <see cref="KeepRun"/> for the next schedule of its topology, or null.</summary>
    public IActorRef? Kept => _kept;

    /// <summary>
    /// Starts a new schedule (stopping the previous run first if one is alive). A run kept by <see cref="KeepRun"/> is
    /// kept for this schedule when <paramref name="topology"/> equals the topology it was kept for, and stopped
    /// otherwise (null: never kept).
    /// </summary>
    public void Reset(ulong seed, IScheduleStrategy strategy, object? topology = null)
    {
        if (_run is not null)
        {
            var stopped = StopRun();
            if (!stopped.Quiescent)
                throw new InvalidOperationException($"The previous run did not stop: {stopped}");
        }
        if (_kept is not null && (topology is null || !topology.Equals(_keptTopology)))
        {
            _run = _kept;
            _kept = null;
            var stopped = StopRun();
            if (!stopped.Quiescent)
                throw new InvalidOperationException($"The kept run did not stop: {stopped}");
        }
        Driver.Reset(seed, strategy);
    }

    /// <summary>
    /// Creates this schedule's root actor under the long-lived root, on the deterministic dispatcher, or starts the
    /// kept one again (a new instance from its Props, which must read this schedule's state). The creation is part
    /// of the schedule (its steps are chosen and recorded like any other), and the same steps either way.
    /// </summary>
    public IActorRef StartRun(Props props, string name = DefaultRunName)
    {
        ArgumentNullException.ThrowIfNull(props);
        if (_run is not null)
            throw new InvalidOperationException("A run is already alive; stop it first.");
        if (_kept is not null && _kept.Path.Name != name)
            throw new InvalidOperationException($"The kept run is named {_kept.Path.Name}, not {name}.");
        var created = new StrongBox<IActorRef?>();
        var kept = _kept;
        _host.Tell(new DeterministicHost.CreateRun(props.WithDispatcher(DispatcherId), name, created, kept));
        _kept = null;
        var result = Driver.DriveUntil(() => created.Value is not null, StartupSteps);
        // A replayed recording whose first choices are not the start's (an edited file): the run is not created, and the
        // caller's drive reports the same divergence (at the same step) as any other replay that leaves its recording.
        // The CreateRun was never delivered: it is dropped, so that no cleanup drive creates (or starts again) the run
        // outside the schedule, and a kept run stays kept for the next schedule.
        if (created.Value is null && result.DivergedAtStep is not null)
        {
            Discard(_host, children: false);
            _kept = kept;
            return ActorRefs.Nobody;
        }
        return _run = created.Value ?? throw new InvalidOperationException($"The run's root was not created: {result}");
    }

    public DriveResult DriveUntil(Func<bool>? done, long maxSteps) => Driver.DriveUntil(done, maxSteps);

    /// <summary>
    /// Stops the run's root with a PoisonPill and drives until nothing is left to run. The teardown is not
    /// part of the schedule: it is neither recorded nor traced (see <see cref="SimulationDriver.DriveToQuiescence"/>).
    /// </summary>
    public DriveResult StopRun(long maxSteps = 10_000_000)
    {
        if (_run is null)
            return Driver.DriveToQuiescence(maxSteps);
        _run.Tell(PoisonPill.Instance, ActorRefs.NoSender);
        _run = null;
        return Driver.DriveToQuiescence(maxSteps);
    }

    /// <summary>
    /// Ends the schedule keeping its actors for the next schedule of <paramref name="topology"/> (see <see cref="Reset"/>)
    /// instead of stopping them, outside the schedule like <see cref="StopRun"/>: every timer is dropped, every user
    /// message left in the run's mailboxes (and in what they unstashed) is discarded, the root is told
    /// <paramref name="scheduleEnded"/> (to publish what its actors publish at their stop), and the driver runs until
    /// nothing is left. Should that not end quiescent, the run is stopped as <see cref="StopRun"/> does and not kept.
    /// </summary>
    public DriveResult KeepRun(object topology, object scheduleEnded, long maxSteps = 10_000_000)
    {
        ArgumentNullException.ThrowIfNull(topology);
        var run = _run ?? throw new InvalidOperationException("No run is alive.");
        Scheduler.ClearTimers();
        Discard(run);
        run.Tell(scheduleEnded, ActorRefs.NoSender);
        var result = Driver.DriveToQuiescence(maxSteps);
        if (!result.Quiescent || run is not ActorRefWithCell { IsTerminated: false })
            return StopRun(maxSteps);
        _run = null;
        _kept = run;
        _keptTopology = topology;
        return result;
    }

    /// <summary>Drops the user messages waiting in <paramref name="actor"/>'s mailbox and, with
    /// <paramref name="children"/>, in those of its whole subtree.</summary>
    private static void Discard(IActorRef actor, bool children = true)
    {
        if (actor is not ActorRefWithCell cell)
            return;
        if (cell.Underlying is ActorCell { Mailbox.MessageQueue: DeterministicMessageQueue queue })
            queue.Discard();
        if (!children)
            return;
        foreach (var child in cell.Children)
            Discard(child);
    }

    /// <summary>Hands pending work to the thread pool, then terminates the system.</summary>
    public void Dispose()
    {
        Driver.Release();
        System.Terminate().Wait(TimeSpan.FromSeconds(30));
        Scheduler.Dispose();
    }
}
