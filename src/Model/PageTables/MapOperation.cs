namespace HvIommu.Model.PageTables;

/// <summary>
/// One generic_pt <c>map_pages</c> of a single leaf as a resumable state machine (brief §3.1): each
/// <see cref="Step"/> does one level's work — read the slot, allocate and install a table, or write the
/// leaf — so an actor (or a deterministic scheduler) can interleave other mappers between levels. With
/// <see cref="StageOnePageTable.RacyInstall"/> the table install is split into a plain load in one step and
/// a plain store in a later one, reproducing the lost-table race of hazard H6.
/// </summary>
public sealed class MapOperation
{
    private StageOnePageTable _table;
    private ulong _iova;
    private ulong _leaf;
    private int _leafLevel;
    private IotlbGather? _gather;
    private int _level;
    private ulong _tableGpa;
    private ulong _pendingTable;

    internal MapOperation(StageOnePageTable table, ulong iova, ulong leaf, PageSize size, IotlbGather? gather)
    {
        _table = null!;
        Restart(table, iova, leaf, size, gather);
    }

    /// <summary>The map of <paramref name="leaf"/> at <paramref name="iova"/> from its first step, as a new operation
    /// would run it (<see cref="StageOnePageTable.Map(ulong, ulong, PageSize, bool, IotlbGather?)"/> reuses one per thread).</summary>
    internal void Restart(StageOnePageTable table, ulong iova, ulong leaf, PageSize size, IotlbGather? gather)
    {
        _table = table;
        _iova = iova;
        _leaf = leaf;
        _leafLevel = size.Level();
        _gather = gather;
        _level = table.Levels - 1;
        _tableGpa = table.RootGpa;
        _pendingTable = 0;
        Status = default;
        IsFinished = false;
    }

    /// <summary>Lets go of the table and the gather once a reused operation finished.</summary>
    internal void Release()
    {
        _table = null!;
        _gather = null;
    }

    internal MapOperation(MapStatus rejected)
    {
        _table = null!;
        Status = rejected;
        IsFinished = true;
    }

    /// <summary>The outcome; meaningful once <see cref="IsFinished"/>.</summary>
    public MapStatus Status { get; private set; }

    public bool IsFinished { get; private set; }

    /// <summary>The generic_pt level the next <see cref="Step"/> works on.</summary>
    public int Level => _level;

    /// <summary>Does one level's work; true when the map is finished (see <see cref="Status"/>).</summary>
    public bool Step()
    {
        if (IsFinished)
            return true;
        var slot = _tableGpa + ((ulong)Pte.Index(_iova, _level) << 3);
        if (_pendingTable != 0)
            InstallRacy(slot);
        else if (_level == _leafLevel)
            WriteLeaf(slot);
        else
            Descend(slot);
        return IsFinished;
    }

    private void Descend(ulong slot)
    {
        var entry = _table.Memory.Load64(slot);
        if (entry == 0)
        {
            if (!_table.TryAllocateTable(out var fresh))
            {
                Finish(MapStatus.NoMemory);
                return;
            }
            if (_table.RacyInstall)
            {
                _pendingTable = fresh;
                return;
            }
            entry = InstallAtomic(slot, fresh);
        }
        Follow(entry);
    }

    /// <summary>cmpxchg install (PT-DEFS, VTD-CMPX): the loser frees its own table and uses the winner's.</summary>
    private ulong InstallAtomic(ulong slot, ulong fresh)
    {
        var pointer = Pte.TablePointer(fresh);
        var found = _table.Memory.CompareExchange64(slot, 0, pointer);
        if (found == 0)
            return pointer;
        _table.ReleaseUnusedTable(fresh);
        return found;
    }

    /// <summary>Hazard H6: a plain store of the pointer, overwriting whatever another mapper installed meanwhile.</summary>
    private void InstallRacy(ulong slot)
    {
        var pointer = Pte.TablePointer(_pendingTable);
        _pendingTable = 0;
        if (_table.Memory.Load64(slot) != 0)
            _table.NoteOrphanedByRacyInstall();
        _table.Memory.Store64(slot, pointer);
        Follow(pointer);
    }

    private void Follow(ulong entry)
    {
        if (Pte.IsLeaf(entry, _level))
        {
            Finish(MapStatus.AlreadyMapped);
            return;
        }
        _tableGpa = Pte.Address(entry);
        _level--;
    }

    private void WriteLeaf(ulong slot)
    {
        var entry = _table.Memory.Load64(slot);
        if (entry == 0)
        {
            _table.Memory.Store64(slot, _leaf);
            Finish(MapStatus.Mapped);
        }
        else if (Pte.IsLeaf(entry, _level) || _gather is null)
        {
            Finish(MapStatus.AlreadyMapped);
        }
        else
        {
            Finish(_table.TryReplaceEmptyTable(slot, entry, _leaf, _iova, _level, _gather) ? MapStatus.Mapped : MapStatus.AlreadyMapped);
        }
    }

    private void Finish(MapStatus status)
    {
        Status = status;
        IsFinished = true;
    }
}
