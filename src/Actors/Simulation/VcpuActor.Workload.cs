using System.Collections.Immutable;
using Akka.Actor;
using Akka.Event;
using HvIommu.Actors.Metrics;
using HvIommu.Model.Driver;
using HvIommu.Model.Hypercalls;
using HvIommu.Model.Memory;
using HvIommu.Model.Oracle;
using HvIommu.Model.PageTables;
using HvIommu.Model.Settings;

namespace HvIommu.Actors.Simulation;

/// <summary>The workload: dma_map → program → completion → dma_unmap (strict or lazy), brief §5.2–§5.5.</summary>
internal sealed partial class VcpuActor
{
    private readonly Dictionary<long, Operation> _operations = new();
    private IActorRef _supervisor = ActorRefs.Nobody;
    private bool _workloadStarted;
    private bool _idleReported;
    private long _nextDescriptor;

    private void StartWorkload(StartWorkload m)
    {
        _tally.Message();
        _supervisor = m.ReplyTo;
        _workloadStarted = true;
        if (!_world.Managed.Contains(true))
        {
            ReportIdleIfDone(force: true);
            return;
        }
        for (var i = 0; i < _world.Settings.Workload.OutstandingPerVcpu; i++)
            Self.Tell(StartNextOperation.Instance);
    }

    /// <summary>dma_map_page for a buffer: IOVA allocation and PTE writes only — no hypercall (brief §1.7).</summary>
    private void StartOperation()
    {
        if (!_world.Budget.TryTake())
        {
            ReportIdleIfDone(force: false);
            return;
        }
        var w = _world.Settings.Workload;
        var deviceIndex = PickDevice();
        var domain = _world.DomainOfDevice[deviceIndex];
        var table = domain.Table!;
        var t0 = _world.Clock.NowNs;
        var frames = new ulong[w.BufferPages];
        for (var i = 0; i < frames.Length; i++)
        {
            if (!_world.Frames.TryAllocate(FrameOwner.DmaBuffer, _index, out frames[i]))
                throw new GuestMemoryExhaustedException(_world.Frames.FrameCount);
        }
        if (!domain.Iova.TryAllocate(w.BufferPages, out var iova))
            throw new InvalidOperationException($"IOVA space of domain {domain.Name} exhausted");
        var records = ImmutableArray.CreateBuilder<MappingRecord>(frames.Length);
        for (var i = 0; i < frames.Length; i++)
        {
            var pageIova = iova + ((ulong)i << GuestMemory.PageShift);
            var record = _world.Oracle.Register(domain.Id, pageIova, frames[i], PageSize.Size4K, writable: true, _index, _world.Clock.NowNs);
            var status = table.Map(pageIova, frames[i], PageSize.Size4K, writable: true);
            if (status != MapStatus.Mapped)
                throw new InvalidOperationException($"map of IOVA 0x{pageIova:x} in domain {domain.Name} failed: {status}");
            _world.Oracle.Mapped(record);
            records.Add(record);
        }
        _world.Counters.Add(SimCounter.Maps, frames.Length);
        _world.MapLatency.Record(Math.Max(1, _world.Clock.NowNs - t0));
        var descriptor = new DmaDescriptor(++_nextDescriptor, iova, w.BufferPages, w.DmaPerOp, w.DmaBytes, w.WriteFraction, records.MoveToImmutable());
        _operations.Add(descriptor.Id, new Operation(descriptor, domain, frames));
        _devices[deviceIndex].Tell(new ProgramDma(descriptor, Self));
    }

    /// <summary>The completion interrupt: dma_unmap the buffer (brief §5.2), then start the next operation.</summary>
    private async Task CompleteOperationAsync(DmaCompleted m)
    {
        if (!_operations.Remove(m.DescriptorId, out var op))
            return;
        var t0 = _world.Clock.NowNs;
        var lazy = _world.Settings.Driver.DmaMode == DmaMode.Lazy;
        var gather = new IotlbGather();
        foreach (var r in op.Descriptor.Mappings)
            _world.Oracle.UnmapStarting(r, t0, queued: lazy);
        var bytes = IovaAllocator.RangeBytes(op.Descriptor.Pages);
        op.Domain.Table!.Unmap(op.Descriptor.Iova, bytes, gather);
        foreach (var r in op.Descriptor.Mappings)
            _world.Oracle.UnmapDone(r, _world.Clock.NowNs);
        _world.Counters.Add(SimCounter.Unmaps, op.Descriptor.Pages);
        if (lazy)
        {
            // §5.2 step 5: the buffer goes back to its owner as soon as dma_unmap returns; the IOVA and the
            // table pages wait in the flush queue.
            FreeFrames(op.Frames);
            await QueueIovaAsync(op.Domain, op.Descriptor.Iova, op.Descriptor.Pages, gather.FreeList.ToArray());
        }
        else
        {
            // §5.2 step 3: flush, then free the table pages, then the IOVA; the caller then frees the buffer.
            await IotlbSyncAsync(op.Domain, gather);
            FreeFrames(gather.FreeList);
            op.Domain.Iova.Free(op.Descriptor.Iova, op.Descriptor.Pages);
            FreeFrames(op.Frames);
        }
        _world.UnmapLatency.Record(Math.Max(1, _world.Clock.NowNs - t0));
        _world.Budget.Complete();
        await MaybeSwitchDomainAsync();
        Self.Tell(StartNextOperation.Instance);
    }

    /// <summary>The driver's iotlb_sync (brief §1.7, §1.10): the domain flush, or the list flush of the gather's range.</summary>
    private async Task IotlbSyncAsync(GuestDomain domain, IotlbGather gather)
    {
        IHypercallInput input = _world.Settings.Driver.Flush == FlushKind.List && !gather.IsEmpty
            ? new FlushDeviceDomainListInput(domain.Identity, FlushDeviceDomainListFlags.None, [FlushVa.FromRange(gather.Start, gather.End)])
            : new FlushDeviceDomainInput(domain.Identity);
        await FlushAsync(domain, input);
    }

    /// <summary>One flush hypercall with the driver's failure handling (H8): log only (RFC), or WARN and fall back to a domain flush.</summary>
    private async Task FlushAsync(GuestDomain domain, IHypercallInput input)
    {
        var t0 = _world.Clock.NowNs;
        var reply = await HypercallAsync(input);
        _world.FlushLatency.Record(Math.Max(1, _world.Clock.NowNs - t0));
        if (reply.Status == HvStatus.Success)
            return;
        if (_world.Settings.Driver.OnFlushFailure == FlushFailurePolicy.Log)
        {
            _log.Error("{Vcpu}: {Hypercall} of domain {DomainId} failed: {Status}", Name, input.Code.LinuxName(), domain.Id, reply.Status.LinuxName());
            return;
        }
        _log.Warning("{Vcpu}: {Hypercall} of domain {DomainId} failed with {Status}; falling back to a full domain flush", Name, input.Code.LinuxName(), domain.Id, reply.Status.LinuxName());
        var retry = await HypercallAsync(new FlushDeviceDomainInput(domain.Identity));
        if (retry.Status != HvStatus.Success)
            _log.Error("{Vcpu}: fallback flush of domain {DomainId} failed too: {Status}", Name, domain.Id, retry.Status.LinuxName());
    }

    /// <summary>queue_iova (brief §5.3): reap, flush inline while full, append, arm the timer.</summary>
    private async Task QueueIovaAsync(GuestDomain domain, ulong iova, int pages, IReadOnlyList<ulong> freeList)
    {
        var queue = domain.Queues[_index];
        var released = new List<FlushQueueEntry>();
        while (!queue.TryEnqueue(iova >> GuestMemory.PageShift, pages, freeList, null, released))
        {
            Release(domain, released);
            await FlushQueueFlushAsync(domain);
        }
        Release(domain, released);
        if (domain.Fq.TryArmTimer())
            Timers.StartSingleTimer(("fq", domain.Id), new FlushQueueTimerFired(domain.Id), _world.Settings.Driver.FlushQueueTimeout);
    }

    /// <summary>fq_flush_timeout: clear the flag, flush once, reap every CPU's queue of the domain.</summary>
    private async Task FlushQueueTimeoutAsync(FlushQueueTimerFired m)
    {
        var domain = _world.Domains.FirstOrDefault(d => d.Id == m.Domain);
        if (domain?.Table is null)
            return;
        domain.Fq.TimerFired();
        await FlushQueueFlushAsync(domain);
        ReapAll(domain);
    }

    /// <summary>fq_flush_iotlb: start++ → flush_iotlb_all (always the domain flush) → finish++.</summary>
    private async Task FlushQueueFlushAsync(GuestDomain domain)
    {
        domain.Fq.FlushStarting();
        await FlushAsync(domain, new FlushDeviceDomainInput(domain.Identity));
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
            FreeFrames(e.FreeList);
            domain.Iova.Free(e.IovaPfn << GuestMemory.PageShift, e.Pages);
        }
        released.Clear();
    }

    private void FreeFrames(IEnumerable<ulong> frames)
    {
        foreach (var f in frames)
            _world.Frames.Free(f);
    }

    private int PickDevice()
    {
        while (true)
        {
            var i = _random.Next(_world.Devices.Length);
            if (_world.Managed[i])
                return i;
        }
    }

    private void ReportIdleIfDone(bool force)
    {
        if (_idleReported || !_workloadStarted || (!force && _operations.Count > 0))
            return;
        _idleReported = true;
        _supervisor.Tell(new VcpuIdle(_index));
    }

    private sealed record Operation(DmaDescriptor Descriptor, GuestDomain Domain, ulong[] Frames);
}
