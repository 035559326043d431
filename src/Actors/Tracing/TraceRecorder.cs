namespace HvIommu.Actors.Tracing;

/// <summary>
/// A bounded, thread-safe recorder of <see cref="TraceEvent"/>s: it keeps the first
/// <see cref="Capacity"/> events and counts what it had to drop, so a long run cannot exhaust memory
/// and the trace says honestly that it is incomplete.
/// </summary>
public sealed class TraceRecorder(int capacity)
{
    private readonly List<TraceEvent> _events = new(Math.Min(capacity, 1 << 16));
    private readonly Lock _lock = new();
    private long _seq;
    private long _dropped;

    public int Capacity { get; } = capacity;

    public long Dropped => Interlocked.Read(ref _dropped);

    public long Recorded => Interlocked.Read(ref _seq);

    /// <summary>Records an event and returns its sequence number (also when it had to be dropped).</summary>
    public long Record(long step, long timeNs, TraceEventKind kind, string actor, string name, string detail, long cause, string? peer = null)
    {
        lock (_lock)
        {
            var seq = ++_seq;
            if (_events.Count < Capacity)
                _events.Add(new TraceEvent(seq, step, timeNs, kind, actor, name, detail, cause, peer));
            else
                _dropped++;
            return seq;
        }
    }

    public IReadOnlyList<TraceEvent> Snapshot()
    {
        lock (_lock)
            return _events.ToArray();
    }
}
