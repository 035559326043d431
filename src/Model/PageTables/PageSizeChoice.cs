namespace HvIommu.Model.PageTables;

/// <summary>
/// How the IOMMU core cuts a range into page-sized pieces (Linux <c>drivers/iommu/iommu.c</c>,
/// <c>iommu_pgsize</c>): the largest size of the domain's <c>pgsize_bitmap</c> that the length and the
/// alignment of IOVA and output address allow, and how many of them to pass to one driver call before a
/// larger size becomes possible. Used for map (<c>__iommu_map</c>) and unmap (<c>__iommu_unmap</c>).
/// </summary>
public static class PageSizeChoice
{
    /// <summary>The x86-64 format's leaf sizes at levels 0..2 (generic_pt <c>fmt/x86_64.h</c>): 4 KiB | 2 MiB | 1 GiB.</summary>
    public const ulong X86Bitmap = (1UL << 12) | (1UL << 21) | (1UL << 30);

    /// <summary>
    /// <c>iommu_pgsize</c>: the page size for the next piece of [<paramref name="iova"/>, +<paramref name="size"/>)
    /// mapped to <paramref name="paddr"/> (unmap passes the IOVA as <paramref name="paddr"/>), and in
    /// <paramref name="count"/> how many pages of it to hand to one <c>map_pages</c>/<c>unmap_pages</c> call.
    /// </summary>
    /// <exception cref="ArgumentException">No size of the bitmap fits (the kernel's BUG_ON): the caller must have
    /// checked alignment to the smallest size and a non-zero length.</exception>
    public static ulong Choose(ulong bitmap, ulong iova, ulong paddr, ulong size, out ulong count)
    {
        var merged = iova | paddr;
        var sizes = bitmap & MaskUpTo(63 - System.Numerics.BitOperations.LeadingZeroCount(size));
        if (merged != 0)
            sizes &= MaskUpTo(System.Numerics.BitOperations.TrailingZeroCount(merged));
        if (sizes == 0 || size == 0)
            throw new ArgumentException($"no page size of bitmap 0x{bitmap:x} fits IOVA 0x{iova:x}, address 0x{paddr:x}, length 0x{size:x}");
        var shift = 63 - System.Numerics.BitOperations.LeadingZeroCount(sizes);
        var larger = bitmap & ~MaskUpTo(shift);
        if (larger != 0)
        {
            var next = 1UL << System.Numerics.BitOperations.TrailingZeroCount(larger);
            // A larger page only helps once IOVA and address sit at the same offset inside it.
            if (((iova ^ paddr) & (next - 1)) == 0)
            {
                var offset = next - (merged & (next - 1));
                if (offset + next <= size)
                    size = offset;
            }
        }
        count = size >> shift;
        return 1UL << shift;
    }

    /// <summary>Bits 0..<paramref name="high"/> set (GENMASK(high, 0)).</summary>
    private static ulong MaskUpTo(int high) => high >= 63 ? ulong.MaxValue : (1UL << (high + 1)) - 1;
}
