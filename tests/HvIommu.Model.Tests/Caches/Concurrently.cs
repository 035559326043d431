namespace HvIommu.Model.Tests.Caches;

/// <summary>Runs actions on their own threads, released together by a barrier, and rethrows the first failure.</summary>
internal static class Concurrently
{
    public static void Run(params Action[] actions)
    {
        using var barrier = new Barrier(actions.Length);
        var failures = new System.Collections.Concurrent.ConcurrentQueue<Exception>();
        var threads = actions.Select(action => new Thread(() =>
        {
            barrier.SignalAndWait();
            try
            {
                action();
            }
            catch (Exception e)
            {
                failures.Enqueue(e);
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        if (failures.TryDequeue(out var first))
            throw new AggregateException(first);
    }
}
