namespace HvIommu.Actors.Sweep;

/// <summary>Where a sweep's or exploration's schedules run: threads of this process, or the workers of a cluster.</summary>
public interface IExplorerPool : IDisposable
{
    /// <summary>For the user: "this machine, 2 explorer threads", "a cluster of 3 workers (6 explorers)".</summary>
    string Where { get; }

    /// <summary>Starts the explorers; they pull leases from the state until it is done or stopped.</summary>
    /// <exception cref="Cli.UsageException">The pool cannot start (bad listen address, no worker joined in time).</exception>
    void Start(SweepState state);

    /// <summary>True once every explorer has finished (or, for a cluster, the state is done and the workers were told).</summary>
    bool Wait(TimeSpan timeout);

    /// <summary>Something that broke the pool itself (not a schedule's failure), or null.</summary>
    string? Crash { get; }

    /// <summary>A line on the pool for progress output ("2 workers, 31 leases"), or "".</summary>
    string Status { get; }
}
