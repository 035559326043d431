using Akka.Actor;
using HvIommu.Actors.Protocol;
using HvIommu.Model.Driver;

namespace HvIommu.Actors.Vcpu;

/// <summary>
/// <c>lifecycle.sysfs-dma-fq-after = N</c>: after N of its operations vCPU 0 writes <c>DMA-FQ</c> to the IOMMU group
/// type of every strict paging domain (drivers/iommu/iommu.c iommu_group_store_type), which brings up the flush queue
/// in place with iommu_dma_init_fq while the other vCPUs keep mapping and unmapping. The init runs as
/// <see cref="FlushQueueInit"/> steps, one per <see cref="ContinueFlushQueueInit"/> message to self, so unmaps on
/// other vCPUs — and completion interrupts on this one — run between them, as they do around a process-context
/// sysfs write in Linux (group->mutex serialises sysfs writers only, never unmaps).
/// </summary>
internal sealed partial class VcpuActor
{
    private long _opsBeforeSysfsWrite;
    private readonly Queue<FlushQueueInit> _flushQueueInits = new();
    private ICancelable? _flushQueueInitTimer;

    private void MaybeWriteDmaFqToSysfs()
    {
        var after = _world.Settings.Lifecycle.SysfsDmaFqAfter;
        if (after == 0 || _index != 0 || ++_opsBeforeSysfsWrite != after)
            return;
        foreach (var domain in _world.Domains.Where(d => d.Table is not null && !d.Lazy))
            _flushQueueInits.Enqueue(new FlushQueueInit(domain, _world.Settings.Driver.Hazards.FlushQueuePublishedEarly));
        ContinueFlushQueueInitLater();
    }

    /// <summary>The preemption point before the next step: at once, or after the time the step takes
    /// (<see cref="FlushQueueInit.NextStepNs"/>), through the scheduler so timers due meanwhile (DMA completions) fire first.</summary>
    private void ContinueFlushQueueInitLater()
    {
        if (!_flushQueueInits.TryPeek(out var init))
            return;
        if (init.NextStepNs == 0)
            Self.Tell(ContinueFlushQueueInit.Instance);
        else
            _flushQueueInitTimer = Context.System.Scheduler.ScheduleTellOnceCancelable(TimeSpan.FromTicks(init.NextStepNs / 100), Self, ContinueFlushQueueInit.Instance, Self);
    }

    /// <summary>One step of the current domain's iommu_dma_init_fq, then a preemption point.</summary>
    private void ContinueFlushQueueInitStep()
    {
        if (!_flushQueueInits.TryPeek(out var init))
            return;
        if (init.Domain.Table is null || _timersCancelled)
        {
            // Teardown overtook the sysfs write: nothing left to initialise.
            _flushQueueInits.Clear();
            return;
        }
        var (step, _) = init.Step();
        if (step == FlushQueueInitStep.Publish)
            _world.Counters.Add(Metrics.SimCounter.DomainsSwitchedToLazy, 1);
        if (init.Done)
        {
            _flushQueueInits.Dequeue();
            if (init.EntriesLost > 0)
                _log.Warning("{Vcpu}: iommu_dma_init_fq of domain {DomainId} initialised rings that unmaps had already used: {Entries} entries dropped, {Pages} IOVA pages and {Tables} table pages never freed (H2)",
                    Name, init.Domain.Id, init.EntriesLost, init.PagesLost, init.TablePagesLost);
            else
                _log.Info("{Vcpu}: domain {DomainId} switched to DMA-FQ (iommu_dma_init_fq)", Name, init.Domain.Id);
        }
        ContinueFlushQueueInitLater();
    }
}
