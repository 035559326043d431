namespace HvIommu.Model.PageTables;

/// <summary>
/// x86-64 paging-entry bits as used by stage-1 I/O page tables (brief §3; generic_pt fmt/x86_64.h,
/// arch/x86 pgtable_types.h <c>_PAGE_BIT_*</c>). Bit 7 is PS on a PDE/PDPTE and PAT on a 4 KiB PTE.
/// </summary>
[Flags]
public enum PteFlags : ulong
{
    None = 0,
    Present = 1UL << 0,       // P
    Writable = 1UL << 1,      // R/W
    User = 1UL << 2,          // U/S
    WriteThrough = 1UL << 3,  // PWT
    CacheDisable = 1UL << 4,  // PCD
    Accessed = 1UL << 5,      // A
    Dirty = 1UL << 6,         // D
    PageSize = 1UL << 7,      // PS (PAT on a level-0 PTE)
    Global = 1UL << 8,        // G
    LargePat = 1UL << 12,     // PAT on 2 MiB / 1 GiB leaves
    NoExecute = 1UL << 63,    // XD
}

/// <summary>Leaf sizes of the x86-64 format: 4 KiB at level 0, 2 MiB at level 1, 1 GiB at level 2.</summary>
public enum PageSize
{
    Size4K = 0,
    Size2M = 1,
    Size1G = 2,
}

public static class PageSizeExtensions
{
    /// <summary>generic_pt level that holds a leaf of this size.</summary>
    public static int Level(this PageSize size) => (int)size;

    public static int Shift(this PageSize size) => 12 + 9 * (int)size;

    public static ulong Bytes(this PageSize size) => 1UL << size.Shift();

    public static PageSize FromLevel(int level) => level switch
    {
        0 => PageSize.Size4K,
        1 => PageSize.Size2M,
        2 => PageSize.Size1G,
        _ => throw new ArgumentOutOfRangeException(nameof(level), level, "x86-64 leaves exist only at levels 0..2"),
    };

    public static string Name(this PageSize size) => size switch
    {
        PageSize.Size4K => "4K",
        PageSize.Size2M => "2M",
        PageSize.Size1G => "1G",
        _ => size.ToString(),
    };
}

/// <summary>
/// Encoding and decoding of one 64-bit stage-1 entry exactly as generic_pt writes it (brief §3):
/// table pointers are P|R/W|U|A|address; leaves are P|U|A|address (+PS above level 0), plus R/W|D when
/// the mapping is writable. PWT, PCD, G and XD are never set.
/// </summary>
public static class Pte
{
    /// <summary>Address bits 51:12.</summary>
    public const ulong AddressMask = 0x000F_FFFF_FFFF_F000;

    public const int EntriesPerTable = 512;
    public const int IndexBits = 9;

    public static bool IsPresent(ulong entry) => (entry & (ulong)PteFlags.Present) != 0;

    public static bool IsWritable(ulong entry) => (entry & (ulong)PteFlags.Writable) != 0;

    /// <summary>True when the entry at <paramref name="level"/> maps a page rather than pointing to a table.</summary>
    public static bool IsLeaf(ulong entry, int level) => level == 0 || (level <= 2 && (entry & (ulong)PteFlags.PageSize) != 0);

    public static ulong Address(ulong entry) => entry & AddressMask;

    /// <summary>Intermediate table pointer: P | R/W | U | A | table GPA.</summary>
    public static ulong TablePointer(ulong tableGpa)
    {
        CheckAddress(tableGpa, 12);
        return tableGpa | (ulong)(PteFlags.Present | PteFlags.Writable | PteFlags.User | PteFlags.Accessed);
    }

    /// <summary>Leaf: P | U | A | GPA, PS above level 0, and R/W | D when writable (A/D preset, H20).</summary>
    public static ulong Leaf(ulong gpa, PageSize size, bool writable)
    {
        CheckAddress(gpa, size.Shift());
        var flags = PteFlags.Present | PteFlags.User | PteFlags.Accessed;
        if (size != PageSize.Size4K)
            flags |= PteFlags.PageSize;
        if (writable)
            flags |= PteFlags.Writable | PteFlags.Dirty;
        return gpa | (ulong)flags;
    }

    /// <summary>Index of <paramref name="iova"/> in a table at <paramref name="level"/> (bits 12+9L .. 20+9L).</summary>
    public static int Index(ulong iova, int level) => (int)((iova >> (12 + IndexBits * level)) & (EntriesPerTable - 1));

    /// <summary>Bytes covered by one entry at <paramref name="level"/>.</summary>
    public static ulong EntrySpan(int level) => 1UL << (12 + IndexBits * level);

    /// <summary>The names of the set flag bits, e.g. "P RW U A D PS".</summary>
    public static string DescribeFlags(ulong entry, int level)
    {
        var names = new List<string>(8);
        void Add(PteFlags f, string n)
        {
            if ((entry & (ulong)f) != 0)
                names.Add(n);
        }
        Add(PteFlags.Present, "P");
        Add(PteFlags.Writable, "RW");
        Add(PteFlags.User, "U");
        Add(PteFlags.WriteThrough, "PWT");
        Add(PteFlags.CacheDisable, "PCD");
        Add(PteFlags.Accessed, "A");
        Add(PteFlags.Dirty, "D");
        Add(PteFlags.PageSize, level == 0 ? "PAT" : "PS");
        Add(PteFlags.Global, "G");
        // Bit 12 is PAT only on a large leaf; in a table pointer or a 4 KiB leaf it is an address bit.
        if (level is 1 or 2 && (entry & (ulong)PteFlags.PageSize) != 0)
            Add(PteFlags.LargePat, "PAT");
        Add(PteFlags.NoExecute, "XD");
        return names.Count == 0 ? "-" : string.Join(' ', names);
    }

    private static void CheckAddress(ulong address, int alignShift)
    {
        if ((address & ~AddressMask) != 0 || (address & ((1UL << alignShift) - 1)) != 0)
            throw new ArgumentException($"address 0x{address:x} is not {1UL << alignShift:N0}-byte aligned within bits 51:12", nameof(address));
    }
}
