using HvIommu.Model.Events;
using HvIommu.Model.PageTables;

namespace HvIommu.Actors.Metrics;

/// <summary>The counters' subscription to the run's event stream: every leaf a map writes, by page size
/// (stats.mapping: iommu_pgsize's choices). Allocation-free.</summary>
public sealed class LeafCounts(SimCounters counters) : ISimEventSink
{
    public void On(in SimEvent e)
    {
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
