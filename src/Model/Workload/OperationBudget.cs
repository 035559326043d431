namespace HvIommu.Model.Workload;

/// <summary>How many guest operations may still start; stops early on request (duration, first violation).</summary>
public sealed class OperationBudget(long total)
{
    private long _started;
    private long _completed;
    private int _stopped;

    public long Total { get; } = total;
    public long Started => Math.Min(Interlocked.Read(ref _started), Total);
    public long Completed => Interlocked.Read(ref _completed);
    public bool Stopped => Volatile.Read(ref _stopped) != 0;

    public bool TryTake() => !Stopped && Interlocked.Increment(ref _started) <= Total;

    public void Complete() => Interlocked.Increment(ref _completed);

    public void Stop() => Volatile.Write(ref _stopped, 1);
}
