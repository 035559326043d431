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

    /// <summary>Removes every leaf the range touches, whole (no splitting), and returns their bytes.</summary>
    public (ulong Bytes, List<Leaf> Removed) Unmap(ulong iova, ulong length)
    {
        var removed = _leaves.Values.Where(l => l.Overlaps(iova, iova + (length - 1))).ToList();
        foreach (var leaf in removed)
            _leaves.Remove(leaf.Iova);
        return ((ulong)removed.Sum(l => (long)l.Size.Bytes()), removed);
    }

    public Leaf? Lookup(ulong iova)
    {
        foreach (var leaf in _leaves.Values)
            if (leaf.Overlaps(iova, iova))
                return leaf;
        return null;
    }
}
