using HvIommu.Model.PageTables;

namespace HvIommu.Model.Mappings;

/// <summary>The life of a mapping as the oracle tracks it (docs/design.md §2): mapping → mapped → unmapped → flushed.</summary>
public enum MappingState
{
    /// <summary>Registered; the leaf may not be visible yet.</summary>
    Mapping = 0,
    /// <summary>The leaf is written; the device may be programmed.</summary>
    Mapped = 1,
    /// <summary>The leaf is (being) cleared; caches may still hold it until a flush that starts later completes.</summary>
    Unmapped = 2,
    /// <summary>A flush that started after the clear has completed: no translation of it may be used any more.</summary>
    Flushed = 3,
}

/// <summary>
/// One IOVA → GPA mapping of one domain, from <c>dma_map</c> to its flush. Translations carry its
/// <see cref="Serial"/>, so an access can be judged against the mapping it was made from.
/// </summary>
public sealed class MappingRecord
{
    private int _state;
    private bool _queued;

    public MappingRecord(long serial, uint domain, ulong iova, ulong gpa, PageSize size, bool writable, uint frameGeneration, int vcpu, long mapTimeNs)
    {
        Serial = serial;
        Domain = domain;
        Iova = iova;
        Gpa = gpa;
        Size = size;
        Writable = writable;
        FrameGeneration = frameGeneration;
        Vcpu = vcpu;
        MapTimeNs = mapTimeNs;
    }

    public long Serial { get; }
    public uint Domain { get; }
    public ulong Iova { get; }
    public ulong Gpa { get; }
    public PageSize Size { get; }
    public bool Writable { get; }
    /// <summary>Generation of the data frame when it was mapped (see <see cref="Memory.FrameInfo"/>).</summary>
    public uint FrameGeneration { get; }
    public int Vcpu { get; }
    public long MapTimeNs { get; }

    public MappingState State => (MappingState)Volatile.Read(ref _state);

    /// <summary>Flushes of the domain started before the unmap; a flush numbered above this one covers it.</summary>
    public long UnmapFlushSeq { get; private set; }
    public long UnmapTimeNs { get; private set; }
    /// <summary>Lazy mode: the unmap went to a flush queue and is still in it (its stale window is H3's accepted
    /// trade-off); false again once the queue released its IOVA.</summary>
    public bool Queued
    {
        get => Volatile.Read(ref _queued);
        private set => Volatile.Write(ref _queued, value);
    }
    public long FlushTimeNs { get; private set; }
    /// <summary>Which flush made it <see cref="MappingState.Flushed"/>.</summary>
    public long FlushedBySeq { get; private set; }

    internal void MarkMapped() => Volatile.Write(ref _state, (int)MappingState.Mapped);

    internal void MarkUnmapped(long flushSeq, long timeNs, bool queued)
    {
        UnmapFlushSeq = flushSeq;
        UnmapTimeNs = timeNs;
        Queued = queued;
        Volatile.Write(ref _state, (int)MappingState.Unmapped);
    }

    internal void MarkReleased() => Queued = false;

    internal void MarkFlushed(long flushSeq, long timeNs)
    {
        FlushedBySeq = flushSeq;
        FlushTimeNs = timeNs;
        Volatile.Write(ref _state, (int)MappingState.Flushed);
    }

    public override string ToString() => $"mapping #{Serial} IOVA 0x{Iova:x} → GPA 0x{Gpa:x} ({Size.Name()}, {(Writable ? "rw" : "r")}) of domain {Domain}";
}
