using System.CommandLine;
using HvIommu.Actors.Sweep;

namespace HvIommu.Actors.Cluster;

/// <summary>Where <c>explore</c> and <c>sweep</c> run their schedules: on this machine's cores, or on a cluster.</summary>
public sealed record ClusterOptions
{
    /// <summary>Work a lease holds at the explorer's measured rate (hviommu.cluster.lease-seconds for a cluster).</summary>
    public double LeaseSeconds { get; init; } = 0.5;


    public IExplorerPool CreatePool(int parallel, TextWriter stdout, TextWriter stderr) => new LocalExplorers(parallel);
}

/// <summary>The command-line options that choose where schedules run (declared once for <c>explore</c> and <c>sweep</c>).</summary>
public sealed class ClusterOptionSet
{
    /// <summary>The options to add to a command.</summary>
    public IEnumerable<Symbol> All => [];

    public ClusterOptions Read(ParseResult parse) => new();
}
