using System.Collections.Immutable;
using System.Runtime.CompilerServices;
using HvIommu.Model.Memory;
using HvIommu.Model.PageTables;

namespace HvIommu.Model.Translation;

/// <summary>
/// The IOMMU's nested translation of a device IOVA (brief §4): walks the guest's stage-1 table, translating
/// every table GPA and the final GPA through the host's <see cref="Stage2"/>, reading entries with
/// <see cref="GuestMemory.Load64"/> (READ_ONCE, brief §3.1) so it may race with guest map/unmap. Write
/// permission is the AND of R/W over the whole chain. Stateless; pure.
/// </summary>
public static class NestedWalker
{
    /// <summary>Levels of the host's stage-2 table, for the 2-D walk reference count.</summary>
    public const int Stage2Levels = 4;

    private const int MaxLevels = 5;

    public static WalkResult Walk(GuestMemory memory, Stage2 stage2, ulong rootGpa, int levels, ulong apertureMax, ulong iova, AccessKind access)
        => WalkFrom(memory, stage2, levels - 1, rootGpa, apertureMax, iova, access);

    /// <summary>Walks from a table at <paramref name="startLevel"/> (a paging-structure cache hit skips the levels above).</summary>
    public static WalkResult WalkFrom(GuestMemory memory, Stage2 stage2, int startLevel, ulong tableGpa, ulong apertureMax, ulong iova, AccessKind access)
    {
        if (startLevel is < 0 or >= MaxLevels)
            throw new ArgumentOutOfRangeException(nameof(startLevel), startLevel, "stage-1 levels are 0..4");
        if (iova > apertureMax)
            return new WalkResult(WalkFault.OutsideAperture, ImmutableArray<WalkStep>.Empty, 0);
        var chain = new ChainBuffer();
        var count = 0;
        var writable = true;
        for (var level = startLevel; ; level--)
        {
            if (!stage2.TryTranslate(tableGpa, out _) || !memory.Contains(tableGpa))
                return Fail(WalkFault.Stage2Fault, chain, count, count + 1);
            var index = Pte.Index(iova, level);
            var entry = memory.Load64(tableGpa + ((ulong)index << 3));
            chain[count++] = new WalkStep(level, index, tableGpa, entry);
            if (!Pte.IsPresent(entry))
                return Fail(WalkFault.NotPresent, chain, count, count);
            writable &= Pte.IsWritable(entry);
            if (Pte.IsLeaf(entry, level))
                return Leaf(stage2, chain, count, entry, level, iova, writable, access);
            tableGpa = Pte.Address(entry);
        }
    }

    private static WalkResult Leaf(Stage2 stage2, in ChainBuffer chain, int count, ulong entry, int level, ulong iova, bool writable, AccessKind access)
    {
        if (access == AccessKind.Write && !writable)
            return Fail(WalkFault.WriteToReadOnly, chain, count, count);
        var size = PageSizeExtensions.FromLevel(level);
        var offsetMask = size.Bytes() - 1;
        var gpa = (Pte.Address(entry) & ~offsetMask) | (iova & offsetMask);
        if (!stage2.TryTranslate(gpa, out var hpa))
            return Fail(WalkFault.Stage2Fault, chain, count, count + 1);
        return new WalkResult(Freeze(chain, count), count + 1, gpa, hpa, size, writable);
    }

    private static WalkResult Fail(WalkFault fault, in ChainBuffer chain, int count, int stage2Lookups)
        => new(fault, Freeze(chain, count), stage2Lookups);

    private static ImmutableArray<WalkStep> Freeze(in ChainBuffer chain, int count)
        => ImmutableArray.Create(((ReadOnlySpan<WalkStep>)chain)[..count]);

    /// <summary>Room for the longest chain on the stack, so a walk allocates only its result.</summary>
    [InlineArray(MaxLevels)]
    private struct ChainBuffer
    {
        private WalkStep _first;
    }
}
