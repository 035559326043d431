using HvIommu.Model.Memory;
using HvIommu.Model.PageTables;

namespace HvIommu.Model.Tests.PageTables;

/// <summary>A 64 MiB guest whose table frames come from [32 MiB, 48 MiB), and a 4 GiB stage 2 shared read-only.</summary>
internal sealed class TestGuest
{
    public const ulong MemoryBytes = 64UL << 20;
    public const ulong TableBaseGpa = 32UL << 20;
    public const int DomainId = 7;

    /// <summary>Covers every leaf GPA the tests use (below 4 GiB); never remapped, so safe to share.</summary>
    public static readonly Stage2 Stage2 = new(4UL << 30);

    public GuestMemory Memory { get; } = new(MemoryBytes);
    public FrameAllocator Frames { get; }

    public TestGuest() => Frames = new FrameAllocator(Memory, TableBaseGpa, 4096);

    public StageOnePageTable NewTable(int levels = 4, bool racyInstall = false)
        => new(Memory, Frames, levels, DomainId, 12 + Pte.IndexBits * levels, racyInstall);

    public int PageTableFrames => Frames.CountOwnedBy(FrameOwner.PageTable, DomainId);

    /// <summary>Every table page reachable from the root, found by reading guest memory.</summary>
    public HashSet<ulong> ReachableTables(StageOnePageTable table) => ReachableTableSpans(table).Keys.ToHashSet();

    /// <summary>Every reachable table page with the IOVA range [First, Last] it translates.</summary>
    public Dictionary<ulong, (ulong First, ulong Last)> ReachableTableSpans(StageOnePageTable table)
    {
        var found = new Dictionary<ulong, (ulong, ulong)>();
        Collect(table.RootGpa, table.Levels - 1, 0, found);
        return found;
    }

    private void Collect(ulong tableGpa, int level, ulong first, Dictionary<ulong, (ulong, ulong)> found)
    {
        found.Add(tableGpa, (first, first + (Pte.EntrySpan(level) * Pte.EntriesPerTable - 1)));
        for (var i = 0; i < Pte.EntriesPerTable; i++)
        {
            var entry = Memory.Load64(tableGpa + ((ulong)i << 3));
            if (Pte.IsPresent(entry) && !Pte.IsLeaf(entry, level))
                Collect(Pte.Address(entry), level - 1, first + (ulong)i * Pte.EntrySpan(level), found);
        }
    }
}
