using HvIommu.Model.Events;
using HvIommu.Model.PageTables;

namespace HvIommu.Model.Driver;

/// <summary>
/// The map path with <c>racy-table-install</c> (hazard H6, brief §3.1): generic_pt's map_pages is lock-free
/// and preemptible, so each page's map runs as its <see cref="MapOperation"/> steps, one level per call, with a
/// preemption point (<see cref="IGuestPort.PostContinueMap"/>) in between. Other vCPUs' maps (and this vCPU's other
/// outstanding maps) run in those gaps, so two of them can read the same empty slot before either stores its table.
/// The correct driver keeps the single-call <see cref="StageOnePageTable.Map(ulong, ulong, PageSize, bool)"/>.
/// </summary>
public sealed partial class DmaApiEngine
{
    private readonly Dictionary<long, MapInProgress> _stepwiseMaps = new();

    private GuestTask BeginStepwiseMap(MapInProgress map)
    {
        _stepwiseMaps.Add(map.Id, map);
        return StepMap(map);
    }

    /// <summary>The next level of stepwise map <paramref name="descriptorId"/> (H6); the map's end (its map-path flush,
    /// then programming the device) runs in the returned task.</summary>
    public GuestTask ContinueMap(long descriptorId) =>
        _stepwiseMaps.TryGetValue(descriptorId, out var map) ? StepMap(map) : GuestTask.Done;

    /// <summary>One level of one leaf's map, then a preemption point; finishes the map after the last leaf.</summary>
    private GuestTask StepMap(MapInProgress map)
    {
        if (map.Operation is null)
        {
            map.Record = RegisterLeaf(map, map.Page);
            map.Operation = map.Domain.Table!.BeginMap(map.Record.Iova, map.Record.Gpa, map.Record.Size, writable: true, map.Gather);
        }
        if (map.Operation.Step())
        {
            CheckMapped(map, map.Page, map.Operation.Status);
            _world.Events.On(SimEvent.MappingWritten(map.Record!, Name, _world.Clock.NowNs));
            map.AddRecord(map.Record!);
            map.Operation = null;
            map.Record = null;
            if (++map.Page == map.Leaves.Count)
            {
                _stepwiseMaps.Remove(map.Id);
                return FinishMapAsync(map);
            }
        }
        _port.PostContinueMap(map.Id);
        return GuestTask.Done;
    }
}
