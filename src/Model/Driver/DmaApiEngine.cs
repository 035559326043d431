using System.Collections.Immutable;
using System.Runtime.InteropServices;
using HvIommu.Model.Device;
using HvIommu.Model.Events;
using HvIommu.Model.Hypercalls;
using HvIommu.Model.Mappings;
using HvIommu.Model.Memory;
using HvIommu.Model.PageTables;
using HvIommu.Model.Randomness;
using HvIommu.Model.Text;
using HvIommu.Model.Time;
using HvIommu.Model.Workload;
using HvIommu.Model.Metrics;

namespace HvIommu.Model.Driver;

/// <summary>
/// The guest's DMA API on one vCPU (brief §5.2–§5.5), as a pure engine: the synthetic workload (dma_map → program a
/// device → completion → dma_unmap, strict or lazy), the flush queues (queue_iova with its flush-and-retry loop,
/// fq_flush_timeout), the H6 stepwise map and the trace workload. Its paths are <see cref="GuestTask"/> coroutines
/// that suspend at each hypercall of <see cref="IGuestPort"/>; the orderings come from <see cref="DmaApi"/>. The
/// vCPU actor calls one entry point per message and owns nothing it decides.
/// </summary>
public sealed partial class DmaApiEngine
{
    private readonly GuestCpu _cpu;
    private readonly DriverWorld _world;
    private readonly IGuestPort _port;
    private readonly IDriverTelemetry _telemetry;
    private readonly SeededRandom _random;
    private readonly LifecycleEngine _lifecycle;
    private readonly Dictionary<long, Operation> _operations = new();
    private IotlbGather _mapGather = new(); // empty between maps (see StartOperation)
    private bool _workloadStarted;
    private bool _idleReported;
    private long _nextDescriptor;

    /// <param name="random">The vCPU's own generator (buffer sizes, device choice).</param>
    /// <param name="lifecycle">The same vCPU's lifecycle engine: the domain switch and the sysfs switch to DMA-FQ run
    /// after an unmap.</param>
    public DmaApiEngine(GuestCpu cpu, SeededRandom random, LifecycleEngine lifecycle)
    {
        _cpu = cpu;
        _world = cpu.World;
        _port = cpu.Port;
        _telemetry = cpu.Telemetry;
        _random = random;
        _lifecycle = lifecycle;
    }

    private string Name => _cpu.Name;

    /// <summary>Synthetic operations between dma_map and their completion's dma_unmap.</summary>
    public int OperationsOutstanding => _operations.Count;

    /// <summary>The workload starts: joins the trace replay if this vCPU replays a traced CPU, and posts the configured
    /// number of operations (or reports idle at once when no device runs the synthetic workload).</summary>
    public void StartWorkload()
    {
        _workloadStarted = true;
        StartTraceWorkload();
        if (!SyntheticWorkload.Runs(_world.Managed, _world.TraceDeviceIndex))
        {
            ReportIdleIfDone(force: true);
            return;
        }
        for (var i = 0; i < _world.Settings.Workload.OutstandingPerVcpu; i++)
            _port.PostStartNextOperation();
    }

    /// <summary>
    /// dma_map for a buffer: IOVA allocation and PTE writes (iommu_map: each physically contiguous piece split by
    /// iommu_pgsize into the largest leaves alignment, length and the page-size bitmap allow). No hypercall, unless a
    /// large leaf replaced an emptied table (H19). Ends the workload (idle) when the budget is spent.
    /// </summary>
    public GuestTask StartOperation()
    {
        if (!_world.Budget.TryTake())
        {
            ReportIdleIfDone(force: false);
            return GuestTask.Done;
        }
        var w = _world.Settings.Workload;
        var deviceIndex = SyntheticWorkload.PickDevice(_random, _world.Managed, _world.TraceDeviceIndex);
        var domain = _world.DomainOfDevice[deviceIndex];
        var t0 = _world.Clock.NowNs;
        var pages = SyntheticWorkload.BufferPages(w.BufferPages, w.BufferSizes, _random);
        var segments = AllocateBuffer(pages, hugePages: w.BufferPages == 0);
        var iova = domain.Iova.DmaAllocIova((ulong)pages, _world.DmaLimit, ref _world.Pci32BitWorkaround[deviceIndex], _cpu.Index, t0);
        if (iova == 0)
            throw new InvalidOperationException($"IOVA space of domain {domain.Name} exhausted");
        _world.LiveIovas[(domain.Id, iova >> GuestMemory.PageShift)] = 0;
        // One leaf per piece unless a piece splits (a huge page at an IOVA it is not aligned to).
        var leaves = new List<MapPiece>(segments.Length);
        var offset = 0UL;
        foreach (var (gpa, bytes) in segments)
        {
            PageSizePicker.Split(iova + offset, gpa, bytes, _world.Settings.Iommu.PageSizeBitmap, leaves);
            offset += bytes;
        }
        if (_world.Settings.Driver.Hazards.RacyTableInstall)
        {
            // H6: the map runs level by level, preemptible between levels (DmaApiEngine.StepwiseMap.cs).
            return BeginStepwiseMap(new MapInProgress(++_nextDescriptor, deviceIndex, domain, iova, pages, segments, leaves, t0, new IotlbGather()));
        }
        // The map's leaves are written now, into the engine's empty gather: most maps replace no table and leave it
        // empty for the next; one that did keeps it until its flush and the engine takes a new one.
        if (!_mapGather.IsEmpty || _mapGather.FreeList.Count > 0)
            _mapGather = new IotlbGather(); // a map that threw midway left it behind
        var map = new MapInProgress(++_nextDescriptor, deviceIndex, domain, iova, pages, segments, leaves, t0, _mapGather);
        for (var i = 0; i < leaves.Count; i++)
        {
            var record = RegisterLeaf(map, i);
            CheckMapped(map, i, map.Domain.Table!.Map(record.Iova, record.Gpa, record.Size, writable: true, map.Gather));
            _world.Events.On(SimEvent.MappingWritten(record, Name, _world.Clock.NowNs));
            map.AddRecord(record);
        }
        if (!_mapGather.IsEmpty || _mapGather.FreeList.Count > 0)
            _mapGather = new IotlbGather();
        return FinishMapAsync(map);
    }

    /// <summary>The buffer's physically contiguous pieces (GPA, bytes), in the order its frames were allocated: with
    /// <paramref name="hugePages"/>, 1 GiB and 2 MiB pages of the hugetlb pools for as much as they cover, 4 KiB frames
    /// for the rest. Its frames are the pieces' 4 KiB frames in that order (<see cref="FreeBuffer"/>).</summary>
    private (ulong Gpa, ulong Bytes)[] AllocateBuffer(int pages, bool hugePages)
    {
        var (oneG, twoM, small) = hugePages ? BufferBacking.Split(pages) : (0, 0, pages);
        var segments = new (ulong Gpa, ulong Bytes)[oneG + twoM + small];
        var n = 0;
        AllocateHuge(PageSize.Size1G, oneG);
        AllocateHuge(PageSize.Size2M, twoM);
        for (var i = 0; i < small; i++)
        {
            if (!_world.Frames.TryAllocate(FrameOwner.DmaBuffer, _cpu.Index, out var gpa))
                throw new GuestMemoryExhaustedException(_world.Frames.FrameCount);
            segments[n++] = (gpa, 1UL << GuestMemory.PageShift);
        }
        return segments;

        void AllocateHuge(PageSize size, int count)
        {
            for (var i = 0; i < count; i++)
            {
                if (!_world.Frames.TryAllocateHuge(size.Bytes(), FrameOwner.DmaBuffer, _cpu.Index, out var gpa))
                    throw new InvalidOperationException($"the guest's hugetlb pool of {size.Name()} pages is exhausted");
                segments[n++] = (gpa, size.Bytes());
            }
        }
    }

    /// <summary>dma_unmap gives the buffer back: every 4 KiB frame of its pieces, in the order they were allocated.</summary>
    private void FreeBuffer((ulong Gpa, ulong Bytes)[] segments)
    {
        foreach (var (gpa, bytes) in segments)
            _cpu.FreeFrameRun(gpa, (int)((bytes + GuestMemory.PageMask) >> GuestMemory.PageShift), "buffer");
    }

    /// <summary>The oracle learns of the mapping before its leaf is written.</summary>
    private MappingRecord RegisterLeaf(MapInProgress map, int leaf)
    {
        var l = map.Leaves[leaf];
        return _world.Mappings.Register(map.Domain.Id, l.Iova, l.Gpa, l.Size, writable: true, _cpu.Index, map.StartNs);
    }

    private static void CheckMapped(MapInProgress map, int leaf, MapStatus status)
    {
        if (status != MapStatus.Mapped)
            throw new InvalidOperationException($"map of IOVA 0x{map.Leaves[leaf].Iova:x} ({map.Leaves[leaf].Size.Name()}) in domain {map.Domain.Name} failed: {status}");
    }

    /// <summary>
    /// The end of iommu_map: generic_pt's map_pages syncs the IOTLB when a large leaf replaced an emptied table
    /// (clear_contig collected it on the gather) and only then frees the table — a VM exit on the map path (H19).
    /// With <c>driver.hazards.skip-map-flush</c> the table is freed with no flush while the walk caches may still
    /// point at it.
    /// </summary>
    private async GuestTask FinishMapAsync(MapInProgress map)
    {
        if (!map.Gather.IsEmpty)
            _cpu.Count(SimCounter.TablesReplacedByLeaves, map.Gather.FreeList.Count);
        foreach (var step in DmaApi.MapFinishPlan(!map.Gather.IsEmpty, _world.Settings.Driver.Hazards))
        {
            if (step == DmaStep.Sync)
                await IotlbSyncAsync(map.Domain, map.Gather, ExitPath.Map);
            else
                _cpu.FreeFrames(map.Gather.FreeList, "table page");
        }
        ProgramDevice(map);
    }

    /// <summary>dma_map returned: hand the buffer to the device.</summary>
    private void ProgramDevice(MapInProgress map)
    {
        var w = _world.Settings.Workload;
        _cpu.Count(SimCounter.Maps, map.Pages);
        _cpu.Count(SimCounter.MapCalls);
        _telemetry.RecordLatency(DriverLatency.Map, map.StartNs);
        var records = map.MovedRecords();
        // The device addresses the buffer page by page: each 4 KiB page's expected mapping is the leaf holding it
        // (DmaDescriptor.MappingAt), read from the leaves themselves, which cover the buffer in IOVA order.
        var descriptor = new DmaDescriptor(map.Id, map.Iova, map.Pages, w.DmaPerOp, w.DmaBytes, w.WriteFraction, ImmutableArray<MappingFact>.CastUp(records));
        _operations.Add(descriptor.Id, new Operation(descriptor, map.Domain, map.Segments, records));
        _port.ProgramDma(map.DeviceIndex, descriptor);
    }

    /// <summary>The completion interrupt of descriptor <paramref name="descriptorId"/>: dma_unmap the buffer (brief
    /// §5.2), then start the next operation (a trace descriptor goes back to the replay).</summary>
    public async GuestTask CompleteAsync(long descriptorId)
    {
        if (TraceDmaCompleted(descriptorId) || !_operations.Remove(descriptorId, out var op))
            return;
        var t0 = _world.Clock.NowNs;
        var lazy = op.Domain.Lazy;
        var gather = new IotlbGather();
        foreach (var r in op.Records)
            _world.Events.On(SimEvent.MappingClearing(r, lazy, Name, t0));
        // __iommu_dma_unmap (dma-iommu.c) unmaps the mapped size rounded to the IOVA granule, not the
        // power-of-two range the allocator reserved: the tail of that range was never mapped.
        var bytes = (ulong)op.Descriptor.Pages << GuestMemory.PageShift;
        op.Domain.Table!.Unmap(op.Descriptor.Iova, bytes, gather);
        if (_telemetry.Traces)
            _telemetry.Trace(DriverTraceKind.PteWrite, $"unmap 0x{op.Descriptor.Iova:x}",
                $"{Counted.Of(op.Descriptor.Pages, "page")}, domain {op.Domain.Id}, descriptor {op.Descriptor.Id}{(lazy ? ", lazy" : "")}", op.Records);
        foreach (var r in op.Records)
            _world.Events.On(SimEvent.MappingCleared(r, Name, t0));
        _cpu.Count(SimCounter.Unmaps, op.Descriptor.Pages);
        _cpu.Count(SimCounter.UnmapCalls);
        await PerformUnmapAsync(op, gather, lazy);
        _telemetry.RecordLatency(DriverLatency.Unmap, t0);
        _world.Budget.Complete();
        await _lifecycle.MaybeSwitchDomainAsync();
        _lifecycle.MaybeWriteDmaFqToSysfs();
        _port.PostStartNextOperation();
    }

    /// <summary>
    /// The rest of dma_unmap in the order <see cref="DmaApi.UnmapPlan"/> gives for the domain and the driver hazards:
    /// strict (§5.2 step 3, with H1 / H2 moving frees before the flush) or lazy (§5.3: the buffer goes back at once,
    /// the IOVA and the table pages wait in the flush queue).
    /// </summary>
    private async GuestTask PerformUnmapAsync(Operation op, IotlbGather gather, bool lazy)
    {
        foreach (var step in DmaApi.UnmapPlan(lazy, _world.Settings.Driver.Hazards))
        {
            switch (step)
            {
                case DmaStep.FreeIova:
                    _world.LiveIovas.TryRemove((op.Domain.Id, op.Descriptor.Iova >> GuestMemory.PageShift), out _);
                    op.Domain.Iova.DmaFreeIova(op.Descriptor.Iova, (ulong)op.Descriptor.Pages, _cpu.Index, _world.Clock.NowNs);
                    if (_telemetry.Traces)
                        _telemetry.Trace(DriverTraceKind.Free, $"free IOVA 0x{op.Descriptor.Iova:x}", $"{Counted.Of(op.Descriptor.Pages, "page")}, domain {op.Domain.Id}");
                    break;
                case DmaStep.FreeBuffer:
                    FreeBuffer(op.Segments);
                    break;
                case DmaStep.FreeTables:
                    _cpu.FreeFrames(gather.FreeList, "table page");
                    break;
                case DmaStep.Sync:
                    await IotlbSyncAsync(op.Domain, gather, ExitPath.Unmap);
                    break;
                case DmaStep.Enqueue:
                    await QueueIovaAsync(op.Domain, op.Descriptor.Iova, op.Descriptor.Pages, gather.FreeList.ToArray(), op.Records);
                    break;
            }
        }
    }

    /// <summary>The driver's iotlb_sync (brief §1.7, §1.10): the hypercall <see cref="DmaApi.SyncInput"/> chooses
    /// for the gather (the domain flush, or the list flush of its blocks: H7).</summary>
    private GuestTask IotlbSyncAsync(GuestDomain domain, IotlbGather gather, ExitPath path) =>
        FlushAsync(domain, DmaApi.SyncInput(_world.Settings.Driver, domain.Identity, gather.Start, gather.End, (1UL << _world.IovaWidth) - 1), path);

    /// <summary>One flush hypercall with the driver's failure handling (H8): log only (RFC), or WARN and fall back to a domain flush.</summary>
    private async GuestTask FlushAsync(GuestDomain domain, IHypercallInput input, ExitPath path)
    {
        var t0 = _world.Clock.NowNs;
        var reply = await _cpu.Hypercall(input, path);
        _telemetry.RecordLatency(DriverLatency.Flush, t0);
        if (reply.Status == HvStatus.Success)
            return;
        if (DmaApi.OnFlushFailed(_world.Settings.Driver.OnFlushFailure) == FlushFailureAction.Log)
        {
            _cpu.Log(DriverLogLevel.Error, "{Vcpu}: {Hypercall} of domain {DomainId} failed: {Status}", Name, input.Code.LinuxName(), domain.Id, reply.Status.LinuxName());
            return;
        }
        _cpu.Log(DriverLogLevel.Warning, "{Vcpu}: {Hypercall} of domain {DomainId} failed with {Status}; falling back to a full domain flush", Name, input.Code.LinuxName(), domain.Id, reply.Status.LinuxName());
        var retry = await _cpu.Hypercall(new FlushDeviceDomainInput(domain.Identity), path);
        if (retry.Status != HvStatus.Success)
            _cpu.Log(DriverLogLevel.Error, "{Vcpu}: fallback flush of domain {DomainId} failed too: {Status}", Name, domain.Id, retry.Status.LinuxName());
    }

    /// <summary>
    /// queue_iova (dma-iommu.c, brief §5.3): reap; when the ring is full, flush once inline and reap again; append
    /// — onto a still-full ring only with the H18 knob (Linux as written: the ring wraps and its entries leak),
    /// otherwise flushing again until there is room; arm the timer.
    /// </summary>
    private async GuestTask QueueIovaAsync(GuestDomain domain, ulong iova, int pages, IReadOnlyList<ulong> freeList, object mappings)
    {
        var queue = domain.Queues[_cpu.Index];
        var released = new List<FlushQueueEntry>();
        var pfn = iova >> GuestMemory.PageShift;
        _world.LiveIovas.TryRemove((domain.Id, pfn), out _);
        if (!queue.TryEnqueue(pfn, pages, freeList, mappings, released))
        {
            var overrun = _world.Settings.Driver.Hazards.FlushQueueOverrun;
            do
            {
                Release(domain, released);
                await FlushQueueFlushAsync(domain);
            }
            while (!queue.AddAfterFlush(pfn, pages, freeList, mappings, released, overrun));
        }
        Release(domain, released);
        if (domain.Fq.TryArmTimer() && !ArmTraceFlushQueueTimer(domain))
            _cpu.ArmFlushQueueTimer(domain.Id, JiffiesTimeout.Delay(_world.Clock.NowNs, _world.Settings.Driver.FlushQueueTimeout, _world.Settings.Driver.FlushQueueHz));
    }

    /// <summary>The flush-queue timer of <paramref name="domainId"/> fired (fq_flush_timeout): clear the flag, flush
    /// once, reap every CPU's queue of the domain. A fire after the timers were stopped is dropped.</summary>
    public GuestTask FlushQueueTimerFiredAsync(uint domainId) =>
        _cpu.TimersStopped ? GuestTask.Done : FlushQueueTimeoutAsync(domainId);

    private async GuestTask FlushQueueTimeoutAsync(uint domainId)
    {
        var domain = _world.Domains.FirstOrDefault(d => d.Id == domainId);
        if (domain?.Table is null)
            return;
        domain.Fq.TimerFired();
        await FlushQueueFlushAsync(domain);
        ReapAll(domain);
    }

    /// <summary>fq_flush_iotlb: start++ → flush_iotlb_all (always the domain flush) → finish++. Its exit is an
    /// unmap's: the queue holds only IOVAs that dma_unmap queued.</summary>
    private async GuestTask FlushQueueFlushAsync(GuestDomain domain)
    {
        domain.Fq.FlushStarting();
        await FlushAsync(domain, new FlushDeviceDomainInput(domain.Identity), ExitPath.Unmap);
        domain.Fq.FlushFinished();
    }

    private void ReapAll(GuestDomain domain)
    {
        var released = new List<FlushQueueEntry>();
        foreach (var q in domain.Queues)
            q.Reap(released);
        Release(domain, released);
    }

    /// <summary>fq_ring_free: the entry's table pages and its IOVA go back only now.</summary>
    private void Release(GuestDomain domain, List<FlushQueueEntry> released)
    {
        foreach (var e in released)
        {
            _cpu.FreeFrames(e.FreeList, "table page");
            if (e.Payload is TraceQueuedIova traced)
            {
                ReleaseTraceIova(traced);
                continue;
            }
            // fq_ring_free → free_iova_fast: into the magazines of the CPU that reaps (the timer's CPU reaps them all).
            domain.Iova.FreeIovaFast(e.IovaPfn, (ulong)e.Pages, _cpu.Index, _world.Clock.NowNs);
            if (_telemetry.Traces)
                _telemetry.Trace(DriverTraceKind.Free, $"free IOVA 0x{e.IovaPfn << GuestMemory.PageShift:x}", $"{Counted.Of(e.Pages, "page")}, domain {domain.Id}, from the flush queue");
            if (e.Payload is ImmutableArray<MappingRecord> mappings)
                foreach (var r in mappings)
                    _world.Events.On(SimEvent.MappingReleased(r, Name, _world.Clock.NowNs));
        }
        released.Clear();
    }

    private void ReportIdleIfDone(bool force)
    {
        if (_idleReported || !_workloadStarted || !TraceLaneIdle || (!force && (_operations.Count > 0 || _stepwiseMaps.Count > 0)))
            return;
        _idleReported = true;
        _port.ReportIdle();
    }

    /// <param name="Records">The buffer's leaves, one record each, in IOVA order (the descriptor names them too).</param>
    /// <param name="Segments">The buffer's physically contiguous pieces (GPA, bytes), in allocation order.</param>
    private sealed record Operation(DmaDescriptor Descriptor, GuestDomain Domain, (ulong Gpa, ulong Bytes)[] Segments, ImmutableArray<MappingRecord> Records);

    /// <summary>A dma_map between IOVA allocation and programming the device.</summary>
    private sealed class MapInProgress(long id, int deviceIndex, GuestDomain domain, ulong iova, int pages, (ulong Gpa, ulong Bytes)[] segments, List<MapPiece> leaves, long startNs, IotlbGather gather)
    {
        public long Id { get; } = id;
        public int DeviceIndex { get; } = deviceIndex;
        public GuestDomain Domain { get; } = domain;
        public ulong Iova { get; } = iova;

        /// <summary>The buffer's size in 4 KiB pages (what dma_map was asked for).</summary>
        public int Pages { get; } = pages;
        /// <summary>The buffer's physically contiguous pieces (GPA, bytes), in allocation order.</summary>
        public (ulong Gpa, ulong Bytes)[] Segments { get; } = segments;

        /// <summary>The leaves iommu_map writes, in IOVA order.</summary>
        public List<MapPiece> Leaves { get; } = leaves;
        public long StartNs { get; } = startNs;
        private readonly MappingRecord[] _records = new MappingRecord[leaves.Count];
        private int _recorded;

        /// <summary>The leaf just written (in IOVA order).</summary>
        public void AddRecord(MappingRecord record) => _records[_recorded++] = record;

        /// <summary>Every leaf's record, once all are written.</summary>
        public ImmutableArray<MappingRecord> MovedRecords() =>
            _recorded == _records.Length
                ? ImmutableCollectionsMarshal.AsImmutableArray(_records)
                : throw new InvalidOperationException($"{_recorded} of {_records.Length} leaves written");

        /// <summary>Tables the map's large leaves replaced (generic_pt's clear_contig), freed after the map-path flush.</summary>
        public IotlbGather Gather { get; } = gather;

        /// <summary>Stepwise map only: the leaf being mapped, its record and its map in progress.</summary>
        public int Page { get; set; }
        public MappingRecord? Record { get; set; }
        public MapOperation? Operation { get; set; }
    }
}
