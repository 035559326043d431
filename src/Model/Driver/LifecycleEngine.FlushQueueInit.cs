using HvIommu.Model.Metrics;
namespace HvIommu.Model.Driver;

/// <summary>
/// <c>lifecycle.sysfs-dma-fq-after = N</c>: after N of its operations vCPU 0 writes <c>DMA-FQ</c> to the IOMMU group
/// type of every strict paging domain (drivers/iommu/iommu.c iommu_group_store_type), which brings up the flush queue
/// in place with iommu_dma_init_fq while the other vCPUs keep mapping and unmapping. The init runs as
/// <see cref="FlushQueueInit"/> steps, one per preemption point (<see cref="IGuestPort.PostContinueFlushQueueInit"/>),
/// so unmaps on other vCPUs — and completion interrupts on this one — run between them, as they do around a
/// process-context sysfs write in Linux (group->mutex serialises sysfs writers only, never unmaps).
/// </summary>
public sealed partial class LifecycleEngine
{
    private long _opsBeforeSysfsWrite;
    private readonly Queue<FlushQueueInit> _flushQueueInits = new();

    /// <summary>After an unmap on vCPU 0: the N-th one writes DMA-FQ to sysfs and starts the flush-queue inits.</summary>
    public void MaybeWriteDmaFqToSysfs()
    {
        var after = _world.Settings.Lifecycle.SysfsDmaFqAfter;
        if (after == 0 || _cpu.Index != 0 || ++_opsBeforeSysfsWrite != after)
            return;
        foreach (var domain in _world.Domains.Where(d => d.Table is not null && !d.Lazy))
            _flushQueueInits.Enqueue(new FlushQueueInit(domain, _world.Settings.Driver.Hazards.FlushQueuePublishedEarly));
        ContinueFlushQueueInitLater();
    }

    /// <summary>The preemption point before the next step: at once, or after the time the step takes
    /// (<see cref="FlushQueueInit.NextStepNs"/>), so timers due meanwhile (DMA completions) fire first.</summary>
    private void ContinueFlushQueueInitLater()
    {
        if (!_flushQueueInits.TryPeek(out var init))
            return;
        _cpu.Port.PostContinueFlushQueueInit(init.NextStepNs);
    }

    /// <summary>One step of the current domain's iommu_dma_init_fq, then a preemption point.</summary>
    public void ContinueFlushQueueInit()
    {
        if (!_flushQueueInits.TryPeek(out var init))
            return;
        if (init.Domain.Table is null || _cpu.TimersStopped)
        {
            // Teardown overtook the sysfs write: nothing left to initialise.
            _flushQueueInits.Clear();
            return;
        }
        var (step, _) = init.Step();
        if (step == FlushQueueInitStep.Publish)
            _cpu.Count(SimCounter.DomainsSwitchedToLazy);
        if (init.Done)
        {
            _flushQueueInits.Dequeue();
            if (init.EntriesLost > 0)
                _cpu.Log(DriverLogLevel.Warning, "{Vcpu}: iommu_dma_init_fq of domain {DomainId} initialised rings that unmaps had already used: {Entries} entries dropped, {Pages} IOVA pages and {Tables} table pages never freed (H2)",
                    Name, init.Domain.Id, init.EntriesLost, init.PagesLost, init.TablePagesLost);
            else
                _cpu.Log(DriverLogLevel.Info, "{Vcpu}: domain {DomainId} switched to DMA-FQ (iommu_dma_init_fq)", Name, init.Domain.Id);
        }
        ContinueFlushQueueInitLater();
    }
}
