using HvIommu.Actors.Bench;
using Xunit;

namespace HvIommu.Actors.Tests.Bench;

/// <summary>
/// The warm rule bench and the Coyote anchor apply to schedules/s: the first block is the cold figure, the first later
/// block less than 10 % faster than the one before it the warm one, at most the ninth block; every block has the same size.
/// </summary>
[Trait("Category", "Model")]
public sealed class WarmThroughputTests
{
    private static (WarmThroughput Result, List<long> Blocks) Measure(params double[] rates)
    {
        var blocks = new List<long>();
        var result = WarmThroughput.Measure(n =>
        {
            blocks.Add(n);
            return rates[blocks.Count - 1];
        }, 100, alreadyRun: 50);
        return (result, blocks);
    }

    [Fact]
    public void The_first_block_that_stops_speeding_up_is_the_warm_one()
    {
        var (r, blocks) = Measure(1000, 2000, 3000, 3200, 9999);
        Assert.Equal(1000, r.Cold);
        Assert.Equal(3200, r.Warm);
        // The start, then the cold block and the two that still sped up by 10 % or more.
        Assert.Equal(50 + 3 * 100, r.WarmUp);
        Assert.Equal([100, 100, 100, 100], blocks);
    }

    [Fact]
    public void A_second_block_no_faster_than_the_first_is_warm_at_once()
    {
        var (r, blocks) = Measure(1000, 1099, 5000);
        Assert.Equal((1000.0, 1099.0, 150L), (r.Cold, r.Warm, r.WarmUp));
        Assert.Equal(2, blocks.Count);
    }

    [Fact]
    public void A_rate_that_keeps_rising_stops_at_the_ninth_block()
    {
        var rates = Enumerable.Range(0, 20).Select(i => 1000.0 * Math.Pow(2, i)).ToArray();
        var (r, blocks) = Measure(rates);
        Assert.Equal(1 + WarmThroughput.MaxWarmUpBlocks, blocks.Count);
        Assert.Equal(rates[WarmThroughput.MaxWarmUpBlocks], r.Warm);
        Assert.Equal(50 + WarmThroughput.MaxWarmUpBlocks * 100, r.WarmUp);
    }
}
