namespace HvIommu.Actors.Metrics;

/// <summary>Latency percentiles of one operation (map, unmap, flush, DMA, …) in nanoseconds.</summary>
public sealed record LatencySummary(
    long Count,
    long MinNs,
    long P50Ns,
    long P90Ns,
    long P99Ns,
    long P999Ns,
    long MaxNs,
    double MeanNs)
{
    /// <summary>The summary of an operation that never happened.</summary>
    public static LatencySummary Empty { get; } = new(0, 0, 0, 0, 0, 0, 0, 0);
}

/// <summary>One point of a cumulative distribution: the fraction of samples at or below <paramref name="Ns"/>.</summary>
public sealed record CdfPoint(long Ns, double Fraction);
