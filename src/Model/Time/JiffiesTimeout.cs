namespace HvIommu.Model.Time;

/// <summary>
/// A kernel timer armed with <c>mod_timer(timer, jiffies + msecs_to_jiffies(ms))</c> (dma-iommu.c queue_iova):
/// the timeout rounds up to whole ticks of 1/HZ seconds (include/linux/jiffies.h <c>msecs_to_jiffies</c>), and
/// the timer expires when the jiffies counter reaches that value — on a tick boundary, so the real delay is
/// between (n − 1) and n ticks after the call.
/// </summary>
public static class JiffiesTimeout
{
    /// <summary>msecs_to_jiffies for a timeout given as a span: ceil(timeout × hz), at least one tick.</summary>
    public static long Jiffies(TimeSpan timeout, int hz)
    {
        var ticks = (timeout.Ticks * hz + TimeSpan.TicksPerSecond - 1) / TimeSpan.TicksPerSecond;
        return Math.Max(1, ticks);
    }

    /// <summary>The delay from <paramref name="nowNs"/> until the tick at which the timer fires.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="hz"/> is not positive.</exception>
    public static TimeSpan Delay(long nowNs, TimeSpan timeout, int hz)
    {
        if (hz <= 0)
            throw new ArgumentOutOfRangeException(nameof(hz), hz, "HZ must be positive");
        var tickNs = 1_000_000_000L / hz;
        var expiresNs = (nowNs / tickNs + Jiffies(timeout, hz)) * tickNs;
        return TimeSpan.FromTicks((expiresNs - nowNs + 99) / 100);
    }
}
