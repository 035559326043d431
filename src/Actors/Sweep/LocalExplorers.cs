namespace HvIommu.Actors.Sweep;

/// <summary>
/// A sweep's explorers as threads of this process (the single-machine run): each thread pulls leases from the
/// shared <see cref="SweepState"/> and runs them with its own <see cref="LeaseRunner"/> (its own deterministic
/// system), so N threads use N cores over disjoint seeds.
/// </summary>
public sealed class LocalExplorers(int parallel) : IExplorerPool
{
    private SweepState? _state;
    private readonly List<Thread> _threads = new();
    private int _running;
    private Exception? _crash;

    public string Where => $"this machine, {parallel} explorer thread{(parallel == 1 ? "" : "s")}";

    /// <summary>An exception that escaped an explorer thread (a bug, not a schedule's failure), if any.</summary>
    public string? Crash => _crash?.ToString();

    public string Status => "";

    public void Start(SweepState state)
    {
        _state = state;
        _running = parallel;
        for (var t = 0; t < parallel; t++)
        {
            var name = "explorer-" + t;
            var thread = new Thread(() => Explore(name)) { IsBackground = true, Name = name };
            _threads.Add(thread);
            thread.Start();
        }
    }

    public bool Wait(TimeSpan timeout) => SpinWait.SpinUntil(() => Volatile.Read(ref _running) == 0, timeout);

    public void Dispose()
    {
    }

    private void Explore(string name)
    {
        var state = _state!;
        try
        {
            using var runner = new LeaseRunner(state.Job, name);
            while (!state.Stopped && state.Take(name, parallel) is { } lease)
                runner.Run(lease, () => state.Stopped, p => state.Report(name, p));
        }
        catch (Exception e)
        {
            Interlocked.CompareExchange(ref _crash, e, null);
            state.Stop();
        }
        finally
        {
            Interlocked.Decrement(ref _running);
        }
    }
}
