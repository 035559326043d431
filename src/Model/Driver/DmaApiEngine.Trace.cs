using System.Collections.Immutable;
using HvIommu.Model.Device;
using HvIommu.Model.Events;
using HvIommu.Model.Mappings;
using HvIommu.Model.Memory;
using HvIommu.Model.PageTables;
using HvIommu.Model.Text;
using HvIommu.Model.Workload;
using HvIommu.Model.Metrics;

namespace HvIommu.Model.Driver;

/// <summary>
/// The trace workload: this vCPU replays one traced CPU's <c>iommu:map</c>/<c>iommu:unmap</c> events, asking the
/// run's <see cref="TraceReplay"/> for its next one. A map writes the stage-1 leaves iommu_map would write for the
/// traced IOVA range and guest-physical address and programs the traced device to DMA into it; an unmap clears
/// the traced range (possibly several maps) and takes the driver's flush path, strict or lazy (brief §5.2, §5.3).
/// </summary>
public sealed partial class DmaApiEngine
{
    private readonly Dictionary<long, int> _traceDescriptors = new();
    private readonly List<int> _traceLive = new();
    private readonly Dictionary<int, long> _traceLastDmaNs = new();
    private bool _traceActive;
    private bool _traceFinished;
    private long _traceNowNs;

    /// <summary>True unless this vCPU replays a trace it has not finished.</summary>
    private bool TraceLaneIdle => !_traceActive || _traceFinished;

    /// <summary>Called when the workload starts: joins the replay if this vCPU replays a traced CPU.</summary>
    private void StartTraceWorkload()
    {
        if (_world.TraceReplay is not { } replay || !replay.Drives(_cpu.Index))
            return;
        _traceActive = true;
        replay.SetWake(_cpu.Index, _port.PostTraceNext);
        _port.PostTraceNext();
    }

    /// <summary>The vCPU's next trace event (or nothing, while the replay waits for another vCPU's); one event per
    /// call, so other actors interleave between events.</summary>
    public async GuestTask TraceNextAsync()
    {
        var replay = _world.TraceReplay!;
        if (_traceFinished || _world.Budget.Stopped && FinishTrace())
            return;
        var step = replay.Next(_cpu.Index);
        switch (step.Kind)
        {
            case TraceStepKind.Finished:
                FinishTrace();
                return;
            case TraceStepKind.Waiting:
                return;
        }
        var e = replay[step.EventIndex];
        _traceNowNs = e.TimestampNs;
        _world.Costs.VcpuStartsAt(_cpu.Index, (long)((e.TimestampNs - replay.Trace.TimeSpanNs.FirstNs) * _world.Settings.Workload.Trace.TimeScale));
        if (replay.TakeFlushQueueTimeout(e.TimestampNs))
            await FlushQueueTimeoutAsync(_world.DomainOfDevice[_world.TraceDeviceIndex].Id);
        if (e.Kind == IommuEventKind.Map)
            await TraceMapAsync(replay, step.EventIndex, e);
        else
            await TraceUnmapAsync(replay, step.EventIndex);
        PeriodicTraceDma(replay);
        _port.PostTraceNext();
    }

    private bool FinishTrace()
    {
        _traceFinished = true;
        ReportIdleIfDone(force: false);
        return true;
    }

    /// <summary>iommu_map of the traced range: one leaf per iommu_pgsize step, then the device is programmed.</summary>
    private async GuestTask TraceMapAsync(TraceReplay replay, int index, IommuTraceEvent e)
    {
        var t0 = _world.Clock.NowNs;
        var domain = _world.DomainOfDevice[_world.TraceDeviceIndex];
        var iova = replay.PlaceMap(index);
        var gather = new IotlbGather();
        var records = new List<MappingRecord>();
        foreach (var piece in PageSizePicker.Split(iova, e.Paddr, e.Size, _world.Settings.Iommu.PageSizeBitmap))
        {
            var record = _world.Mappings.Register(domain.Id, piece.Iova, piece.Gpa, piece.Size, writable: true, _cpu.Index, t0);
            var status = domain.Table!.Map(piece.Iova, piece.Gpa, piece.Size, writable: true, gather);
            if (status != MapStatus.Mapped)
                throw new InvalidOperationException($"{replay.Trace.File}:{e.Line}: map of IOVA 0x{piece.Iova:x} ({piece.Size.Name()}) in domain {domain.Name} failed: {status}");
            _world.Events.On(SimEvent.MappingWritten(record, Name, _world.Clock.NowNs, e.Line));
            records.Add(record);
        }
        replay.SetPayload(index, records.ToArray());
        // stats.pagesMapped counts 4 KiB pages, as for the synthetic workload; the call is MapCalls.
        _cpu.Count(SimCounter.Maps, records.Sum(r => (long)(r.Size.Bytes() >> GuestMemory.PageShift)));
        _cpu.Count(SimCounter.MapCalls);
        // A large leaf that replaced an emptied lower table leaves that table to free after a flush (H19, H1).
        if (!gather.IsEmpty)
        {
            _cpu.Count(SimCounter.TablesReplacedByLeaves, gather.FreeList.Count);
            if (!_world.Settings.Driver.Hazards.SkipMapFlush)
                await IotlbSyncAsync(domain, gather, ExitPath.Map);
            _cpu.FreeFrames(gather.FreeList, "table page");
        }
        _telemetry.RecordLatency(DriverLatency.Map, t0);
        _traceLive.Add(index);
        ProgramTraceDma(replay, index);
        replay.ReachedTracePoint(index);
        replay.Finished(index);
    }

    /// <summary>The device DMAs into every 4 KiB page of the mapping (trace-dma-per-page transactions each).</summary>
    private void ProgramTraceDma(TraceReplay replay, int index)
    {
        var t = _world.Settings.Workload.Trace;
        var e = replay[index];
        var pages = (int)(e.Size >> GuestMemory.PageShift);
        if (t.DmaPerPage == 0)
            return;
        var records = (MappingRecord[])replay.Payload(index)!;
        var iova = replay.ActualIova(index);
        var perPage = ImmutableArray.CreateBuilder<MappingFact>(pages);
        var r = 0;
        for (var p = 0; p < pages; p++)
        {
            var pageIova = iova + ((ulong)p << GuestMemory.PageShift);
            while (pageIova >= records[r].Iova + records[r].Size.Bytes())
                r++;
            perPage.Add(records[r]);
        }
        var descriptor = new DmaDescriptor(++_nextDescriptor, iova, pages, pages * t.DmaPerPage, t.DmaBytes, _world.Settings.Workload.WriteFraction, perPage.MoveToImmutable());
        _traceDescriptors.Add(descriptor.Id, index);
        _traceLastDmaNs[index] = _traceNowNs;
        replay.DmaProgrammed(index);
        _port.ProgramDma(_world.TraceDeviceIndex, descriptor);
    }

    /// <summary>Long-lived mappings (queues, coherent buffers) get DMA again every trace-periodic-dma of traced time.</summary>
    private void PeriodicTraceDma(TraceReplay replay)
    {
        var period = (long)_world.Settings.Workload.Trace.PeriodicDma.TotalNanoseconds;
        for (var k = _traceLive.Count - 1; k >= 0; k--)
        {
            var map = _traceLive[k];
            if (replay.Ended(map))
            {
                _traceLive.RemoveAt(k);
                _traceLastDmaNs.Remove(map);
                continue;
            }
            if (period > 0 && _traceNowNs - _traceLastDmaNs[map] >= period && replay.MayDmaAgain(map))
                ProgramTraceDma(replay, map);
        }
    }

    /// <summary>A completion of a trace descriptor; false when the descriptor is not the trace's.</summary>
    private bool TraceDmaCompleted(long descriptorId)
    {
        if (!_traceDescriptors.Remove(descriptorId, out var map))
            return false;
        _world.TraceReplay!.DmaCompleted(map);
        return true;
    }

    /// <summary>iommu_unmap of the traced range (every map it covers, each where it was placed), then the flush path.</summary>
    private async GuestTask TraceUnmapAsync(TraceReplay replay, int index)
    {
        var t0 = _world.Clock.NowNs;
        var domain = _world.DomainOfDevice[_world.TraceDeviceIndex];
        var lazy = domain.Lazy;
        var cleared = new List<(UnmapRange Range, IotlbGather Gather, ImmutableArray<MappingRecord> Records)>();
        foreach (var range in replay.UnmapRanges(index))
        {
            var records = range.Maps.SelectMany(m => (MappingRecord[])replay.Payload(m)!)
                .Where(r => r.Iova < range.Iova + range.Bytes && r.Iova + r.Size.Bytes() > range.Iova && r.State == MappingState.Mapped)
                .ToImmutableArray();
            foreach (var r in records)
                _world.Events.On(SimEvent.MappingClearing(r, lazy, Name, t0));
            var gather = new IotlbGather();
            domain.Table!.Unmap(range.Iova, range.Bytes, gather);
            if (_telemetry.Traces)
                _telemetry.Trace(DriverTraceKind.PteWrite, $"unmap 0x{range.Iova:x}",
                    $"{Counted.Of(range.Bytes >> GuestMemory.PageShift, "page")}, domain {domain.Id}, trace line {replay[index].Line}{(lazy ? ", lazy" : "")}", records);
            foreach (var r in records)
                _world.Events.On(SimEvent.MappingCleared(r, Name, t0));
            cleared.Add((range, gather, records));
        }
        // stats.pagesUnmapped counts 4 KiB pages, as for the synthetic workload; the call is UnmapCalls.
        _cpu.Count(SimCounter.Unmaps, cleared.Sum(c => (long)((c.Range.Bytes + GuestMemory.PageMask) >> GuestMemory.PageShift)));
        _cpu.Count(SimCounter.UnmapCalls);
        replay.ReachedTracePoint(index);
        // Nothing of the range was mapped (the map was made before the trace began): strict dma-iommu still calls
        // iotlb_sync, and the empty gather makes it the domain flush.
        if (cleared.Count == 0 && !lazy)
            await IotlbSyncAsync(domain, new IotlbGather(), ExitPath.Unmap);
        // The synthetic workload's plan (DmaApi.UnmapPlan); a traced buffer is the traced kernel's, not ours to free.
        foreach (var (range, gather, records) in cleared)
        {
            foreach (var step in DmaApi.UnmapPlan(lazy, _world.Settings.Driver.Hazards))
            {
                switch (step)
                {
                    case DmaStep.FreeIova:
                        replay.ReleaseIova(range.Iova, range.Bytes);
                        break;
                    case DmaStep.FreeTables:
                        _cpu.FreeFrames(gather.FreeList, "table page");
                        break;
                    case DmaStep.Sync:
                        await IotlbSyncAsync(domain, gather, ExitPath.Unmap);
                        break;
                    case DmaStep.Enqueue:
                        await QueueIovaAsync(domain, range.Iova, (int)(range.Bytes >> GuestMemory.PageShift), gather.FreeList.ToArray(), new TraceQueuedIova(records, range.Iova, range.Bytes));
                        break;
                }
            }
        }
        _telemetry.RecordLatency(DriverLatency.Unmap, t0);
        replay.Finished(index);
    }

    /// <summary>
    /// Lazy mode's flush-queue timer (fq_flush_timeout, 10 ms) of the traced domain runs on the trace's clock: it fires
    /// before the first event traced at or after its due time, so a replay flushes as often as the traced kernel's
    /// timer would have, in stress and deterministic mode alike. False when the domain is not the trace's alone.
    /// </summary>
    private bool ArmTraceFlushQueueTimer(GuestDomain domain)
    {
        if (!_traceActive || _world.TraceReplay is not { } replay || !_world.TraceOwnsDomain || domain != _world.DomainOfDevice[_world.TraceDeviceIndex])
            return false;
        replay.ArmFlushQueueTimer(_traceNowNs + (long)_world.Settings.Driver.FlushQueueTimeout.TotalNanoseconds);
        return true;
    }

    /// <summary>fq_ring_free of a trace unmap: its IOVA range goes back to the replay's IOVA space.</summary>
    private void ReleaseTraceIova(TraceQueuedIova queued)
    {
        _world.TraceReplay!.ReleaseIova(queued.Iova, queued.Bytes);
        foreach (var r in queued.Mappings)
            _world.Events.On(SimEvent.MappingReleased(r, Name, _world.Clock.NowNs));
    }

    /// <summary>A trace unmap waiting in a flush queue: its records and where its IOVA range lies.</summary>
    private sealed record TraceQueuedIova(ImmutableArray<MappingRecord> Mappings, ulong Iova, ulong Bytes);
}
