using HvIommu.Model.PageTables;

namespace HvIommu.Model.Tests.PageTables;

/// <summary>The simple model a stage-1 table is held against: a set of leaves keyed by IOVA.</summary>
internal sealed class ReferenceMap
{
    public readonly record struct Leaf(ulong Iova, PageSize Size, ulong Gpa, bool Writable)
    {
        public ulong Last => Iova + (Size.Bytes() - 1);
        public bool Overlaps(ulong first, ulong last) => Iova <= last && first <= Last;
    }

    private readonly Dictionary<ulong, Leaf> _leaves = new();

    public IEnumerable<Leaf> Leaves => _leaves.Values;

    /// <summary>generic_pt refuses a map overlapping any existing leaf; anything else succeeds.</summary>
    public MapStatus Map(Leaf leaf)
    {
        if (_leaves.Values.Any(l => l.Overlaps(leaf.Iova, leaf.Last)))
            return MapStatus.AlreadyMapped;
        _leaves.Add(leaf.Iova, leaf);
        return MapStatus.Mapped;
    }

    /// <summary>
    /// __iommu_unmap over leaves only, no tables: each piece (iommu_pgsize) removes whole leaves from its start
    /// while the next address begins a leaf, and stops at a hole or at a start inside a leaf; the loop stops at
    /// the first piece that removes nothing. <c>Consumed</c> lists, per piece, the IOVA span the walk got
    /// through — the only place generic_pt may free a table the piece covers whole.
    /// </summary>
    public (ulong Bytes, List<Leaf> Removed, List<(ulong First, ulong Last)> Consumed) Unmap(ulong iova, ulong length)
    {
        var removed = new List<Leaf>();
        var consumed = new List<(ulong, ulong)>();
        if (((iova | length) & 0xFFF) != 0)
            return (0, removed, consumed);
        ulong unmapped = 0;
        while (unmapped < length)
        {
            var pageSize = PageSizeChoice.Choose(PageSizeChoice.X86Bitmap, iova, iova, length - unmapped, out var count);
            var last = iova + (pageSize * count - 1);
            var at = iova;
            while (at <= last && Lookup(at) is { } leaf && leaf.Iova == at)
            {
                _leaves.Remove(leaf.Iova);
                removed.Add(leaf);
                at = leaf.Last + 1;
            }
            if (at == iova)
                break;
            consumed.Add((iova, Math.Min(last, at - 1)));
            unmapped += at - iova;
            iova = at;
        }
        return (unmapped, removed, consumed);
    }

    public Leaf? Lookup(ulong iova)
    {
        foreach (var leaf in _leaves.Values)
            if (leaf.Overlaps(iova, iova))
                return leaf;
        return null;
    }
}
