using System.Collections.Concurrent;
using System.Diagnostics;
using Akka.Actor;
using Akka.Cluster;
using HvIommu.Actors.Sweep;
using HvIommu.Model.Text;

namespace HvIommu.Actors.Cluster;

/// <summary>
/// A worker node's one actor: finds the coordinator, says how many explorer threads it runs, takes the job, keeps
/// one more lease queued than it has threads (so a thread finishing a lease rarely waits for the next), forwards
/// the threads' progress to the coordinator, and ends the process when the run ends or the coordinator is lost.
/// The schedules themselves run on the worker's explorer threads, each with its own deterministic system.
/// </summary>
public sealed class WorkerActor : ReceiveActor, IWithTimers
{
    private readonly ActorPath _coordinatorPath;
    private readonly int _parallel;
    private readonly Action<int, string> _finish;
    private readonly TextWriter _log;
    private readonly TimeSpan _jobTimeout;
    private readonly BlockingCollection<Lease> _leases = new();
    private readonly List<Thread> _threads = new();
    private IActorRef? _coordinator;
    private Address? _coordinatorAddress;
    private volatile bool _stop;
    private int _identifyAttempts;
    private long _schedules;
    private long _leasesRun;

    public ITimerScheduler Timers { get; set; } = null!;

    /// <param name="coordinatorPath">The coordinator actor's path on the address the worker joined.</param>
    /// <param name="finish">Ends the worker process: (exit code, why).</param>
    /// <param name="jobTimeout">How long to wait for the job after saying hello.</param>
    public WorkerActor(ActorPath coordinatorPath, int parallel, Action<int, string> finish, TextWriter log, TimeSpan jobTimeout)
    {
        _jobTimeout = jobTimeout;
        _coordinatorPath = coordinatorPath;
        _parallel = parallel;
        _finish = finish;
        _log = log;
        Receive<ActorIdentity>(Identified);
        Receive<string>(s => s == "identify", _ => Identify());
        Receive<string>(s => s == "no-job", _ => Finish(3, $"the coordinator at {_coordinatorAddress} sent no job within {_jobTimeout.TotalSeconds:0} s of this worker saying hello"));
        Receive<JobOffer>(Start);
        Receive<LeaseGrant>(g => _leases.Add(g.Lease));
        Receive<LeaseProgress>(p =>
        {
            _schedules += p.Count;
            _coordinator?.Tell(p);
        });
        Receive<LeaseDone>(_ =>
        {
            _leasesRun++;
            if (!_stop)
                _coordinator?.Tell(new LeaseRequest(1));
        });
        Receive<StopWork>(s =>
        {
            _stop = true;
            while (_leases.TryTake(out _))
            {
            }
            _log.WriteLine($"worker: stop: {s.Reason}");
        });
        Receive<ExplorerCrashed>(c => Finish(3, "an explorer thread crashed: " + c.Message));
        Receive<RunFinished>(f => Finish(0, $"run finished: {f.Summary}; this worker ran {Counted.Of(_schedules, "schedule")} in {Counted.Of(_leasesRun, "lease")}"));
        Receive<ClusterEvent.UnreachableMember>(m => LostIfCoordinator(m.Member.Address, "unreachable"));
        Receive<ClusterEvent.MemberRemoved>(m => LostIfCoordinator(m.Member.Address, "removed from the cluster"));
        Receive<Terminated>(t => LostIfCoordinator(t.ActorRef.Path.Address, "stopped"));
    }

    protected override void PreStart()
    {
        Akka.Cluster.Cluster.Get(Context.System).Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents,
            typeof(ClusterEvent.UnreachableMember), typeof(ClusterEvent.MemberRemoved));
        Identify();
    }

    protected override void PostStop()
    {
        _stop = true;
        _leases.CompleteAdding();
        Akka.Cluster.Cluster.Get(Context.System).Unsubscribe(Self);
    }

    private void Identify()
    {
        _identifyAttempts++;
        Context.ActorSelection(_coordinatorPath).Tell(new Identify("coordinator"));
    }

    private void Identified(ActorIdentity identity)
    {
        if (identity.Subject is null)
        {
            if (_identifyAttempts >= 20)
                Finish(2, $"no coordinator answers at {_coordinatorPath} (a cluster is there, but it is not coordinating a run)");
            else
                Timers.StartSingleTimer("identify", "identify", TimeSpan.FromMilliseconds(250));
            return;
        }
        _coordinator = identity.Subject;
        _coordinatorAddress = identity.Subject.Path.Address;
        Context.Watch(_coordinator);
        _coordinator.Tell(new WorkerHello(_parallel, Environment.MachineName, Environment.ProcessId));
        Timers.StartSingleTimer("no-job", "no-job", _jobTimeout);
    }

    private void Start(JobOffer offer)
    {
        Timers.Cancel("no-job");
        if (_threads.Count > 0)
            return;
        _log.WriteLine($"worker: job of {offer.Job.Cells()} cell(s) from {_coordinatorAddress}; {_parallel} explorer thread(s)");
        var self = Self;
        for (var t = 0; t < _parallel; t++)
        {
            var name = $"worker-explorer-{t}";
            var thread = new Thread(() => Explore(offer.Job, name, self)) { IsBackground = true, Name = name };
            _threads.Add(thread);
            thread.Start();
        }
        _coordinator!.Tell(new LeaseRequest(_parallel + 1));
    }

    private void Explore(ExplorationJob job, string name, IActorRef self)
    {
        try
        {
            using var runner = new LeaseRunner(job, name);
            var idle = Stopwatch.StartNew();
            var first = true;
            while (!_stop)
            {
                Lease? lease;
                try
                {
                    if (!_leases.TryTake(out lease, 200))
                        continue;
                }
                catch (ObjectDisposedException)
                {
                    return;
                }
                catch (InvalidOperationException)
                {
                    return;
                }
                // Time a thread waited for work between leases: the coordination a worker sees (not its start-up).
                var waited = first ? 0 : idle.Elapsed.TotalSeconds;
                first = false;
                runner.Run(lease, () => _stop, p =>
                {
                    self.Tell(p with { WaitSeconds = waited });
                    waited = 0;
                });
                self.Tell(new LeaseDone(lease.Id));
                idle.Restart();
            }
        }
        catch (Exception e)
        {
            _log.WriteLine($"worker: explorer {name} crashed: {e}");
            _stop = true;
            self.Tell(new ExplorerCrashed(e.Message));
        }
    }

    private void LostIfCoordinator(Address address, string what)
    {
        if (_coordinatorAddress is not null && address == _coordinatorAddress)
            Finish(3, $"lost the coordinator at {address}: {what}");
    }

    private void Finish(int code, string why)
    {
        _stop = true;
        _finish(code, why);
    }
}
