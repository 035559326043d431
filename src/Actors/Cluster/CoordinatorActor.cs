using System.Diagnostics;
using Akka.Actor;
using Akka.Cluster;
using HvIommu.Actors.Sweep;

namespace HvIommu.Actors.Cluster;

/// <summary>What the coordinator measured: workers present, messages handled and the time spent handling them.</summary>
public sealed class CoordinatorStats
{
    private long _messages;
    private long _handlingTicks;
    private int _workers;
    private int _explorers;
    private int _lost;

    public long Messages => Interlocked.Read(ref _messages);

    /// <summary>Coordinator time spent on lease requests, progress and membership, in seconds.</summary>
    public double HandlingSeconds => (double)Interlocked.Read(ref _handlingTicks) / Stopwatch.Frequency;

    public int Workers => Volatile.Read(ref _workers);

    public int Explorers => Volatile.Read(ref _explorers);

    /// <summary>Workers lost mid-run (unreachable or removed) whose leases were handed to others.</summary>
    public int Lost => Volatile.Read(ref _lost);

    internal void Handled(long ticks)
    {
        Interlocked.Increment(ref _messages);
        Interlocked.Add(ref _handlingTicks, ticks);
    }

    internal void SetWorkers(int workers, int explorers)
    {
        Volatile.Write(ref _workers, workers);
        Volatile.Write(ref _explorers, explorers);
    }

    internal void AddLost() => Interlocked.Increment(ref _lost);
}

/// <summary>
/// The coordinator of an exploring cluster: hands out leases of seed ranges from the shared <see cref="SweepState"/>
/// to workers that ask (work pulling), records their streamed progress, and when the cluster's failure detector says
/// a worker is unreachable (killed process, lost network) or it leaves, takes back its leases — their unfinished seeds
/// go to the next worker that asks, while anything the lost worker still sends is refused by the lease book — and
/// downs it. Stops every worker at the first violation (unless all schedules are wanted) and when the run is done.
/// </summary>
public sealed class CoordinatorActor : ReceiveActor
{
    private sealed class Worker(IActorRef actor, int parallel)
    {
        public IActorRef Actor { get; } = actor;
        public int Parallel { get; } = parallel;
        public int Wanted { get; set; }
    }

    private readonly SweepState _state;
    private readonly CoordinatorStats _stats;
    private readonly TextWriter _log;
    private readonly Dictionary<Address, Worker> _workers = new();
    private readonly HashSet<Address> _lost = new();
    private string? _stopSent;
    private bool _finished;

    public CoordinatorActor(SweepState state, CoordinatorStats stats, TextWriter log)
    {
        _state = state;
        _stats = stats;
        _log = log;
        Receive<WorkerHello>(m => Timed(() => Hello(m)));
        Receive<LeaseRequest>(m => Timed(() => Request(m)));
        Receive<LeaseProgress>(m => Timed(() => Progress(m)));
        Receive<ClusterEvent.UnreachableMember>(m => Timed(() => Lose(m.Member.Address, "unreachable (the failure detector lost its heartbeat)")));
        Receive<ClusterEvent.MemberRemoved>(m => Timed(() => Lose(m.Member.Address, "removed from the cluster")));
        Receive<Terminated>(t => Timed(() => Lose(t.ActorRef.Path.Address, "its worker actor stopped")));
        Receive<FinishRun>(f =>
        {
            _finished = true;
            foreach (var w in _workers.Values)
                w.Actor.Tell(new RunFinished(f.Summary));
        });
    }

    protected override void PreStart() =>
        Akka.Cluster.Cluster.Get(Context.System).Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents,
            typeof(ClusterEvent.UnreachableMember), typeof(ClusterEvent.MemberRemoved));

    protected override void PostStop() => Akka.Cluster.Cluster.Get(Context.System).Unsubscribe(Self);

    private void Timed(Action handle)
    {
        var start = Stopwatch.GetTimestamp();
        handle();
        _stats.Handled(Stopwatch.GetTimestamp() - start);
    }

    private void Hello(WorkerHello hello)
    {
        var address = Sender.Path.Address;
        if (_lost.Contains(address))
            return; // downed already: its leases went to others; it must not come back under the same address
        _workers[address] = new Worker(Sender, Math.Max(1, hello.Parallel));
        Context.Watch(Sender);
        Publish();
        _log.WriteLine($"coordinator: worker {address} joined ({hello.Host}, pid {hello.ProcessId}, {hello.Parallel} explorer thread(s))");
        Sender.Tell(new JobOffer(_state.Job));
        if (_stopSent is not null)
            Sender.Tell(new StopWork(_stopSent));
    }

    private void Request(LeaseRequest request)
    {
        if (!_workers.TryGetValue(Sender.Path.Address, out var worker))
            return;
        worker.Wanted += request.Count;
        Serve(Sender.Path.Address, worker);
    }

    private void Serve(Address address, Worker worker)
    {
        var slots = _workers.Values.Sum(w => w.Parallel);
        while (worker.Wanted > 0 && _state.Take(address.ToString(), slots) is { } lease)
        {
            worker.Wanted--;
            worker.Actor.Tell(new LeaseGrant(lease));
        }
    }

    private void Progress(LeaseProgress progress)
    {
        _state.Report(Sender.Path.Address.ToString(), progress);
        if (_state.Stopped && _stopSent is null)
        {
            _stopSent = _state.EarliestFound is { } f ? $"seed {f.Seed} found {(f.Failure is null ? string.Join(", ", f.Kinds) : "a simulator failure")}" : "the run was stopped";
            foreach (var w in _workers.Values)
                w.Actor.Tell(new StopWork(_stopSent));
        }
    }

    private void Lose(Address address, string why)
    {
        if (!_workers.Remove(address, out _) || _finished)
            return; // after the run, workers leaving is how it ends
        _lost.Add(address);
        _stats.AddLost();
        Publish();
        var back = _state.Revoke(address.ToString());
        _log.WriteLine($"coordinator: worker {address} lost: {why}; {back:N0} unfinished seed(s) go to the other workers");
        Akka.Cluster.Cluster.Get(Context.System).Down(address);
        foreach (var (a, w) in _workers)
            Serve(a, w);
    }

    private void Publish() => _stats.SetWorkers(_workers.Count, _workers.Values.Sum(w => w.Parallel));
}
