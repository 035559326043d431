using HvIommu.Actors.Metrics;
using HvIommu.Model.Metrics;

namespace HvIommu.Actors.Simulation;

/// <summary>
/// One actor's counts (messages, DMA, cache hits …) kept locally and published to the shared
/// <see cref="SimCounters"/> in batches, so that millions of events a second across cores do not all
/// contend on shared cache lines. Not thread-safe: each actor owns its tally.
/// </summary>
internal sealed class MessageTally(SimCounters counters)
{
    private const int Batch = 256;
    private readonly long[] _local = new long[Enum.GetValues<SimCounter>().Length];
    private int _events;

    public void Message() => Add(SimCounter.MessagesDelivered);

    public void Dma(long bytes)
    {
        _local[(int)SimCounter.DmaBytes] += bytes;
        Add(SimCounter.DmaTransactions);
    }

    public void Add(SimCounter counter)
    {
        _local[(int)counter]++;
        if (++_events >= Batch)
            Publish();
    }

    public void Publish()
    {
        for (var i = 0; i < _local.Length; i++)
        {
            if (_local[i] == 0)
                continue;
            counters.Add((SimCounter)i, _local[i]);
            _local[i] = 0;
        }
        _events = 0;
    }
}
