using HvIommu.Actors.Metrics;

namespace HvIommu.Actors.Simulation;

/// <summary>
/// Counts delivered messages locally and publishes them in batches, so that millions of messages a
/// second across cores do not all contend on one shared counter's cache line.
/// </summary>
internal sealed class MessageTally(SimCounters counters)
{
    private const int Batch = 256;
    private long _local;
    private long _dma;

    public void Message()
    {
        if (++_local >= Batch)
            Publish();
    }

    public void Dma(long bytes)
    {
        _dma++;
        counters.Add(SimCounter.DmaBytes, bytes);
        if (_dma >= Batch)
            Publish();
    }

    public void Publish()
    {
        if (_local > 0)
            counters.Add(SimCounter.MessagesDelivered, _local);
        if (_dma > 0)
            counters.Add(SimCounter.DmaTransactions, _dma);
        _local = 0;
        _dma = 0;
    }
}
