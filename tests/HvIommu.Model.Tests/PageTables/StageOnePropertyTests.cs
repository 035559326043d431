using CsCheck;
using HvIommu.Model.PageTables;
using HvIommu.Model.Translation;

namespace HvIommu.Model.Tests.PageTables;

/// <summary>
/// Random map/unmap sequences of all three sizes held against <see cref="ReferenceMap"/> (brief §3.1):
/// translations, freed tables and frame accounting are checked after every operation.
/// </summary>
[Trait("Category", "Model")]
public sealed class StageOnePropertyTests
{
    /// <summary>Coordinates on a small grid (4 GiB × 4 × 4 × 4) so operations collide, share and empty tables.</summary>
    public sealed record Op(bool IsMap, PageSize Size, int Giga, int Mega, int Page, int Count, bool Writable)
    {
        public ulong Iova => Size switch
        {
            PageSize.Size1G => (ulong)Giga << 30,
            PageSize.Size2M => ((ulong)Giga << 30) + ((ulong)Mega << 21),
            _ => ((ulong)Giga << 30) + ((ulong)Mega << 21) + ((ulong)Page << 12),
        };

        /// <summary>Shifting by 1 GiB keeps every alignment and stays below 4 GiB for the stage 2.</summary>
        public ulong Gpa => (Iova + (1UL << 30)) & ((4UL << 30) - 1);
    }

    private static readonly Gen<Op> GenOp = Gen.Select(Gen.Int[0, 2], Gen.Int[0, 2], Gen.Int[0, 3], Gen.Int[0, 3], Gen.Int[0, 3], Gen.Int[1, 3], Gen.Bool)
        .Select((kind, size, g, m, p, count, w) => new Op(kind != 0, (PageSize)size, g, m, p, count, w));

    [Fact]
    public void Table_agrees_with_the_reference_map_after_every_operation()
        => GenOp.Array[1, 40].Sample(ops => Run(ops, levels: 4), iter: 60);

    [Fact]
    public void Five_level_table_agrees_with_the_reference_map()
        => GenOp.Array[1, 30].Sample(ops => Run(ops, levels: 5), iter: 20);

    private static void Run(Op[] ops, int levels)
    {
        var guest = new TestGuest();
        var table = guest.NewTable(levels);
        var model = new ReferenceMap();
        foreach (var op in ops)
        {
            var before = guest.ReachableTableSpans(table);
            var gather = new IotlbGather();
            var consumed = Apply(table, model, op, gather);
            var after = guest.ReachableTables(table);
            Assert.Equal(before.Keys.Except(after).Order(), gather.FreeList.Order());
            if (!op.IsMap)
                Assert.Equal(FullyCovered(before, consumed).Order(), gather.FreeList.Order());
            foreach (var page in gather.FreeList)
                guest.Frames.Free(page);
            Assert.Equal(after.Count, table.TablePageCount);
            Assert.Equal(table.TablePageCount, guest.PageTableFrames);
            CheckTranslations(guest, table, model);
        }
    }

    /// <summary>
    /// generic_pt (__unmap_range) frees exactly the tables a piece covers whole and walked through without
    /// meeting a hole; tables emptied, partly covered or holding a hole stay.
    /// </summary>
    private static IEnumerable<ulong> FullyCovered(Dictionary<ulong, (ulong First, ulong Last)> tables, List<(ulong First, ulong Last)> consumed)
        => tables.Where(t => consumed.Any(c => t.Value.First >= c.First && t.Value.Last <= c.Last)).Select(t => t.Key);

    private static List<(ulong First, ulong Last)> Apply(StageOnePageTable table, ReferenceMap model, Op op, IotlbGather gather)
    {
        if (op.IsMap)
        {
            var expected = model.Map(new ReferenceMap.Leaf(op.Iova, op.Size, op.Gpa, op.Writable));
            Assert.Equal(expected, table.Map(op.Iova, op.Gpa, op.Size, op.Writable, gather));
            return [];
        }
        var length = (ulong)op.Count * op.Size.Bytes();
        var (bytes, _, consumed) = model.Unmap(op.Iova, length);
        Assert.Equal(bytes, table.Unmap(op.Iova, length, gather));
        // gather_range_pages records what each piece unmapped (ee6e69d03255): exactly [iova, iova + bytes), which runs
        // past the request when the last piece ended inside a large leaf; nothing when nothing was unmapped.
        if (bytes == 0)
            Assert.True(gather.IsEmpty);
        else
            Assert.Equal((op.Iova, op.Iova + (bytes - 1)), (gather.Start, gather.End));
        return consumed;
    }

    private static void CheckTranslations(TestGuest guest, StageOnePageTable table, ReferenceMap model)
    {
        var probes = model.Leaves.SelectMany(l => new[] { l.Iova, l.Last & ~7UL }).ToList();
        for (var g = 0; g < 4; g++)
            for (var m = 0; m < 4; m++)
                for (var p = 0; p < 4; p++)
                    probes.Add(((ulong)g << 30) + ((ulong)m << 21) + ((ulong)p << 12) + 0x18);
        foreach (var iova in probes)
            CheckOne(guest, table, model.Lookup(iova), iova);
    }

    private static void CheckOne(TestGuest guest, StageOnePageTable table, ReferenceMap.Leaf? leaf, ulong iova)
    {
        var found = table.TryIovaToPhys(iova, out var gpa, out var size, out var writable);
        var walk = NestedWalker.Walk(guest.Memory, TestGuest.Stage2, table.RootGpa, table.Levels, table.MaxIova, iova, AccessKind.Write);
        Assert.Equal(leaf is not null, found);
        if (leaf is not { } l)
        {
            Assert.Equal(WalkFault.NotPresent, walk.Fault);
            return;
        }
        var expectedGpa = l.Gpa + (iova - l.Iova);
        Assert.Equal((expectedGpa, l.Size, l.Writable), (gpa, size, writable));
        Assert.Equal(l.Writable ? WalkFault.None : WalkFault.WriteToReadOnly, walk.Fault);
        if (walk.Ok)
            Assert.Equal((expectedGpa, expectedGpa + TestGuest.Stage2.HostOffset), (walk.Gpa, walk.Hpa));
    }
}
