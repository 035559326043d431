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
/// What a mapping is, fixed when <c>dma_map</c> registers it (docs/design.md §2): its serial, domain, IOVA → GPA,
/// page size, access, the data frame's generation, who mapped it and when. This is what crosses an actor boundary (a
/// device descriptor's pages, a DMA transaction's programmed mapping, the events of its accesses): nothing reading it
/// can see or change where the mapping is in its life; whether it is still mapped is the run's ledger's answer
/// (<c>Ledger.MappingLedger.Live</c>, by domain, IOVA and size, comparing <see cref="Serial"/>).
/// </summary>
public class MappingFact
{
    private protected MappingFact(long serial, uint domain, ulong iova, ulong gpa, PageSize size, bool writable, uint frameGeneration, int vcpu, long mapTimeNs)
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

    /// <summary>The mapping's number in its run, from 1, in registration order: a violation names it.</summary>
    public long Serial { get; }
    public uint Domain { get; }
    public ulong Iova { get; }
    public ulong Gpa { get; }
    public PageSize Size { get; }
    public bool Writable { get; }
    /// <summary>Generation of the data frame when it was mapped (see <see cref="Memory.FrameInfo"/>).</summary>
    public uint FrameGeneration { get; }
    /// <summary>The vCPU whose dma_map registered it.</summary>
    public int Vcpu { get; }
    /// <summary>Registration time, simulated ns.</summary>
    public long MapTimeNs { get; }

    public override string ToString() => $"mapping #{Serial} IOVA 0x{Iova:x} → GPA 0x{Gpa:x} ({Size.Name()}, {(Writable ? "rw" : "r")}) of domain {Domain}";
}

/// <summary>
/// One IOVA → GPA mapping of one domain, from <c>dma_map</c> to its flush: its <see cref="MappingFact"/> and its life,
/// which only the run's ledger of mappings moves (from the event stream). Translations and cache entries carry it
/// (the IOMMU's shadow data), so an access can be judged against the state of the mapping it was made from however
/// long ago; it lives exactly while something can still use it (see <c>Ledger/MappingRegistry.cs</c>).
/// </summary>
public sealed class MappingRecord : MappingFact
{
    private int _state;
    private bool _queued;

    public MappingRecord(long serial, uint domain, ulong iova, ulong gpa, PageSize size, bool writable, uint frameGeneration, int vcpu, long mapTimeNs)
        : base(serial, domain, iova, gpa, size, writable, frameGeneration, vcpu, mapTimeNs)
    {
    }

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
}
