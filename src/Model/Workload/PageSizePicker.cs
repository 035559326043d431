using HvIommu.Model.PageTables;

namespace HvIommu.Model.Workload;

/// <summary>One leaf iommu_map writes: IOVA, GPA and page size.</summary>
public readonly record struct MapPiece(ulong Iova, ulong Gpa, PageSize Size);

/// <summary>
/// How iommu_map splits a range into leaves (drivers/iommu/iommu.c, <c>iommu_pgsize()</c> called from
/// <c>__iommu_map()</c>): at each step the largest page size in the domain's <c>pgsize_bitmap</c> that is
/// no larger than what is left and to which both the IOVA and the physical address are aligned.
/// </summary>
public static class PageSizePicker
{
    /// <param name="pageSizeBitmap">Bit n set = pages of 2^n bytes supported (4K, 2M, 1G here).</param>
    /// <exception cref="ArgumentException">The range is not 4 KiB aligned, or 4 KiB pages are not supported.</exception>
    public static List<MapPiece> Split(ulong iova, ulong gpa, ulong size, ulong pageSizeBitmap)
    {
        var pieces = new List<MapPiece>();
        Split(iova, gpa, size, pageSizeBitmap, pieces);
        return pieces;
    }

    /// <summary>The same leaves, appended to <paramref name="pieces"/> in IOVA order.</summary>
    /// <exception cref="ArgumentException">The range is not 4 KiB aligned, or 4 KiB pages are not supported.</exception>
    public static void Split(ulong iova, ulong gpa, ulong size, ulong pageSizeBitmap, List<MapPiece> pieces)
    {
        if (((iova | gpa | size) & 0xFFF) != 0)
            throw new ArgumentException($"iova 0x{iova:x}, gpa 0x{gpa:x}, size 0x{size:x}: not 4 KiB aligned");
        if ((pageSizeBitmap & (1UL << 12)) == 0)
            throw new ArgumentException("the page-size bitmap has no 4 KiB pages", nameof(pageSizeBitmap));
        while (size > 0)
        {
            var pgsize = Pick(iova, gpa, size, pageSizeBitmap);
            pieces.Add(new MapPiece(iova, gpa, pgsize));
            var bytes = pgsize.Bytes();
            iova += bytes;
            gpa += bytes;
            size -= bytes;
        }
    }

    /// <summary>iommu_pgsize's choice for the next leaf (only the sizes the stage-1 table has: 4K, 2M, 1G).</summary>
    public static PageSize Pick(ulong iova, ulong gpa, ulong size, ulong pageSizeBitmap)
    {
        // The largest that fits wins: 1G is tried after 2M.
        var best = PageSize.Size4K;
        if (Fits(PageSize.Size2M))
            best = PageSize.Size2M;
        if (Fits(PageSize.Size1G))
            best = PageSize.Size1G;
        return best;

        bool Fits(PageSize candidate)
        {
            var bytes = candidate.Bytes();
            return (pageSizeBitmap & bytes) != 0 && bytes <= size && ((iova | gpa) & (bytes - 1)) == 0;
        }
    }
}
