using HvIommu.Actors.Metrics;
using HvIommu.Actors.Tracing;
using HvIommu.Model.Device;
using HvIommu.Model.Iommu;
using HvIommu.Model.Translation;

namespace HvIommu.Actors.PciDevice;

/// <summary>The device's translations against the host IOMMU and what they cost.</summary>
internal sealed partial class PciDeviceActor
{
    /// <summary>Translates <paramref name="iova"/> against a context the host did not change meanwhile: redone if an
    /// ATTACH/DETACH moved the device during the walk (<see cref="DeviceSlot.ContextSeq"/>, odd while it is changing),
    /// after waiting out a stage-2 change's hold on DMA.</summary>
    private DmaTranslation TranslateStable(ulong iova, AccessKind access, bool replay, out DomainView view, out AccessContext ctx)
    {
        DmaTranslation t;
        int seq;
        var spin = WaitWhileDmaQuiesced();
        do
        {
            while (((seq = _slot.ContextSeq) & 1) != 0)
                spin.SpinOnce();
            view = _slot.View;
            ctx = AccessFor(view, replay);
            t = _world.Translator.Translate(_slot, iova, access, ctx, view);
        }
        while (_slot.ContextSeq != seq);
        return t;
    }

    /// <summary>
    /// After publishing a translation (<see cref="DeviceSlot.TranslationStarted"/>): waits while the host holds DMA off
    /// for a stage-2 change (<see cref="HostIommu.TryQuiesceDma"/>), so the translation reads the new stage-2 entry.
    /// Only a concurrent (stress) run can see the hold: the host takes and releases it within one message.
    /// </summary>
    private SpinWait WaitWhileDmaQuiesced()
    {
        var spin = new SpinWait();
        while (_world.Host.DmaQuiesced)
            spin.SpinOnce();
        return spin;
    }

    private void Account(in DmaTranslation t)
    {
        CountSource(t.Source);
        ChargeTranslation(t);
    }

    private void CountSource(TranslationSource source)
    {
        switch (source)
        {
            case TranslationSource.Atc:
                _tally.Add(SimCounter.AtcHits);
                break;
            case TranslationSource.Iotlb:
                _tally.Add(SimCounter.IotlbHits);
                if (_slot.Atc is not null)
                    _tally.Add(SimCounter.AtcMisses);
                break;
            case TranslationSource.Walk:
                _tally.Add(SimCounter.IotlbMisses);
                if (_slot.Atc is not null)
                    _tally.Add(SimCounter.AtcMisses);
                break;
        }
    }

    /// <summary>The cost model's DMA translation latency: an ATC hit is the device's own (0); an IOTLB hit its
    /// lookup; a walk the missed lookup plus every memory reference of the nested walk.</summary>
    private void ChargeTranslation(in DmaTranslation t)
    {
        var latency = _world.Settings.Hypervisor.Latency;
        long ns;
        switch (t.Source)
        {
            case TranslationSource.Iotlb:
                _iotlbHits++;
                ns = latency.IotlbHitNs;
                break;
            case TranslationSource.Walk:
                _walkReferences += t.WalkReferences;
                ns = latency.IotlbHitNs + t.WalkReferences * latency.WalkReferenceNs;
                break;
            default:
                ns = 0;
                break;
        }
        _modelledNs += ns;
        _world.TranslationCost.Record(Math.Max(1, ns));
    }

    /// <summary>The translate step, and the cache fills it made: a walk fills the IOTLB, a miss in the ATC fills it.</summary>
    private void TraceTranslation(SimTrace trace, DmaTransaction tx, DmaTranslation t, DomainView view)
    {
        var what = t.Ok ? $"GPA 0x{t.Gpa:x} via {t.Source}" : $"fault {t.Fault} ({t.Source})";
        trace.Event(TraceEventKind.DmaTranslate, Actor, $"translate 0x{tx.Iova:x}",
            $"{what}, domain {view.DomainId}{(t.Mapping is { } m ? $", mapping #{m.Serial}" : "")}{(tx.Replay ? ", replayed descriptor" : "")}");
        if (!t.Ok)
            return;
        if (t.Source == TranslationSource.Walk)
            trace.Event(TraceEventKind.CacheFill, Actor, $"IOTLB fill 0x{tx.Iova:x}", $"GPA 0x{t.Gpa:x}, domain {t.Domain}");
        if (_slot.Atc is not null && t.Source is TranslationSource.Walk or TranslationSource.Iotlb)
            trace.Event(TraceEventKind.CacheFill, Actor, $"ATC fill 0x{tx.Iova:x}", $"GPA 0x{t.Gpa:x}, domain {t.Domain}");
    }
}
