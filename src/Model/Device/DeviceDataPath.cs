using HvIommu.Model.Iommu;
using HvIommu.Model.Memory;
using HvIommu.Model.Settings;
using HvIommu.Model.Translation;

namespace HvIommu.Model.Device;

/// <summary>Which caches a device's translation hit or missed (brief §4: ATC, then IOTLB, then a nested walk).</summary>
[Flags]
public enum CacheOutcome : byte
{
    None = 0,
    AtcHit = 1,
    AtcMiss = 2,
    IotlbHit = 4,
    IotlbMiss = 8,
}

/// <summary>
/// One device's path to guest memory through the host IOMMU (brief §4): translations made against a device context
/// the host did not change meanwhile, their modelled cost (brief §7), and the data phase that moves the bytes. Pure
/// model, used by the device's actor for <see cref="IDmaPort{TReply}.Translate"/>, <see cref="IDmaPort{TReply}.Prefetch"/>
/// and <see cref="IDmaPort{TReply}.Transfer"/>. Not thread-safe: one device's transactions run one at a time; the
/// host, the caches and guest memory it reaches are shared and thread-safe.
/// </summary>
public sealed class DeviceDataPath(IommuTranslator translator, HostIommu host, GuestMemory memory, FrameAllocator frames, DeviceSlot slot, LatencySettings latency)
{
    private readonly byte[] _buffer = CreateBuffer();

    /// <summary>Modelled device time so far, in simulated ns: translation latencies and data transfers.</summary>
    public long ModelledNs { get; private set; }

    /// <summary>Data phases performed (suppressed writes included: the transfer happened on the bus).</summary>
    public long Transfers { get; private set; }

    /// <summary>Translations served by the IOTLB.</summary>
    public long IotlbHits { get; private set; }

    /// <summary>Memory references of every nested walk so far.</summary>
    public long WalkReferences { get; private set; }

    /// <summary>The access context of a translation through <paramref name="view"/>: who accesses, in which domain,
    /// at engine step <paramref name="step"/>; the time is left 0 (the oracle reads the clock only to report).</summary>
    public AccessContext ContextFor(DomainView view, bool replay, long step) =>
        new(slot.Name, "", view.DomainId, view.Blocked, replay, step, 0, view.AttachedNowhere);

    /// <summary>Translates <paramref name="iova"/> against a context the host did not change meanwhile: redone if an
    /// ATTACH/DETACH moved the device during the walk (<see cref="DeviceSlot.ContextSeq"/>, odd while it is changing),
    /// after waiting out a stage-2 change's hold on DMA (<see cref="HostIommu.TryQuiesceDma"/>; only a concurrent run
    /// can see the hold: the host takes and releases it within one message). Charges the translation's latency;
    /// <paramref name="latencyNs"/> is it (an ATC hit is the device's own, 0; an IOTLB hit its lookup; a walk the
    /// missed lookup plus every memory reference of the nested walk).</summary>
    public DmaTranslation Translate(ulong iova, AccessKind access, bool replay, long step, out DomainView view, out AccessContext ctx, out long latencyNs)
    {
        DmaTranslation t;
        int seq;
        var spin = new SpinWait();
        while (host.DmaQuiesced)
            spin.SpinOnce();
        do
        {
            while (((seq = slot.ContextSeq) & 1) != 0)
                spin.SpinOnce();
            view = slot.View;
            ctx = ContextFor(view, replay, step);
            t = translator.Translate(slot, iova, access, ctx, view);
        }
        while (slot.ContextSeq != seq);
        latencyNs = Charge(t);
        return t;
    }

    /// <summary>The caches <paramref name="source"/> hit or missed, for a device with or without an ATC.</summary>
    public CacheOutcome Outcome(TranslationSource source) => source switch
    {
        TranslationSource.Atc => CacheOutcome.AtcHit,
        TranslationSource.Iotlb => CacheOutcome.IotlbHit | (slot.Atc is null ? 0 : CacheOutcome.AtcMiss),
        TranslationSource.Walk => CacheOutcome.IotlbMiss | (slot.Atc is null ? 0 : CacheOutcome.AtcMiss),
        _ => CacheOutcome.None,
    };

    private long Charge(in DmaTranslation t)
    {
        long ns;
        switch (t.Source)
        {
            case TranslationSource.Iotlb:
                IotlbHits++;
                ns = latency.IotlbHitNs;
                break;
            case TranslationSource.Walk:
                WalkReferences += t.WalkReferences;
                ns = latency.IotlbHitNs + t.WalkReferences * latency.WalkReferenceNs;
                break;
            default:
                ns = 0;
                break;
        }
        ModelledNs += ns;
        return ns;
    }

    /// <summary>
    /// The data phase of <paramref name="tx"/> (translated earlier, in <paramref name="ctx"/>): moves up to its
    /// bytes within the 4 KiB page its translation reaches, unless the write is left out
    /// (<see cref="LazyWindowWrite"/>: <paramref name="suppressed"/>) or the HPA backs no guest frame any more.
    /// Returns the bytes moved, or −1 when nothing was.
    /// </summary>
    public int Transfer(DmaTransaction tx, in AccessContext ctx, out bool suppressed)
    {
        suppressed = tx.Access == AccessKind.Write && LazyWindowWrite.IsSuppressed(tx.Translation, ctx, host.Stage2, frames);
        ModelledNs += latency.DmaTransferNs;
        Transfers++;
        if (suppressed || !host.Stage2.TryReverse(tx.Translation.Hpa, out var gpa))
            return -1;
        var length = (int)Math.Min((ulong)tx.Bytes, 4096 - (gpa & 0xFFF));
        if (tx.Access == AccessKind.Write)
            memory.Write(gpa, _buffer.AsSpan(0, length));
        else
            memory.Read(gpa, _buffer.AsSpan(0, length));
        return length;
    }

    private static byte[] CreateBuffer()
    {
        var buffer = new byte[4096];
        Array.Fill(buffer, (byte)0xA5);
        return buffer;
    }
}
