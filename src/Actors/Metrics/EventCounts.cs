using HvIommu.Model.Events;
using HvIommu.Model.PageTables;
using HvIommu.Model.Metrics;

namespace HvIommu.Actors.Metrics;

/// <summary>The counters' subscription to the run's event stream: every leaf a map writes, by page size
/// (stats.mapping: iommu_pgsize's choices), and every hypercall trapped, by code (stats.hypercalls, stats.vmExits).
/// Allocation-free.</summary>
public sealed class EventCounts(SimCounters counters) : ISimEventSink
{
    public void On(in SimEvent e)
    {
        if (e.Kind == SimEventKind.HypercallTrapped)
        {
            // A guest can trap with any call code (brief §2.1); only the ABI's codes have a counter of their own.
            if (Enum.IsDefined(e.Hypercall))
                counters.AddHypercall(counters.HypercallId((ushort)e.Hypercall));
            else
                counters.Add(SimCounter.VmExits);
            return;
        }
        if (e.Kind != SimEventKind.MappingWritten)
            return;
        counters.Add(e.Mapping!.Size switch
        {
            PageSize.Size1G => SimCounter.Leaves1G,
            PageSize.Size2M => SimCounter.Leaves2M,
            _ => SimCounter.Leaves4K,
        });
    }
}
