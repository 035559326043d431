using HvIommu.Actors.Hypervisor;
using HvIommu.Actors.PciDevice;
using HvIommu.Actors.Protocol;
using HvIommu.Model.Hypercalls;
using HvIommu.Model.Text;

namespace HvIommu.Actors.Tracing;

/// <summary>
/// A message's name and key fields for the trace (descriptor, domain, flush, transaction ids): a switch over
/// the simulation's protocols, no reflection, so recording stays cheap. Unknown messages are named by type.
/// </summary>
public static class TraceNames
{
    /// <summary>The oracle serials of the mappings an unmap clears, as runs: <c>mappings #17-#20 #25</c> (a large buffer
    /// is one run), so a story can find the unmap of the mapping a violation names.</summary>
    public static string Mappings(IEnumerable<HvIommu.Model.Mappings.MappingRecord> records)
    {
        var serials = records.Select(r => r.Serial).Order().ToList();
        var sb = new System.Text.StringBuilder("mappings");
        for (var i = 0; i < serials.Count;)
        {
            var j = i;
            while (j + 1 < serials.Count && serials[j + 1] == serials[j] + 1)
                j++;
            sb.Append(" #").Append(serials[i]);
            if (j > i)
                sb.Append("-#").Append(serials[j]);
            i = j + 1;
        }
        return sb.ToString();
    }

    public static (string Name, string Detail) Describe(object message) => message switch
    {
        Hypercall h => ($"Hypercall {h.Input.Code}", $"vcpu{h.Vcpu}{DomainOf(h.Input)}"),
        HypercallCompleted c => ($"HypercallCompleted {c.Code}", c.Status.ToString()),
        ExecuteFlush f => ("ExecuteFlush", $"domain {f.Domain}, {(f.Blocks is { } b ? $"{b.Length} blocks" : "whole domain")}"),
        InvalidateAtc i => ("InvalidateAtc", $"flush {i.FlushId}"),
        AtcInvalidationCompleted a => ("AtcInvalidationCompleted", $"flush {a.FlushId}"),
        DrainDma d => ("DrainDma", $"flush {d.FlushId}"),
        DmaDrained d => ("DmaDrained", $"flush {d.FlushId}"),
        ProgramDma p => ("ProgramDma", $"descriptor {p.Descriptor.Id}, IOVA 0x{p.Descriptor.Iova:x}, {Counted.Of(p.Descriptor.Pages, "page")}"),
        DmaCompleted c => ("DmaCompleted", $"descriptor {c.DescriptorId}, {c.Faults} faults"),
        TransferDue t => ("TransferDue", $"transaction {t.TransactionId}"),
        FlushQueueTimerFired f => ("FlushQueueTimerFired", $"domain {f.Domain}"),
        ContinueMap m => ("ContinueMap", $"descriptor {m.DescriptorId}"),
        VcpuIdle v => ("VcpuIdle", $"vcpu{v.Vcpu}"),
        FlushQueueTimersStopped t => ("FlushQueueTimersStopped", $"vcpu{t.Vcpu}"),
        DeviceQuiesced q => ("DeviceQuiesced", q.Device),
        _ => (message.GetType().Name, ""),
    };

    private static string DomainOf(IHypercallInput input) => input switch
    {
        FlushDeviceDomainInput f => $", domain {f.Domain.DomainId.Id}",
        FlushDeviceDomainListInput l => $", domain {l.Domain.DomainId.Id}, {l.IovaList.Length} blocks",
        _ => "",
    };
}
