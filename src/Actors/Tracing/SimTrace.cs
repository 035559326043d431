using Akka.Actor;
using HvIommu.Model.Oracle;
using HvIommu.Model.Time;

namespace HvIommu.Actors.Tracing;

/// <summary>
/// The causal trace of one run (docs/design.md §1 job 2): messages sent and delivered, hypercall round trips,
/// page-table writes, frees, IOMMU cache fills and invalidations, DMA translations and accesses, flushes and
/// violations, bounded by a <see cref="TraceRecorder"/>. A world without one (stress mode by default) pays a
/// null check per event site.
/// In deterministic mode the driver reports every send and delivery (<see cref="RecordsMessages"/>) and
/// which actor is running, so each event's cause is the delivery during which it happened. In stress mode
/// only the events the actors record themselves are kept, with no message causes: such a trace is not
/// causal-complete.
/// </summary>
public sealed class SimTrace
{
    private readonly ISimClock _clock;
    private readonly Dictionary<IActorRef, long> _replies = new();
    private readonly Lock _lock = new();

    // The running actor and the delivery it is handling: written by the deterministic driver's thread only.
    private string _actor = "";
    private long _cause;
    private long _step;

    public SimTrace(int capacity, ISimClock clock, bool recordsMessages)
    {
        Recorder = new TraceRecorder(capacity);
        _clock = clock;
        RecordsMessages = recordsMessages;
    }

    public TraceRecorder Recorder { get; }

    /// <summary>True when the deterministic driver records every send and delivery (a causal-complete trace).</summary>
    public bool RecordsMessages { get; }

    public long Dropped => Recorder.Dropped;

    /// <summary>The driver starts a mailbox run of <paramref name="actor"/> at schedule step <paramref name="step"/>.</summary>
    internal void Enter(string actor, long step)
    {
        _actor = actor;
        _cause = 0;
        _step = step;
    }

    /// <summary>The running actor sent <paramref name="message"/> to <paramref name="receiver"/>; returns the send's number.</summary>
    internal long Sent(string receiver, object message)
    {
        var (name, detail) = TraceNames.Describe(message);
        return Recorder.Record(_step, _clock.NowNs, TraceEventKind.Send, _actor, name, detail, _cause, receiver);
    }

    /// <summary><paramref name="receiver"/> handles <paramref name="message"/>, sent as event <paramref name="sendSeq"/> (0: from outside the run).</summary>
    internal void Delivered(string receiver, object message, long sendSeq)
    {
        var (name, detail) = TraceNames.Describe(message);
        _actor = receiver;
        _cause = Recorder.Record(_step, _clock.NowNs, TraceEventKind.Deliver, receiver, name, detail, sendSeq);
    }

    /// <summary>A memory, cache, DMA or flush event done by <paramref name="actor"/>.</summary>
    public void Event(TraceEventKind kind, string actor, string name, string detail) =>
        Recorder.Record(_step, _clock.NowNs, kind, actor, name, detail, RecordsMessages ? _cause : 0);

    /// <summary>
    /// A vCPU traps with a hypercall. In deterministic mode the driver already records the send; in stress
    /// mode the vCPU's record is the only one.
    /// </summary>
    public void HypercallSent(string vcpu, ITracedMessage call)
    {
        if (RecordsMessages)
            return;
        var (name, detail) = call.DescribeForTrace();
        Recorder.Record(_step, _clock.NowNs, TraceEventKind.Send, vcpu, name, detail, 0, "hypervisor");
    }

    /// <summary>
    /// <paramref name="replier"/> completes a hypercall. In deterministic mode the reply is an ordinary message
    /// to the vCPU, recorded by the driver; in stress mode it is recorded here and paired with the vCPU's
    /// resumption by <paramref name="replyTo"/> (the vCPU: one hypercall is outstanding per vCPU).
    /// </summary>
    public void HypercallReplied(string replier, int vcpu, IActorRef replyTo, ITracedMessage reply)
    {
        if (RecordsMessages)
            return;
        var (name, detail) = reply.DescribeForTrace();
        var seq = Recorder.Record(_step, _clock.NowNs, TraceEventKind.Send, replier, name, detail, 0, "vcpu" + vcpu);
        lock (_lock)
            _replies[replyTo] = seq;
    }

    /// <summary>The vCPU resumes with the hypercall's status: a delivery caused by the reply's send.</summary>
    public void HypercallResumed(string vcpu, IActorRef replyTo, ITracedMessage reply)
    {
        if (RecordsMessages)
            return;
        long send;
        lock (_lock)
            _replies.Remove(replyTo, out send);
        var (name, detail) = reply.DescribeForTrace();
        Recorder.Record(_step, _clock.NowNs, TraceEventKind.Deliver, vcpu, name, detail, send);
    }

    /// <summary>The oracle's finding, on the device (or vCPU) where it happened.</summary>
    public void Violation(Violation v)
    {
        var actor = v.Device.Length > 0 ? "device-" + v.Device : v.Vcpu.Length > 0 ? v.Vcpu : "oracle";
        Recorder.Record(_step, v.SimTimeNs, TraceEventKind.Violation, actor, $"{v.Kind} ({v.Hazard})", v.Description,
            RecordsMessages ? _cause : 0);
    }

    public IReadOnlyList<TraceEvent> Snapshot() => Recorder.Snapshot();
}
