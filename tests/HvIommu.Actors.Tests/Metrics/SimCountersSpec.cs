using HvIommu.Actors.Metrics;
using HvIommu.Model.Metrics;

namespace HvIommu.Actors.Tests.Metrics;

[Trait("Category", "Model")]
public sealed class SimCountersSpec
{
    private static SimCounters Create() => new([(0x00D0, "FlushDeviceDomain"), (0x00D1, "FlushDeviceDomainList")]);

    [Fact]
    public void Concurrent_increments_sum_exactly()
    {
        var counters = Create();
        var flush = counters.HypercallId(0x00D0);

        Parallel.For(0, 4, _ =>
        {
            for (var i = 0; i < 50_000; i++)
            {
                counters.Add(SimCounter.MessagesDelivered);
                counters.AddDma(bytes: 64);
                counters.AddHypercall(flush);
            }
        });

        var s = counters.Snapshot();
        Assert.Equal(200_000, s.MessagesDelivered);
        Assert.Equal(200_000, s.DmaTransactions);
        Assert.Equal(200_000 * 64, s.DmaBytes);
        Assert.Equal(200_000, s.VmExits);
        Assert.Equal(200_000, s.HypercallsByName()["FlushDeviceDomain"]);
        Assert.Equal(0, s.HypercallsByName()["FlushDeviceDomainList"]);
    }

    [Fact]
    public void Snapshot_is_a_copy_that_later_counts_do_not_change()
    {
        var counters = Create();
        counters.Add(SimCounter.Maps, 3);
        counters.Add(SimCounter.IotlbHits);

        var before = counters.Snapshot();
        counters.Add(SimCounter.Maps);

        Assert.Equal(3, before.Maps);
        Assert.Equal(1, before.IotlbHits);
        Assert.Equal(4, counters.Snapshot().Maps);
        Assert.Equal(["FlushDeviceDomain", "FlushDeviceDomainList"], before.Hypercalls.Select(h => h.Name));
    }

    [Fact]
    public void Unknown_or_duplicate_hypercall_codes_are_rejected()
    {
        Assert.Contains("0x00D5", Assert.Throws<ArgumentException>(() => Create().HypercallId(0x00D5)).Message, StringComparison.Ordinal);
        Assert.Contains("registered twice", Assert.Throws<ArgumentException>(() => new SimCounters([(1, "A"), (1, "B")])).Message, StringComparison.Ordinal);
    }
}
