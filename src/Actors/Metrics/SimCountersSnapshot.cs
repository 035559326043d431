using System.Collections.Immutable;
using HvIommu.Model.Metrics;

namespace HvIommu.Actors.Metrics;

/// <summary>The count of one hypercall code (e.g. <c>FlushDeviceDomain</c>, 0x00D0).</summary>
public sealed record HypercallCount(ushort Code, string Name, long Count);

/// <summary>An immutable copy of <see cref="SimCounters"/> at one moment.</summary>
public sealed record SimCountersSnapshot
{
    private readonly ImmutableArray<long> _counts;

    internal SimCountersSnapshot(ImmutableArray<long> counts, ImmutableArray<HypercallCount> hypercalls)
    {
        _counts = counts;
        Hypercalls = hypercalls;
    }

    /// <summary>Per-hypercall counts in registration order.</summary>
    public ImmutableArray<HypercallCount> Hypercalls { get; }

    public long this[SimCounter counter] => _counts[(int)counter];

    public long MessagesDelivered => this[SimCounter.MessagesDelivered];
    public long DmaTransactions => this[SimCounter.DmaTransactions];
    public long DmaBytes => this[SimCounter.DmaBytes];
    public long Maps => this[SimCounter.Maps];
    public long Unmaps => this[SimCounter.Unmaps];
    public long VmExits => this[SimCounter.VmExits];
    public long Steps => this[SimCounter.Steps];
    public long IotlbHits => this[SimCounter.IotlbHits];
    public long IotlbMisses => this[SimCounter.IotlbMisses];
    public long AtcHits => this[SimCounter.AtcHits];
    public long AtcMisses => this[SimCounter.AtcMisses];

    /// <summary>Hypercall name → count, in registration order, as the report's <c>stats.hypercalls</c> holds it.</summary>
    public IReadOnlyDictionary<string, long> HypercallsByName() =>
        Hypercalls.ToDictionary(h => h.Name, h => h.Count);
}
