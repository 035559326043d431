using System.Collections.Immutable;
using HvIommu.Model.Metrics;

namespace HvIommu.Actors.Metrics;

/// <summary>
/// The run's counters — messages, DMA transactions, maps, unmaps, VM exits, steps, IOTLB and ATC
/// hits and misses, and one count per hypercall code — incremented from every actor thread with
/// <see cref="Interlocked"/>. Hypercalls are registered up front and counted by a small id, so the
/// hot path neither allocates nor looks anything up. Each counter sits on its own cache line so that
/// vCPUs and devices counting on different cores do not contend.
/// </summary>
public sealed class SimCounters
{
    // 8 longs = 64 bytes, one cache line per counter.
    private const int Stride = 8;
    private static readonly int FixedCount = Enum.GetValues<SimCounter>().Length;

    private readonly long[] _slots;
    private readonly ImmutableArray<(ushort Code, string Name)> _hypercalls;

    /// <param name="hypercalls">Every hypercall to count, by ABI code and display name (e.g. <c>(0x00D0, "FlushDeviceDomain")</c>); its index is its id.</param>
    public SimCounters(IEnumerable<(ushort Code, string Name)> hypercalls)
    {
        _hypercalls = [.. hypercalls];
        var duplicate = _hypercalls.GroupBy(h => h.Code).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
            throw new ArgumentException($"hypercall code 0x{duplicate.Key:X4} is registered twice", nameof(hypercalls));
        _slots = new long[(FixedCount + _hypercalls.Length) * Stride];
    }

    /// <summary>The id to pass to <see cref="AddHypercall"/>: resolve it once, outside the hot path.</summary>
    public int HypercallId(ushort code)
    {
        for (var i = 0; i < _hypercalls.Length; i++)
            if (_hypercalls[i].Code == code)
                return i;
        throw new ArgumentException($"hypercall code 0x{code:X4} was not registered", nameof(code));
    }

    public void Add(SimCounter counter, long amount = 1) => Interlocked.Add(ref _slots[(int)counter * Stride], amount);

    /// <summary>One DMA transaction of <paramref name="bytes"/> bytes.</summary>
    public void AddDma(long bytes)
    {
        Add(SimCounter.DmaTransactions);
        Add(SimCounter.DmaBytes, bytes);
    }

    /// <summary>One hypercall of the registered id; a hypercall is also a VM exit.</summary>
    public void AddHypercall(int id)
    {
        Interlocked.Increment(ref _slots[(FixedCount + id) * Stride]);
        Add(SimCounter.VmExits);
    }

    public long Get(SimCounter counter) => Interlocked.Read(ref _slots[(int)counter * Stride]);

    /// <summary>The counts at this moment (each read atomically; counters still moving may be a step apart).</summary>
    public SimCountersSnapshot Snapshot()
    {
        var fixedCounts = Enum.GetValues<SimCounter>().Select(Get).ToImmutableArray();
        var hypercalls = _hypercalls
            .Select((h, i) => new HypercallCount(h.Code, h.Name, Interlocked.Read(ref _slots[(FixedCount + i) * Stride])))
            .ToImmutableArray();
        return new SimCountersSnapshot(fixedCounts, hypercalls);
    }
}
