using System.Numerics;

namespace HvIommu.Model.Hypercalls;

/// <summary>
/// One entry of <c>HVCALL_FLUSH_DEVICE_DOMAIN_LIST</c> (<c>union hv_iommu_flush_va</c>, brief §2.2, §1.10):
/// a naturally aligned block of 2^<see cref="PageMaskShift"/> hypervisor pages (4 KiB, <c>HV_HYP_PAGE_SHIFT</c>,
/// never the guest <c>PAGE_SHIFT</c> — H7) starting at <see cref="PageNumber"/>. Encoded as
/// page_mask_shift:12 in the low bits and page_number:52 above.
/// </summary>
public readonly record struct FlushVa(ulong PageNumber, int PageMaskShift)
{
    /// <summary>Hypervisor page shift (4 KiB), independent of the guest's page size.</summary>
    public const int HvPageShift = 12;

    public const int PageNumberBits = 52;

    /// <summary>A block of 2^52 pages covers the whole 64-bit IOVA space.</summary>
    public const int MaxPageMaskShift = PageNumberBits;

    /// <summary>Pages in the block.</summary>
    public ulong PageCount => 1UL << PageMaskShift;

    /// <summary>Last 4 KiB page of the block (never overflows for a valid entry).</summary>
    public ulong LastPageNumber => PageNumber + (PageCount - 1);

    public ulong StartIova => PageNumber << HvPageShift;

    /// <summary>Last byte covered, inclusive (an exclusive end would overflow for the top block — H7).</summary>
    public ulong EndIovaInclusive => (LastPageNumber << HvPageShift) | ((1UL << HvPageShift) - 1);

    /// <summary>True when the block shares at least one 4 KiB page with pages [firstPage, lastPage].</summary>
    public bool OverlapsPages(ulong firstPage, ulong lastPage) => PageNumber <= lastPage && firstPage <= LastPageNumber;

    public ulong Encode()
    {
        Validate();
        return (PageNumber << 12) | (uint)PageMaskShift;
    }

    /// <summary>Decodes the wire form; the result may be invalid (check <see cref="IsValid"/>), as a hypervisor would.</summary>
    public static FlushVa Decode(ulong raw) => new(raw >> 12, (int)(raw & 0xFFF));

    /// <summary>Well formed: shift in 0..52, page number within 52 bits and aligned to the block size.</summary>
    public bool IsValid(out string reason)
    {
        reason = PageMaskShift is < 0 or > MaxPageMaskShift
            ? $"page_mask_shift {PageMaskShift} is outside 0..{MaxPageMaskShift}"
            : PageNumber >> PageNumberBits != 0
                ? $"page_number 0x{PageNumber:x} does not fit in {PageNumberBits} bits"
                : (PageNumber & (PageCount - 1)) != 0
                    ? $"page_number 0x{PageNumber:x} is not aligned to a block of 2^{PageMaskShift} pages"
                    : "";
        return reason.Length == 0;
    }

    /// <summary>Throws <see cref="ArgumentException"/> naming the defect when the entry is malformed.</summary>
    public void Validate()
    {
        if (!IsValid(out var reason))
            throw new ArgumentException(reason);
    }

    /// <summary>
    /// The single power-of-two block covering [<paramref name="startIova"/>, <paramref name="endIovaInclusive"/>],
    /// as the v2 driver builds it from the gather (may over-flush). Works on page numbers, so a range ending at
    /// 2^64−1 needs no <c>end + 1</c> (H7). An empty gather (start &gt; end, e.g. ULONG_MAX..0) is rejected
    /// rather than turned into a spurious full flush (H7).
    /// </summary>
    public static FlushVa FromRange(ulong startIova, ulong endIovaInclusive)
    {
        if (startIova > endIovaInclusive)
            throw new ArgumentException(
                $"empty range: start 0x{startIova:x} is after end 0x{endIovaInclusive:x}", nameof(startIova));
        var first = startIova >> HvPageShift;
        var last = endIovaInclusive >> HvPageShift;
        // Smallest aligned block holding both: the bits above the highest differing bit are shared.
        var shift = 64 - BitOperations.LeadingZeroCount(first ^ last);
        var pageNumber = shift == 0 ? first : first & ~((1UL << shift) - 1);
        return new FlushVa(pageNumber, shift);
    }

    public override string ToString() => $"[0x{StartIova:x}..0x{EndIovaInclusive:x}] (page 0x{PageNumber:x}, shift {PageMaskShift})";
}
