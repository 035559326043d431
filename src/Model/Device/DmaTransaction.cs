using System.Collections.Immutable;
using HvIommu.Model.Hypercalls;
using HvIommu.Model.Iommu;
using HvIommu.Model.Mappings;
using HvIommu.Model.PageTables;
using HvIommu.Model.Translation;

namespace HvIommu.Model.Device;

/// <summary>
/// A DMA descriptor the driver wrote to the device: <paramref name="Transactions"/> transfers of <paramref name="Bytes"/>
/// bytes each over the buffer at <paramref name="Iova"/> (<paramref name="Pages"/> pages of 4 KiB), a fraction
/// <paramref name="WriteFraction"/> of them writes. <paramref name="Mappings"/> are the facts of the buffer's mappings
/// (serial, domain, IOVA → GPA, size): a fault on one the run's ledger still holds live is a lost mapping. Either one per
/// 4 KiB page, or the leaves that map the buffer in IOVA order, each covering its size (a 2 MiB buffer on a huge page is
/// one 2 MiB leaf, not 512 copies of it); <see cref="MappingAt"/> reads both. Id −1 is the device's own (a prod's replays).
/// </summary>
public sealed record DmaDescriptor(long Id, ulong Iova, int Pages, int Transactions, int Bytes, double WriteFraction, ImmutableArray<MappingFact> Mappings)
{
    /// <summary>The mapping that holds 4 KiB page <paramref name="page"/> of the buffer (0 ≤ page &lt; <see cref="Pages"/>).</summary>
    /// <exception cref="IndexOutOfRangeException">No mapping covers the page.</exception>
    public MappingFact MappingAt(int page)
    {
        if (Mappings.Length == Pages)
            return Mappings[page];
        var i = 0;
        for (var left = (ulong)page; ; i++)
        {
            var pages = Mappings[i].Size.Bytes() >> 12;
            if (left < pages)
                return Mappings[i];
            left -= pages;
        }
    }
}

/// <summary>What a stale-replay device hands its replay engine to time (deterministic schedule version 3).</summary>
public enum ReplayKind
{
    /// <summary>A completed descriptor re-issued: its write enters the device's queue.</summary>
    Replay,

    /// <summary>The data phase of a translated replayed write.</summary>
    Transfer,

    /// <summary>An ATS translation request for a recently used page, with no data (PCIe ATS lets a device ask for
    /// translations ahead of use; after an invalidation it asks again for its working set).</summary>
    Prefetch,
}

/// <summary>
/// One DMA transaction of a device: an access of <see cref="Bytes"/> at <see cref="Iova"/>. The port records its
/// translation (<see cref="Translation"/>, <see cref="View"/>) in the translate step; the engine numbers it
/// (<see cref="Id"/>, from 1) once translated.
/// <para>The device's <see cref="DmaEngine{TReply}"/> owns it and reuses it for a later transaction once it is done (its
/// data phase moved, or its translation faulted): a port must not keep it past the call it was handed in. What the
/// oracle judges is copied out of it (the translation, the mapping fact), never the transaction itself.</para>
/// </summary>
public sealed class DmaTransaction
{
    internal DmaTransaction(object? state, ulong iova, AccessKind access, bool replay, MappingFact? mapping, int bytes) =>
        Reset(state, iova, access, replay, mapping, bytes);

    /// <summary>Every field as a new transaction's (the engine's pool hands it out again).</summary>
    internal void Reset(object? state, ulong iova, AccessKind access, bool replay, MappingFact? mapping, int bytes)
    {
        State = state;
        Iova = iova;
        Access = access;
        Replay = replay;
        Mapping = mapping;
        Bytes = bytes;
        Id = 0;
        DueStep = 0;
        ReleaseStep = 0;
        Translation = default;
        View = null;
        IssuedNs = 0;
    }

    /// <summary>The descriptor it belongs to (null for a replayed page, which completes nothing).</summary>
    internal object? State { get; private set; }

    public ulong Iova { get; private set; }
    public AccessKind Access { get; private set; }

    /// <summary>A replayed descriptor's write: its fault is not judged (the page may be unmapped by now).</summary>
    public bool Replay { get; private set; }

    /// <summary>The mapping the descriptor was built for at this page (what a fault is judged against).</summary>
    public MappingFact? Mapping { get; private set; }

    /// <summary>Bytes moved (the descriptor's transfer size; 64 for a replayed write).</summary>
    public int Bytes { get; private set; }

    /// <summary>Its number among the device's translated transactions (0 until translated).</summary>
    public long Id { get; internal set; }

    internal long DueStep { get; set; }
    internal long ReleaseStep { get; set; }

    /// <summary>The port's record of the translation made at issue (what the data phase uses).</summary>
    public DmaTranslation Translation { get; set; }

    /// <summary>The domain the device was in when translated: its data phase is judged against it (H9).</summary>
    public DomainView? View { get; set; }

    /// <summary>The clock at issue for a latency sample (0: not sampled); the port's.</summary>
    public long IssuedNs { get; set; }
}

/// <summary>
/// What a <see cref="DmaEngine{TReply}"/> asks its owner to perform, called in the order the engine decides. The
/// translation, the data phase and the accounting around them (caches, oracle, trace, costs) are the owner's; the
/// engine keeps <see cref="DeviceSlot.InFlight"/> itself.
/// </summary>
public interface IDmaPort<TReply>
{
    /// <summary>The translation phase of <paramref name="tx"/> now (record <see cref="DmaTransaction.Translation"/> and
    /// <see cref="DmaTransaction.View"/>); on a fault judge it unless it is a replay. True when translated.</summary>
    bool Translate(DmaTransaction tx);

    /// <summary><paramref name="tx"/> was translated and numbered and is now in flight.</summary>
    void Issued(DmaTransaction tx);

    /// <summary>Deliver <see cref="DmaEngine{TReply}.TransferDue"/>(<paramref name="transactionId"/>) in a later step.</summary>
    void TransferDue(long transactionId);

    /// <summary>The data phase of <paramref name="tx"/>: judge the access and move the data.</summary>
    void Transfer(DmaTransaction tx);

    /// <summary>An ATS translation request for <paramref name="iova"/> with no data phase (ATC fill; its fault is not judged).</summary>
    void Prefetch(ulong iova);

    /// <summary>The ATC dropped <paramref name="blocks"/> (all, when null) for flush <paramref name="flushId"/>.</summary>
    void AtcInvalidated(long flushId, ImmutableArray<FlushVa>? blocks);

    /// <summary>Hand <paramref name="ticket"/> to the replay engine; it comes back as <see cref="DmaEngine{TReply}.ReplayNow"/>
    /// (or <see cref="DmaEngine{TReply}.TransferDue"/> for <see cref="ReplayKind.Transfer"/>) when the engine runs.</summary>
    void ReplayLater(long ticket, ReplayKind kind);

    /// <summary>Descriptor <paramref name="descriptorId"/> is done (its completion interrupt) with <paramref name="faults"/> failed transfers.</summary>
    void Completed(TReply replyTo, long descriptorId, int faults);

    /// <summary>The drain (<paramref name="drain"/>) or ATS invalidation of flush <paramref name="flushId"/> is complete.</summary>
    void Answered(TReply replyTo, long flushId, bool drain);

    /// <summary>The removed device will never answer this drain or invalidation.</summary>
    void Unanswered(TReply replyTo, long flushId, bool drain);

    /// <summary>Nothing is pending or in flight any more after a quiesce request.</summary>
    void Quiesced(TReply replyTo);

    /// <summary>The device left the bus (surprise removal) with <paramref name="aborted"/> transactions outstanding.</summary>
    void Removed(int aborted);
}
