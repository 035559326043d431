namespace HvIommu.Model.Settings;

/// <summary>
/// How the driver computes the HVCALL_FLUSH_DEVICE_DOMAIN_LIST block from the unmap's gather (hazard H7,
/// brief §1.10, §2.2); see <see cref="Driver.FlushRange"/>.
/// </summary>
public enum FlushRangeMode
{
    /// <summary>The one aligned block covering [gather.start, gather.end] (v2 and later).</summary>
    Exact,
    /// <summary>The gather's range is lost (iommupt fix b48ca9206138) and the block is built from an empty gather.</summary>
    Empty,
    /// <summary>The inclusive end taken as exclusive: the range ends one 4 KiB page short.</summary>
    OffByOne,
    /// <summary>The exclusive end <c>end + 1</c> wraps at the top of the IOVA space, leaving nothing to flush.</summary>
    Overflow,
}

/// <summary>
/// Deliberately wrong behaviours of the guest driver's map and unmap paths (STYLE.md practice 9), each
/// named by its hazard in the brief (§6) and off by default: <c>hviommu.driver.hazards</c>.
/// </summary>
/// <param name="FreeTablesBeforeFlush">H1: strict unmap frees the gather's table pages before the flush hypercall.</param>
/// <param name="FreeIovaBeforeFlush">H2: strict unmap frees the IOVA, and the buffer goes back, before the flush.</param>
/// <param name="BrokenFlushQueueCounter">H2: lazy flush queues reap entries one flush early (counter ≤ finish).</param>
/// <param name="RacyTableInstall">H6: intermediate tables installed by plain load and store, with preemption between levels.</param>
/// <param name="FlushRange">H7: the range computation of the list flush.</param>
/// <param name="FlushQueueOverrun">H18: a full flush queue is flushed once inline and the entry added even if the
/// ring is still full (dma-iommu.c queue_iova as written): the ring wraps and its entries' IOVAs leak.</param>
/// <param name="SkipMapFlush">H19: a map whose large leaf replaced an emptied table frees that table without the
/// iotlb_sync generic_pt's map_pages issues first.</param>
/// <param name="FlushQueuePublishedEarly">H2: iommu_dma_init_fq, run live by the sysfs switch to DMA-FQ
/// (<see cref="LifecycleSettings.SysfsDmaFqAfter"/>), publishes fq_domain before the per-CPU rings are initialised, so
/// an unmap can queue into a ring the init then resets (<see cref="Driver.FlushQueueInit"/>).</param>
/// <param name="AmbiguousDeviceId">H13: probe_device manages a device whose logical device id (GUID bytes 4–7 +
/// function) another vPCI bus shares, so ATTACH and DETACH with that id reach whichever device the host matches
/// first; off = the id registry refuses the ambiguous id and probe returns -ENODEV (<see cref="Driver.DeviceProbe"/>).</param>
/// <param name="HypercallInputIrqsOn">H17: the hypercall wrappers fill the per-vCPU input page (hyperv_pcpu_input_arg)
/// without local_irq_save, so an interrupt between the fill and the trap can refill the page with its own input
/// (<see cref="Hypercalls.HypercallInputCodec"/>).</param>
public sealed record DriverHazards(
    bool FreeTablesBeforeFlush,
    bool FreeIovaBeforeFlush,
    bool BrokenFlushQueueCounter,
    bool RacyTableInstall,
    FlushRangeMode FlushRange,
    bool FlushQueueOverrun = false,
    bool SkipMapFlush = false,
    bool FlushQueuePublishedEarly = false,
    bool AmbiguousDeviceId = false,
    bool HypercallInputIrqsOn = false)
{
    /// <summary>The correct driver: every hazard off.</summary>
    public static DriverHazards None { get; } = new(false, false, false, false, FlushRangeMode.Exact);
}
