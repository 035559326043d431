using System.Collections.Concurrent;
using Akka.Dispatch;

namespace HvIommu.Actors.Deterministic;

/// <summary>
/// Runs every actor of the deterministic dispatcher on one thread, one mailbox run (at most one user message)
/// per step. Each step asks the <see cref="IScheduleStrategy"/> to pick among the ready actors, ordered by
/// first-seen ordinal, and the virtual timer queue (ordinal 0), records the pick, and runs it inline; this is
/// the simulator's "one seed, one interleaving". Work that arrives from any other thread while driving
/// (a continuation on the thread pool, <c>PipeTo</c>, <c>Task.Run</c>) trips the guard: the run is no longer
/// a function of its schedule.
/// </summary>
public sealed class SimulationDriver : Model.Randomness.IChoiceMaker
{
    private const int TimerOrdinal = 0;

    private readonly VirtualTimeScheduler _time;
    private readonly ConcurrentQueue<IRunnable> _foreign = new();
    private readonly Dictionary<Mailbox, ActorIdentity> _otherMailboxes = new(ReferenceEqualityComparer.Instance);
    // Keyed by the message's type handle, which Type.GetTypeHandle reads without the Type object (a Dictionary keyed
    // by Type hashes the Type through a call into the runtime on every delivery).
    private readonly Dictionary<nint, ulong> _typeHashes = new();
    private readonly List<int> _choices = new();
    private readonly List<ScheduleValue> _values = new();

    // Pending runnables sorted by ordinal: _runs[i] has ordinal _candidates[i + 1]; _candidates[0] is the
    // timer queue, so the strategy's candidate span is a slice of _candidates with no copying.
    // Slots rather than an IRunnable[]: a store into an array of an interface type is checked against the array's
    // element type on every write, and the ready set shifts its entries on each step.
    private PendingRun[] _runs = new PendingRun[16];
    private int[] _candidates = new int[17];
    private int _count;

    private IScheduleStrategy _strategy = new UniformRandomStrategy(0);
    private long _epoch;
    private int _nextOrdinal = 1;
    private int _ownerThreadId = CurrentThreadId;
    private volatile bool _driving;
    private volatile bool _released;
    private bool _cleanup;
    private long _guardTrips;
    private string? _guardActor;
    private long _decisions;
    private bool _valueDiverged;
    private long _deliveries;

    internal SimulationDriver(VirtualTimeScheduler time) => _time = time;

    /// <summary>Virtual time added for every mailbox run, so the clock moves even without timers.</summary>
    public long QuantumNs { get; set; } = 100;

    /// <summary>The fingerprint of the deliveries of the current schedule.</summary>
    public TraceHash Trace { get; } = new();

    /// <summary>
    /// Called on the driving thread with the receiver's path and the message for every delivered user message
    /// (for tests and causal traces); null for speed.
    /// </summary>
    public Action<string, object>? DeliveryObserver { get; set; }

    /// <summary>
    /// The current run's causal trace, told of every send and delivery of the schedule and of which actor
    /// runs at each step; null when not tracing. Tracing only observes: it never changes a choice.
    /// </summary>
    public Tracing.SimTrace? Tracer { get; set; }

    /// <summary>Wall time of the schedule's steps by kind (<c>bench</c>'s profile); null for speed. Only observes.</summary>
    public StepProfile? Profile { get; set; }

    public ulong Seed { get; private set; }

    public IScheduleStrategy Strategy => _strategy;

    /// <summary>Steps taken in the current schedule.</summary>
    public long Steps => _choices.Count;

    /// <summary>Decision steps of the current schedule: steps at which two or more candidates were ready.</summary>
    public long Decisions => _decisions;

    /// <summary>The ordinal chosen at each step of the current schedule (0 = fire the next timer).</summary>
    public IReadOnlyList<int> Choices => _choices;

    public long GuardTrips => Interlocked.Read(ref _guardTrips);

    /// <summary>The actor (or runnable type) of the first guard trip, if any.</summary>
    public string? GuardActor => Volatile.Read(ref _guardActor);

    public int PendingCount => _count + _foreign.Count;

    public bool IsDriving => _driving;

    /// <summary>The environment choices of the current schedule, in the order they were made.</summary>
    public IReadOnlyList<ScheduleValue> Values => _values;

    /// <summary>The current schedule as a file that <see cref="ReplayStrategy"/> can follow.</summary>
    public ScheduleFile Record() => new(Seed, _strategy.Description, _choices.ToArray(), _values.ToArray()) { Version = _strategy.ChoosesEnvironment ? _strategy.Version : 1 };

    /// <summary>
    /// An environment choice of the actor running now (<see cref="Model.Randomness.IChoiceMaker"/>): the strategy
    /// picks one of <paramref name="options"/> and the schedule records it. While winding a run down (outside
    /// the schedule) the quietest outcome, 0, is taken unrecorded. A replay whose recorded choice does not fit
    /// (missing, or recorded with another number of options) takes 0 and stops the run as diverged after this step.
    /// </summary>
    public int Choose(int options) => Decide(options, null);

    /// <summary>An environment coin of the actor running now: the strategy decides it (<see cref="IScheduleStrategy.ChooseCoin"/>)
    /// and the schedule records it as a two-way choice, as <see cref="Choose"/> records any other.</summary>
    public int ChooseCoin(double probability) => Decide(2, probability);

    private int Decide(int options, double? coin)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(options, 2);
        if (_cleanup || !_driving)
            return 0;
        var value = coin is { } p ? _strategy.ChooseCoin(p, _values.Count) : _strategy.ChooseValue(options, _values.Count);
        if ((uint)value >= (uint)options)
        {
            _valueDiverged = true;
            value = 0;
        }
        _values.Add(new ScheduleValue(value, options));
        return value;
    }

    /// <summary>
    /// Starts a new schedule: virtual time 0, no timers, ordinals from 1, no choices, trace and guard cleared.
    /// Pending work must have been driven to quiescence first.
    /// </summary>
    public void Reset(ulong seed, IScheduleStrategy strategy)
    {
        ArgumentNullException.ThrowIfNull(strategy);
        if (_driving)
            throw new InvalidOperationException("Reset while driving.");
        if (_count > 0 || !_foreign.IsEmpty)
            throw new InvalidOperationException(
                $"Reset with {PendingCount} pending mailbox runs (first: {Describe(0)}); stop the run and drive to quiescence first.");
        _epoch++;
        _nextOrdinal = 1;
        _otherMailboxes.Clear();
        _choices.Clear();
        _values.Clear();
        _valueDiverged = false;
        _decisions = 0;
        Trace.Reset();
        Interlocked.Exchange(ref _guardTrips, 0);
        Volatile.Write(ref _guardActor, null);
        _time.Reset();
        _strategy = strategy;
        Seed = seed;
    }

    /// <summary>
    /// Drives until <paramref name="done"/> holds, nothing is left to run (no pending mailbox, no timer),
    /// <paramref name="maxSteps"/> steps were taken, or a replayed schedule diverged. The calling thread
    /// becomes the driving thread.
    /// </summary>
    public DriveResult DriveUntil(Func<bool>? done, long maxSteps) => Drive(done, maxSteps, cleanup: false);

    /// <summary>
    /// Drives until nothing is left to run, outside the schedule: each step runs the lowest-ordinal ready
    /// actor (a timer only when no actor is ready), and neither choices nor deliveries are recorded. Used to
    /// stop a run after its schedule is over, so a replay need not cover the teardown.
    /// </summary>
    public DriveResult DriveToQuiescence(long maxSteps) => Drive(null, maxSteps, cleanup: true);

    /// <summary>
    /// Waits (spinning, then yielding) until work arrives from another thread, e.g. the /user guardian
    /// starting a top-level actor, or <paramref name="orUntil"/> holds; false on timeout. Not for use in a
    /// deterministic run.
    /// </summary>
    public bool AwaitForeignWork(TimeSpan timeout, Func<bool>? orUntil = null) =>
        SpinWait.SpinUntil(() => !_foreign.IsEmpty || (orUntil?.Invoke() ?? false), timeout);

    private DriveResult Drive(Func<bool>? done, long maxSteps, bool cleanup)
    {
        if (_driving)
            throw new InvalidOperationException("The driver is already driving.");
        if (_released)
            throw new InvalidOperationException("The driver was released to the thread pool (system terminating).");
        _ownerThreadId = CurrentThreadId;
        _driving = true;
        _cleanup = cleanup;
        // Actors run inline on this thread: an `await` inside ReceiveAsync would post its continuation to
        // this thread's SynchronizationContext (a test runner's, a UI's) instead of the actor's mailbox,
        // i.e. off the driver. Drive with none, so continuations go through Akka's ActorTaskScheduler.
        var context = SynchronizationContext.Current;
        SynchronizationContext.SetSynchronizationContext(null);
        long steps = 0;
        bool isDone = false, timedOut = false;
        long? diverged = null;
        try
        {
            while (true)
            {
                if (done is not null && done())
                {
                    isDone = true;
                    break;
                }
                if (steps >= maxSteps)
                {
                    timedOut = true;
                    break;
                }
                var outcome = Step();
                if (outcome == StepOutcome.Quiescent)
                    break;
                if (outcome == StepOutcome.Diverged)
                {
                    // A step diverges before it runs (its recorded actor is not ready) or, through an environment
                    // choice, while it runs: then it counts as taken and the run stops after it.
                    diverged = _valueDiverged ? _choices.Count - 1 : _choices.Count;
                    break;
                }
                steps++;
            }
        }
        finally
        {
            _driving = false;
            _cleanup = false;
            SynchronizationContext.SetSynchronizationContext(context);
        }
        var quiescent = _count == 0 && _foreign.IsEmpty && !_time.HasTimers;
        return new DriveResult(steps, isDone, quiescent, timedOut && !quiescent, GuardTrips, GuardActor, diverged);
    }

    /// <summary>Akka's entry point (through the executor): an actor's mailbox has work.</summary>
    internal void Enqueue(IRunnable run)
    {
        if (_released)
        {
            ThreadPool.UnsafeQueueUserWorkItem(run, preferLocal: false);
            return;
        }
        if (CurrentThreadId == _ownerThreadId)
        {
            AddPending(run);
            return;
        }
        if (_driving)
        {
            Interlocked.Increment(ref _guardTrips);
            Interlocked.CompareExchange(ref _guardActor, ActorIdentity.Describe(run), null);
        }
        _foreign.Enqueue(run);
    }

    /// <summary>A user message enters a deterministic mailbox; returns its send's trace number (0 when not traced).</summary>
    internal long OnEnqueued(DeterministicMessageQueue queue, object message)
    {
        if (Tracer is not { } tracer || _released || _cleanup || !_driving || CurrentThreadId != _ownerThreadId)
            return 0;
        var identity = queue.Identity ??= NewIdentity(queue);
        return tracer.Sent(identity.Name, message);
    }

    /// <summary>A user message leaves a deterministic mailbox to be delivered.</summary>
    internal void OnDequeued(DeterministicMessageQueue queue, object message, long sendSeq)
    {
        if (_released || _cleanup)
            return;
        var identity = queue.Identity ??= NewIdentity(queue);
        var handle = Type.GetTypeHandle(message).Value;
        if (!_typeHashes.TryGetValue(handle, out var typeHash))
            _typeHashes[handle] = typeHash = TraceHash.Of(StableTypeName(message.GetType()));
        Trace.Add(identity.PathHash, typeHash);
        _deliveries++;
        DeliveryObserver?.Invoke(identity.Path, message);
        Tracer?.Delivered(identity.Name, message, sendSeq);
    }

    /// <summary>
    /// Stops controlling: pending and future work goes to the thread pool, so the ActorSystem can shut down
    /// without waiting for timeouts. Irreversible.
    /// </summary>
    internal void Release()
    {
        _released = true;
        for (var i = 0; i < _count; i++)
        {
            ThreadPool.UnsafeQueueUserWorkItem(_runs[i].Run, preferLocal: false);
            _runs[i] = default;
        }
        _count = 0;
        while (_foreign.TryDequeue(out var run))
            ThreadPool.UnsafeQueueUserWorkItem(run, preferLocal: false);
    }

    internal bool IsReleased => _released;

    /// <summary>Numbers the mailbox runs the driver makes (each step that runs an actor): a deterministic queue
    /// delivers at most one user message per run.</summary>
    internal long RunSerial => _runSerial;

    private long _runSerial;

    /// <summary>True when the calling thread is the one whose timers and mailbox runs are virtual.</summary>
    internal bool OnDrivingThread => !_released && CurrentThreadId == _ownerThreadId;

    [ThreadStatic]
    private static int t_threadId;

    // The calling thread's managed id, kept in a thread-static: Environment.CurrentManagedThreadId costs a call into
    // the runtime, and a step asks two or three times (its dequeue, each send, each mailbox scheduled).
    private static int CurrentThreadId
    {
        get
        {
            var id = t_threadId;
            return id != 0 ? id : t_threadId = Environment.CurrentManagedThreadId;
        }
    }

    /// <summary>The path of the actor a pending runnable at <paramref name="index"/> belongs to (for traces).</summary>
    public string Describe(int index) =>
        index < _count ? IdentityOf(_runs[index].Run).Path : "(none)";

    /// <summary>The paths of the pending actors in candidate order (ordinal ascending).</summary>
    public IReadOnlyList<string> PendingActors()
    {
        var result = new string[_count];
        for (var i = 0; i < _count; i++)
            result[i] = IdentityOf(_runs[i].Run).Path;
        return result;
    }

    private StepOutcome Step()
    {
        while (_foreign.TryDequeue(out var run))
            AddPending(run);
        var timer = _time.HasTimers;
        var n = _count;
        if (n == 0 && !timer)
            return StepOutcome.Quiescent;
        var candidates = timer ? _candidates.AsSpan(0, n + 1) : _candidates.AsSpan(1, n);
        int index;
        if (_cleanup)
        {
            index = timer && n > 0 ? 1 : 0;
        }
        else
        {
            if (candidates.Length > 1)
                _decisions++;
            index = _strategy.Choose(candidates, _choices.Count);
            if ((uint)index >= (uint)candidates.Length)
                return StepOutcome.Diverged;
        }
        var ordinal = candidates[index];
        if (!_cleanup)
            _choices.Add(ordinal);
        if (ordinal == TimerOrdinal)
        {
            if (!_cleanup)
                Tracer?.Enter("timers", _choices.Count);
            if (Profile is { } timers && !_cleanup)
            {
                var t0 = System.Diagnostics.Stopwatch.GetTimestamp();
                _time.FireNext();
                timers.Timer(System.Diagnostics.Stopwatch.GetTimestamp() - t0);
            }
            else
            {
                _time.FireNext();
            }
            return StepOutcome.Ran;
        }
        var position = timer ? index - 1 : index;
        var chosen = _runs[position].Run;
        RemoveAt(position);
        _runSerial++;
        _time.Advance(QuantumNs);
        if (Tracer is { } tracer && !_cleanup)
            tracer.Enter(IdentityOf(chosen).Name, _choices.Count);
        if (Profile is { } profile && !_cleanup)
        {
            var t0 = System.Diagnostics.Stopwatch.GetTimestamp();
            var delivered = _deliveries;
            chosen.Run();
            var ticks = System.Diagnostics.Stopwatch.GetTimestamp() - t0;
            if (_deliveries != delivered)
                profile.Message(ticks);
            else
                profile.System(ticks);
        }
        else
        {
            chosen.Run();
        }
        return _valueDiverged ? StepOutcome.Diverged : StepOutcome.Ran;
    }

    private void AddPending(IRunnable run)
    {
        var ordinal = IdentityOf(run).Ordinal;
        if (_count == _runs.Length)
        {
            Array.Resize(ref _runs, _count * 2);
            Array.Resize(ref _candidates, _count * 2 + 1);
        }
        // Newly seen actors have the highest ordinal: the common case appends.
        var position = _count;
        while (position > 0 && _candidates[position] > ordinal)
            position--;
        // A handful of actors are ready at a time: element loops, not Array.Copy (whose checks cost more than the moves).
        for (var i = _count; i > position; i--)
        {
            _runs[i] = _runs[i - 1];
            _candidates[i + 1] = _candidates[i];
        }
        _runs[position] = new PendingRun(run);
        _candidates[position + 1] = ordinal;
        _count++;
    }

    private void RemoveAt(int position)
    {
        _count--;
        for (var i = position; i < _count; i++)
        {
            _runs[i] = _runs[i + 1];
            _candidates[i + 1] = _candidates[i + 2];
        }
        _runs[_count] = default;
    }

    private ActorIdentity IdentityOf(IRunnable run)
    {
        ActorIdentity identity;
        if (run is Mailbox mailbox)
        {
            if (mailbox.MessageQueue is DeterministicMessageQueue queue)
                identity = queue.Identity ??= NewIdentity(queue);
            else if (!_otherMailboxes.TryGetValue(mailbox, out identity!))
                _otherMailboxes[mailbox] = identity = new ActorIdentity(ActorIdentity.Describe(run));
        }
        else
        {
            identity = new ActorIdentity(ActorIdentity.Describe(run));
        }
        if (identity.Epoch != _epoch)
        {
            identity.Epoch = _epoch;
            identity.Ordinal = _nextOrdinal++;
        }
        return identity;
    }

    private static ActorIdentity NewIdentity(DeterministicMessageQueue queue) =>
        new(queue.Owner?.Path.ToStringWithoutAddress() ?? "(no owner)");

    /// <summary>
    /// The simulation actors' protocol namespaces. Their messages hash under the one namespace they shared when the
    /// trace hashes were baselined (<c>HvIommu.Actors.Protocol</c>), so a message moving between protocol folders
    /// keeps every replay's hash.
    /// </summary>
    private static readonly HashSet<string> ProtocolNamespaces =
    [
        "HvIommu.Actors.FlushHandler", "HvIommu.Actors.Hypervisor", "HvIommu.Actors.PciDevice", "HvIommu.Actors.Vcpu",
        "HvIommu.Actors.VmExit",
    ];

    /// <summary>A type's name without assembly versions: namespace, name and generic arguments; a simulation message
    /// under the protocol namespace it was baselined in (<see cref="ProtocolNamespaces"/>).</summary>
    internal static string StableTypeName(Type type)
    {
        if (!type.IsNested && type.Namespace is { } ns && ProtocolNamespaces.Contains(ns))
            return "HvIommu.Actors.Protocol." + type.Name;
        if (!type.IsGenericType)
            return type.FullName ?? type.Name;
        var arguments = string.Join(",", type.GetGenericArguments().Select(StableTypeName));
        return $"{type.Namespace}.{type.Name}[{arguments}]";
    }

    private readonly record struct PendingRun(IRunnable Run);

    private enum StepOutcome
    {
        Ran,
        Quiescent,
        Diverged,
    }
}
