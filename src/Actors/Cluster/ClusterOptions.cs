using System.CommandLine;
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

    /// <param name="parallel">--parallel: this machine's explorer threads, or each local worker's.</param>
    public IExplorerPool CreatePool(int? parallel, TextWriter log) => Listen is null
        ? new LocalExplorers(parallel ?? Environment.ProcessorCount)
        : new ClusterPool(Listen, MinWorkers, LocalWorkers, parallel ?? 1, Settings, log);
}

/// <summary>
/// --cluster-listen, --min-workers and --local-workers: where <c>explore</c> and <c>sweep</c> run their schedules,
/// declared once for both.
/// </summary>
public sealed class ClusterOptionSet
{
    private readonly Option<string?> _listen = new("--cluster-listen")
    {
        Description = "coordinate a cluster of `worker --join HOST:PORT` processes instead of running here",
        HelpName = "HOST:PORT",
    };
    private readonly Option<long?> _minWorkers = CommonOptions.Int64("--min-workers", "with --cluster-listen: wait for K workers before starting (default 1)", 1, 10_000, "K");
    private readonly Option<long?> _localWorkers = CommonOptions.Int64("--local-workers",
        "start K worker processes on 127.0.0.1 and coordinate them (a free port unless --cluster-listen says which); --parallel N is then each worker's explorer threads (default 1)", 1, 256, "K");

    /// <summary>The options to add to a command.</summary>
    public IEnumerable<Symbol> All => [_listen, _minWorkers, _localWorkers];

    /// <param name="config">The run's merged config, for its hviommu.cluster section (reference.conf's when null).</param>
    public ClusterOptions Read(ParseResult parse, Akka.Configuration.Config? config = null)
    {
        var listenText = parse.GetValue(_listen);
        var minWorkers = (int?)parse.GetValue(_minWorkers);
        var local = (int)(parse.GetValue(_localWorkers) ?? 0);
        if (minWorkers is not null && listenText is null && local == 0)
            throw new UsageException("--min-workers needs --cluster-listen HOST:PORT");
        var listen = listenText is not null ? ClusterAddress.Parse("--cluster-listen", listenText, allowAnyPort: local > 0)
            : local > 0 ? new ClusterAddress("127.0.0.1", 0) : null;
        return new ClusterOptions(listen, minWorkers ?? Math.Max(1, local), local, ClusterSettings.From(config));
    }
}
