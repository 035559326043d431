using System.Collections.Concurrent;
using Akka.Actor;
using Akka.Configuration;
using Akka.Dispatch;
using Akka.Dispatch.MessageQueues;

namespace HvIommu.Actors.Deterministic;

/// <summary>
/// The mailbox type of the deterministic dispatcher. Its queue knows its owner, which gives the driver two
/// things without reflection: the actor a pending mailbox belongs to (for strategies and traces), and every
/// user message at the moment it is dequeued for delivery (for <see cref="TraceHash"/>).
/// It offers deque semantics too, so actors that stash can live on the deterministic dispatcher.
/// </summary>
public sealed class DeterministicMailboxType : MailboxType, IProducesMessageQueue<DeterministicMessageQueue>
{
    public DeterministicMailboxType(Akka.Actor.Settings settings, Config config) : base(settings, config)
    {
    }

    public override IMessageQueue Create(IActorRef owner, ActorSystem system)
    {
        var driver = (system.Scheduler as VirtualTimeScheduler)?.Driver;
        return new DeterministicMessageQueue(owner, driver);
    }
}

/// <summary>
/// An unbounded queue (multi-producer, consumed by the driving thread) that reports each dequeued user
/// message to the driver's delivery trace. Messages drained to dead letters at stop are not reported.
/// While the driver drives, it yields at most one user message per mailbox run (see <see cref="TryDequeue"/>).
/// </summary>
/// <remarks>
/// Sends from the driving thread — every send of a deterministic run — go to a plain queue that only that thread
/// touches, so they take no lock and no atomic operation (on this kind of machine a lock's enter and exit cost about
/// as much as the rest of a mailbox's enqueue and dequeue together). A send from any other thread (before the driver
/// first drives, a foreign thread's work, or after the driver is released to the thread pool) goes to a concurrent
/// queue that the consumer reads after the plain one. Only the driving thread consumes while the driver controls the
/// system; once released, Akka lets one thread-pool thread at a time run the mailbox, and nothing writes the plain
/// queue any more.
/// </remarks>
public sealed class DeterministicMessageQueue : IMessageQueue, IUnboundedMessageQueueSemantics,
    IUnboundedDequeBasedMessageQueueSemantics
{
    // A Queue, not a ConcurrentQueue, for the driving thread's sends: besides the atomic operations, an explorer
    // creating every actor's queue again per schedule would pay a ConcurrentQueue's first segment (32 slots) per mailbox.
    private readonly Queue<(Envelope Envelope, long SendSeq)> _local = new();
    private ConcurrentQueue<Envelope>? _remote;
    private readonly Stack<Envelope> _prepended = new();
    private readonly SimulationDriver? _driver;
    private long _takenInRun = -1;

    public DeterministicMessageQueue(IActorRef? owner, SimulationDriver? driver)
    {
        Owner = owner;
        _driver = driver;
    }

    /// <summary>The actor whose mailbox this is (null only for queues Akka creates without an owner).</summary>
    public IActorRef? Owner { get; }

    /// <summary>The driver's cached identity of the owner; written and read by the driver only.</summary>
    internal ActorIdentity? Identity { get; set; }

    // Read from any thread (Akka asks after each run whether to schedule the mailbox again): a count read while the
    // driving thread writes is at worst stale for a moment, and a send from another thread schedules the mailbox itself.
    public bool HasMessages => _prepended.Count > 0 || _local.Count > 0 || _remote is { IsEmpty: false };

    public int Count => _prepended.Count + _local.Count + (_remote?.Count ?? 0);

    // The send's trace number travels with the envelope, so the delivery can name its cause (sends are traced only
    // on the driving thread).
    public void Enqueue(IActorRef receiver, Envelope envelope)
    {
        if (_driver is { OnDrivingThread: true } driver)
        {
            _local.Enqueue((envelope, driver.OnEnqueued(this, envelope.Message)));
            return;
        }
        if (_remote is null)
            Interlocked.CompareExchange(ref _remote, new ConcurrentQueue<Envelope>(), null);
        _remote.Enqueue(envelope);
    }

    // Called only by the owning actor while it runs (UnstashAll), as with Akka's own deque queues.
    public void EnqueueFirst(Envelope envelope) => _prepended.Push(envelope);

    /// <summary>
    /// The next user message, unless this mailbox already delivered one in the driver's current mailbox run: a
    /// step of a deterministic schedule delivers at most one user message, whatever Akka's dispatcher throughput
    /// (which lets one run deliver two) — so the dispatcher needs no throughput deadline, whose clock read per
    /// message was a measurable part of a step. The mailbox, still holding messages, is scheduled again after the run.
    /// </summary>
    public bool TryDequeue(out Envelope envelope)
    {
        var driver = _driver;
        var counted = driver is not null && driver.OnDrivingThread;
        if (counted && _takenInRun == driver!.RunSerial)
        {
            envelope = default;
            return false;
        }
        if (!TryTake(out envelope, out var sendSeq))
            return false;
        if (counted)
            _takenInRun = driver!.RunSerial;
        driver?.OnDequeued(this, envelope.Message, sendSeq);
        return true;
    }

    /// <summary>Drops every user message, queued or unstashed (a kept topology's schedule is over). Driving thread only,
    /// with the owner not running.</summary>
    internal void Discard()
    {
        _prepended.Clear();
        _local.Clear();
        _remote?.Clear();
    }

    public void CleanUp(IActorRef owner, IMessageQueue deadletters)
    {
        while (TryTake(out var envelope, out _))
            deadletters.Enqueue(owner, envelope);
    }

    // A prepended (unstashed) envelope was delivered once already; its send is no longer known. Nor is a send from
    // another thread's.
    private bool TryTake(out Envelope envelope, out long sendSeq)
    {
        sendSeq = 0;
        if (_prepended.Count > 0)
        {
            envelope = _prepended.Pop();
            return true;
        }
        if (_local.TryDequeue(out var entry))
        {
            (envelope, sendSeq) = entry;
            return true;
        }
        if (_remote is { } remote && remote.TryDequeue(out envelope))
            return true;
        envelope = default;
        return false;
    }
}
