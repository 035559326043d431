using System.Diagnostics;
using System.Globalization;
using Akka.Actor;
using HvIommu.Actors.Cli;
using HvIommu.Actors.Sweep;
using HvIommu.Model.Text;

namespace HvIommu.Actors.Cluster;

/// <summary>
/// The explorers of a run as the workers of an Akka.Cluster that this process coordinates: it listens on
/// <c>--cluster-listen</c> (or a free loopback port with <c>--local-workers</c>), is the cluster's seed node, starts
/// the local worker processes if asked, waits for <c>--min-workers</c>, and hands leases out through the
/// <see cref="CoordinatorActor"/>. Done when the sweep state is; then every worker is told the run finished.
/// </summary>
public sealed class ClusterPool(ClusterAddress listen, int minWorkers, int localWorkers, int localParallel, ClusterSettings settings, TextWriter log) : IExplorerPool
{
    private readonly CoordinatorStats _stats = new();
    private ActorSystem? _system;
    private IActorRef? _coordinator;
    private LocalWorkerProcesses? _local;
    private SweepState? _state;
    private ClusterAddress? _bound;
    private readonly Stopwatch _noWorkers = new();
    private string? _crash;
    private bool _finished;

    public string Where => localWorkers > 0
        ? $"{localWorkers} local worker process(es) × {localParallel} explorer thread(s), coordinated at {Bound}"
        : $"a cluster coordinated at {Bound} ({minWorkers}+ worker(s))";

    public string? Crash => _crash;

    public string Status => $"{_stats.Workers} worker(s), {_stats.Explorers} explorer(s){(_stats.Lost > 0 ? $", {_stats.Lost} lost" : "")}";

    public CoordinatorStats Stats => _stats;

    /// <summary>The address workers join (the bound port when 0 was asked for).</summary>
    public ClusterAddress Bound => _bound ?? listen;

    public void Start(SweepState state)
    {
        _state = state;
        _system = ClusterSystem.Start(settings, listen, seed: null);
        var self = Akka.Cluster.Cluster.Get(_system).SelfAddress;
        _bound = new ClusterAddress(listen.Host, self.Port ?? listen.Port);
        Akka.Cluster.Cluster.Get(_system).Join(self);
        if (!ClusterSystem.WaitUntilUp(_system, settings.JoinTimeout))
            throw new UsageException($"--cluster-listen {listen}: the coordinator did not come up within {settings.JoinTimeout.TotalSeconds:0} s");
        _coordinator = _system.ActorOf(Props.Create(() => new CoordinatorActor(state, _stats, log)), "coordinator");
        log.WriteLine($"coordinator: listening at {Bound}; workers join with: dotnet run --project src/Actors -c Release -- worker --join {Bound}");
        if (localWorkers > 0)
            _local = new LocalWorkerProcesses(localWorkers, Bound, localParallel, log);
        var want = Math.Max(minWorkers, localWorkers > 0 ? 1 : minWorkers);
        var waited = Stopwatch.StartNew();
        while (_stats.Workers < want)
        {
            if (waited.Elapsed > settings.WorkerWait)
                throw new UsageException($"only {_stats.Workers} of {want} worker(s) joined {Bound} within {settings.WorkerWait.TotalSeconds:0} s (hviommu.cluster.worker-wait){(_local is not null ? "; the local worker processes did not join: see their output above" : "")}");
            if (_local is not null && !_local.AnyRunning)
                throw new UsageException("every local worker process exited before joining: see their output above");
            // The coordinator's command-line thread polls the cluster's join count; outside any simulation
            // (workers run the schedules), so a wall-clock wait changes no schedule.
            Thread.Sleep(50);
        }
        state.Restart();
    }

    public bool Wait(TimeSpan timeout)
    {
        var state = _state ?? throw new InvalidOperationException("not started");
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < timeout)
        {
            if (state.Done)
            {
                Finish(state);
                return true;
            }
            if (_stats.Workers == 0)
            {
                if (!_noWorkers.IsRunning)
                    _noWorkers.Restart();
                if (_noWorkers.Elapsed > settings.WorkerWait)
                {
                    _crash = $"every worker is gone and none joined within {settings.WorkerWait.TotalSeconds:0} s; {state.Job.CountOf(state.Totals().Schedules)} were run";
                    state.Stop();
                    Finish(state);
                    return true;
                }
            }
            else
            {
                _noWorkers.Reset();
            }
            // Coordinator polling between lease reports: outside the simulation, it decides no schedule.
            Thread.Sleep(20);
        }
        return false;
    }

    private void Finish(SweepState state)
    {
        if (_finished)
            return;
        _finished = true;
        var t = state.Totals();
        _coordinator?.Tell(new FinishRun(string.Format(CultureInfo.InvariantCulture, "{0}, {1:N0} with violations", state.Job.CountOf(t.Schedules), t.WithViolations)));
    }

    public void Dispose()
    {
        _local?.Dispose();
        if (_system is not null)
            ClusterSystem.Shutdown(_system);
    }
}
