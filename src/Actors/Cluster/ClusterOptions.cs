using HvIommu.Actors.Cli;
using HvIommu.Actors.Sweep;

namespace HvIommu.Actors.Cluster;

/// <summary>
/// Where <c>explore</c> and <c>sweep</c> run their schedules: on this machine's cores (default), or on the workers of
/// an Akka.Cluster this process coordinates (<c>--cluster-listen HOST:PORT [--min-workers K]</c>), possibly started by
/// itself on 127.0.0.1 (<c>--local-workers K</c>).
/// </summary>
public sealed record ClusterOptions(ClusterAddress? Listen, int MinWorkers, int LocalWorkers, ClusterSettings Settings)
{
    public bool IsCluster => Listen is not null;

    /// <summary>Work a lease holds at an explorer's measured rate.</summary>
    public double LeaseSeconds => IsCluster ? Settings.LeaseSeconds : 0.5;

    public const string Help = """
          --cluster-listen HOST:PORT  coordinate a cluster of `worker --join HOST:PORT` processes instead of running
                            here; --min-workers K waits for K workers before starting (default 1)
          --local-workers K start K worker processes on 127.0.0.1 and coordinate them (a free port unless
                            --cluster-listen says which); --parallel N is then each worker's explorer threads (default 1)
        """;

    /// <param name="config">The run's merged config, for its hviommu.cluster section (reference.conf's when null).</param>
    public static ClusterOptions Read(ArgReader args, Akka.Configuration.Config? config = null)
    {
        var listenText = args.Option("--cluster-listen");
        var minWorkers = (int?)args.Int64("--min-workers", 1, 10_000);
        var local = (int)(args.Int64("--local-workers", 1, 256) ?? 0);
        if (minWorkers is not null && listenText is null && local == 0)
            throw new UsageException("--min-workers needs --cluster-listen HOST:PORT");
        var listen = listenText is not null ? ClusterAddress.Parse("--cluster-listen", listenText, allowAnyPort: local > 0)
            : local > 0 ? new ClusterAddress("127.0.0.1", 0) : null;
        return new ClusterOptions(listen, minWorkers ?? Math.Max(1, local), local, ClusterSettings.From(config));
    }

    /// <param name="parallel">--parallel: this machine's explorer threads, or each local worker's.</param>
    public IExplorerPool CreatePool(int? parallel, TextWriter log) => Listen is null
        ? new LocalExplorers(parallel ?? Environment.ProcessorCount)
        : new ClusterPool(Listen, MinWorkers, LocalWorkers, parallel ?? 1, Settings, log);
}
