namespace HvIommu.Actors.Tracing;

/// <summary>
/// The causal history of an event: every event that happens-before it, following <see cref="TraceEvent.Cause"/>
/// links and program order within each actor (an actor's earlier events precede its later ones). This is
/// what the sequence diagram of a violation shows, so it stays small enough to read: when it must be cut
/// to <c>maxEvents</c>, the events nearest the target (latest first) are kept.
/// </summary>
public static class CausalHistory
{
    public static IReadOnlyList<TraceEvent> Of(IReadOnlyList<TraceEvent> events, long targetSeq, int maxEvents = 200) =>
        Of(events, [targetSeq], maxEvents);

    /// <summary>The union of the histories of <paramref name="targets"/>, latest events first when cut.</summary>
    public static IReadOnlyList<TraceEvent> Of(IReadOnlyList<TraceEvent> events, IReadOnlyCollection<long> targets, int maxEvents)
    {
        var bySeq = new Dictionary<long, TraceEvent>(events.Count);
        var previous = new Dictionary<long, long>(events.Count);
        var lastOfActor = new Dictionary<string, long>();
        foreach (var e in events)
        {
            bySeq[e.Seq] = e;
            if (lastOfActor.TryGetValue(e.Actor, out var p))
                previous[e.Seq] = p;
            lastOfActor[e.Actor] = e.Seq;
        }
        var keep = new HashSet<long>();
        // Latest first: a max-queue on the sequence number.
        var work = new PriorityQueue<long, long>();
        foreach (var t in targets)
            if (bySeq.ContainsKey(t))
                work.Enqueue(t, -t);
        while (work.TryDequeue(out var seq, out _) && keep.Count < maxEvents)
        {
            if (!keep.Add(seq))
                continue;
            var e = bySeq[seq];
            if (e.Cause != 0 && bySeq.ContainsKey(e.Cause) && !keep.Contains(e.Cause))
                work.Enqueue(e.Cause, -e.Cause);
            // Program order: the actor's previous event happens-before this one.
            if (previous.TryGetValue(seq, out var before) && !keep.Contains(before))
                work.Enqueue(before, -before);
        }
        return keep.Order().Select(s => bySeq[s]).ToList();
    }
}
