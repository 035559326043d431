namespace HvIommu.Actors.Tracing;

/// <summary>
/// The causal history of an event: every event that happens-before it, following <see cref="TraceEvent.Cause"/>
/// links and program order within each actor (an actor's earlier events precede its later ones). This is
/// what the sequence diagram of a violation shows, so it stays small enough to read.
/// </summary>
public static class CausalHistory
{
    public static IReadOnlyList<TraceEvent> Of(IReadOnlyList<TraceEvent> events, long targetSeq, int maxEvents = 200)
    {
        var bySeq = events.ToDictionary(e => e.Seq);
        if (!bySeq.TryGetValue(targetSeq, out var target))
            return [];
        var byActor = events.GroupBy(e => e.Actor).ToDictionary(g => g.Key, g => g.OrderBy(e => e.Seq).ToList());
        var keep = new HashSet<long>();
        var work = new Stack<TraceEvent>();
        work.Push(target);
        while (work.Count > 0 && keep.Count < maxEvents)
        {
            var e = work.Pop();
            if (!keep.Add(e.Seq))
                continue;
            if (e.Cause != 0 && bySeq.TryGetValue(e.Cause, out var cause))
                work.Push(cause);
            // Program order: the actor's previous event happens-before this one.
            var mine = byActor[e.Actor];
            var i = mine.BinarySearch(e, Comparer<TraceEvent>.Create((a, b) => a.Seq.CompareTo(b.Seq)));
            if (i > 0)
                work.Push(mine[i - 1]);
        }
        return events.Where(e => keep.Contains(e.Seq)).OrderBy(e => e.Seq).ToList();
    }
}
