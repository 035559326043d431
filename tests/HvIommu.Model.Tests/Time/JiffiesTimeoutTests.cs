using HvIommu.Model.Time;

namespace HvIommu.Model.Tests.Time;

/// <summary>The flush-queue timer as dma-iommu.c queue_iova arms it: mod_timer(jiffies + msecs_to_jiffies(timeout)).</summary>
[Trait("Category", "Model")]
public sealed class JiffiesTimeoutTests
{
    [Theory]
    [InlineData(10, 1000, 10)]
    [InlineData(10, 250, 3)]   // 2.5 ticks round up
    [InlineData(10, 100, 1)]
    [InlineData(1000, 250, 250)]
    [InlineData(0.001, 250, 1)]
    public void Msecs_to_jiffies_rounds_up_to_whole_ticks(double ms, int hz, long jiffies)
        => Assert.Equal(jiffies, JiffiesTimeout.Jiffies(TimeSpan.FromMilliseconds(ms), hz));

    [Theory]
    [InlineData(0L, 12_000_000L)]          // on a tick boundary: exactly 3 ticks of 4 ms
    [InlineData(1_000_000L, 11_000_000L)]  // 1 ms into a tick: the first tick is short
    [InlineData(3_999_900L, 8_000_100L)]
    public void The_timer_fires_on_a_tick_boundary(long nowNs, long delayNs)
        => Assert.Equal(delayNs, JiffiesTimeout.Delay(nowNs, TimeSpan.FromMilliseconds(10), 250).Ticks * 100);

    [Fact]
    public void Hz_must_be_positive()
        => Assert.Throws<ArgumentOutOfRangeException>(() => JiffiesTimeout.Delay(0, TimeSpan.FromMilliseconds(10), 0));
}
