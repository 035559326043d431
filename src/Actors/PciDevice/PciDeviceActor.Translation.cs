using HvIommu.Actors.Metrics;
using HvIommu.Actors.Tracing;
using HvIommu.Model.Device;
using HvIommu.Model.Iommu;
using HvIommu.Model.Translation;
using HvIommu.Model.Metrics;

namespace HvIommu.Actors.PciDevice;

/// <summary>The device's translations (made by its <see cref="DeviceDataPath"/>): counted, costed and traced.</summary>
internal sealed partial class PciDeviceActor
{
    private DmaTranslation Translate(ulong iova, AccessKind access, bool replay, out DomainView view, out AccessContext ctx)
    {
        var t = _path.Translate(iova, access, replay, _engine.Step, out view, out ctx, out var latencyNs);
        var outcome = _path.Outcome(t.Source);
        if ((outcome & CacheOutcome.AtcHit) != 0)
            _tally.Add(SimCounter.AtcHits);
        if ((outcome & CacheOutcome.IotlbHit) != 0)
            _tally.Add(SimCounter.IotlbHits);
        if ((outcome & CacheOutcome.IotlbMiss) != 0)
            _tally.Add(SimCounter.IotlbMisses);
        if ((outcome & CacheOutcome.AtcMiss) != 0)
            _tally.Add(SimCounter.AtcMisses);
        _world.TranslationCost.Record(Math.Max(1, latencyNs));
        return t;
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
