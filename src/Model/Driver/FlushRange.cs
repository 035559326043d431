using System.Collections.Immutable;
using System.Numerics;
using HvIommu.Model.Hypercalls;
using HvIommu.Model.Settings;

namespace HvIommu.Model.Driver;

/// <summary>
/// The driver's iotlb_sync decision for <c>driver.flush = list</c> (brief §1.10, §2.2, hazard H7): which
/// blocks HVCALL_FLUSH_DEVICE_DOMAIN_LIST carries for an unmap's gather, in each <see cref="FlushRangeMode"/>.
/// Pure: the vCPU actor only applies it. Under-flush (a block that misses part of the unmapped range) is
/// the correctness bug the oracle catches; over-flush only costs performance.
/// </summary>
public static class FlushRange
{
    /// <summary>
    /// The blocks to flush for the gather [<paramref name="start"/>, <paramref name="endInclusive"/>] of a
    /// domain whose IOVA space ends at <paramref name="apertureMax"/> (2^w − 1); null when the driver must
    /// use the domain-wide flush instead (an empty gather, as the correct driver treats it). An empty array
    /// is a list flush of no entries, which invalidates nothing.
    /// </summary>
    public static ImmutableArray<FlushVa>? Blocks(FlushRangeMode mode, ulong start, ulong endInclusive, ulong apertureMax)
    {
        if (start > endInclusive)
            return null;
        return mode switch
        {
            FlushRangeMode.Exact => [FlushVa.FromRange(start, endInclusive)],
            FlushRangeMode.Empty => [FromSize(ulong.MaxValue, 0)],
            FlushRangeMode.OffByOne => OffByOne(start, endInclusive),
            FlushRangeMode.Overflow => Overflow(start, endInclusive, apertureMax),
            _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, "unknown flush-range mode"),
        };
    }

    /// <summary>
    /// The v1-style arithmetic on the gather's raw fields: size = end + 1 − start (wrapping), one block of
    /// the next power of two of pages, aligned down from start. For the empty gather the generic_pt bug
    /// left behind (start = ULONG_MAX, end = 0, iommupt fix b48ca9206138) the size wraps to 2 bytes and the
    /// block is the top 4 KiB page of the 64-bit space — which holds nothing the driver ever mapped.
    /// </summary>
    public static FlushVa FromSize(ulong start, ulong endInclusive)
    {
        var size = unchecked(endInclusive + 1 - start);
        var pages = Math.Max(1UL, (size >> FlushVa.HvPageShift) + ((size & 0xFFF) != 0 ? 1UL : 0));
        var shift = Math.Min(FlushVa.MaxPageMaskShift, 64 - BitOperations.LeadingZeroCount(pages - 1));
        var page = (start >> FlushVa.HvPageShift) & ~((1UL << shift) - 1);
        return new FlushVa(page, shift);
    }

    /// <summary>The inclusive end read as exclusive: the range stops one page early. A one-page gather then
    /// looks empty, and the driver's empty-gather check falls back to the domain flush (harmless).</summary>
    private static ImmutableArray<FlushVa>? OffByOne(ulong start, ulong endInclusive)
    {
        var page = 1UL << FlushVa.HvPageShift;
        if (endInclusive - start < page)
            return null;
        return [FlushVa.FromRange(start, endInclusive - page)];
    }

    /// <summary>
    /// The range walked as [start, end + 1) with end + 1 computed in the IOVA space's width: for a gather
    /// ending at the aperture's last byte the exclusive end wraps to 0, the range looks empty and the list
    /// carries no entry. (The real slip wraps at 2^64, which a 48- or 57-bit aperture never reaches; the
    /// model wraps at the aperture's top so the same arithmetic can be exercised, [SASHIKO-v2].)
    /// </summary>
    private static ImmutableArray<FlushVa> Overflow(ulong start, ulong endInclusive, ulong apertureMax)
    {
        var exclusiveEnd = unchecked(endInclusive + 1) & apertureMax;
        if (exclusiveEnd <= start)
            return [];
        return [FlushVa.FromRange(start, exclusiveEnd - 1)];
    }
}
