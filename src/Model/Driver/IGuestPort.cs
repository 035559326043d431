using HvIommu.Model.Device;
using HvIommu.Model.Hypercalls;

namespace HvIommu.Model.Driver;

/// <summary>A hypercall's answer as the guest sees it when the VM exit returns: the status, and the output page's
/// content for the calls that have one (capabilities, device property).</summary>
public readonly record struct HypercallOutcome(HvStatus Status, object? Output = null);

/// <summary>
/// Everything the guest driver engines (<see cref="DmaApiEngine"/>, <see cref="LifecycleEngine"/>) do to the world
/// outside the guest's memory: VM exits, device programming, timers, and the messages a vCPU sends itself at a
/// preemption point. The vCPU actor implements it by sending messages; a unit test implements it with a fake that
/// records the calls and completes the hypercalls when it chooses. Every method is called on the vCPU's own thread,
/// except <see cref="PostTraceNext"/>, which a trace replay's wake-up may call from another vCPU.
/// </summary>
public interface IGuestPort
{
    /// <summary>A hypercall whose input the guest has written to the vCPU's input page (brief §1.7): trap with
    /// <paramref name="control"/> and block until the status returns; the task completes on the vCPU's thread when it
    /// does. At most one is outstanding per vCPU (a VM exit, <see cref="VmExitState"/>); the exit is counted under
    /// <paramref name="path"/>.</summary>
    GuestTask<HypercallOutcome> Hypercall(IHypercallInput input, HypercallControl control, ExitPath path);

    /// <summary>Programs device <paramref name="device"/> (topology index) with <paramref name="descriptor"/>; its
    /// completion comes back to the vCPU as guest work (<see cref="DmaApiEngine.CompleteAsync"/>).</summary>
    void ProgramDma(int device, DmaDescriptor descriptor);

    /// <summary>H11: gives device <paramref name="device"/> a raw-GPA (dma-direct) ring before the pvIOMMU is up.</summary>
    void SetRawGpaRing(int device, DmaDescriptor ring);

    /// <summary>The fault driver: device <paramref name="device"/> replays its recent descriptors now; the vCPU blocks
    /// until it has (teardown's H10 window), as it would for a hypercall.</summary>
    GuestTask ProdDevice(int device);

    /// <summary>Arms the flush-queue timer of <paramref name="domain"/> (fq_timer, brief §5.3) to fire after <paramref name="delay"/>.</summary>
    void ArmFlushQueueTimer(uint domain, TimeSpan delay);

    /// <summary>Cancels every timer armed through this port (teardown, stop).</summary>
    void CancelTimers();

    /// <summary>A preemption point of the synthetic workload: start one more operation later.</summary>
    void PostStartNextOperation();

    /// <summary>A preemption point of a stepwise map (H6): continue map <paramref name="descriptorId"/> later.</summary>
    void PostContinueMap(long descriptorId);

    /// <summary>A preemption point of the trace workload: run the vCPU's next trace event later.</summary>
    void PostTraceNext();

    /// <summary>A preemption point of iommu_dma_init_fq run by the sysfs switch: continue after <paramref name="delayNs"/>
    /// of the run's clock (0: as soon as the vCPU's mailbox reaches it).</summary>
    void PostContinueFlushQueueInit(long delayNs);

    /// <summary>The vCPU has no operation outstanding and will start none.</summary>
    void ReportIdle();

    /// <summary>Guest init failed (<paramref name="why"/> names the step), before the error path unwinds.</summary>
    void InitFailed(string why);
}
