using HvIommu.Actors.Cli;
using HvIommu.Actors.Sweep;

namespace HvIommu.Actors.Cluster;

/// <summary>Where <c>explore</c> and <c>sweep</c> run their schedules: on this machine's cores, or on a cluster.</summary>
public sealed record ClusterOptions
{
    /// <summary>Work a lease holds at the explorer's measured rate (hviommu.cluster.lease-seconds for a cluster).</summary>
    public double LeaseSeconds { get; init; } = 0.5;

    public static ClusterOptions Read(ArgReader args) => new();

    public IExplorerPool CreatePool(int parallel, TextWriter stdout, TextWriter stderr) => new LocalExplorers(parallel);
}
