using Akka.Actor;
using HvIommu.Actors.Tracing;

namespace HvIommu.Actors.Vcpu;

/// <summary>Messages of a vCPU running the guest driver.</summary>
public interface IVcpuMessage;

/// <summary>Run the driver's init (hv_iommu_init and the default-domain attach, brief §1.3–§1.6); answer <see cref="GuestInitCompleted"/>.</summary>
public sealed record InitializeGuest(IActorRef ReplyTo) : IVcpuMessage;

public sealed record GuestInitCompleted(bool Succeeded, string Detail);

/// <summary>Start the workload: keep the configured number of operations outstanding while the budget lasts.</summary>
public sealed record StartWorkload(IActorRef ReplyTo) : IVcpuMessage;

/// <summary>The vCPU has no operation outstanding and will start none.</summary>
public sealed record VcpuIdle(int Vcpu) : ITracedMessage
{
    /// <inheritdoc/>
    public (string Name, string Detail) DescribeForTrace() => ("VcpuIdle", $"vcpu{Vcpu}");
}

/// <summary>
/// Stop this vCPU's flush-queue timers before teardown and wait for a timeout already running: iommu_dma_free_fq
/// (dma-iommu.c) stops the timer with del_timer_sync / timer_shutdown_sync, which waits for a running fq_flush_timeout,
/// before it frees the queues. Handled as guest work, so a timeout in the middle of its flush finishes first; answer
/// <see cref="FlushQueueTimersStopped"/>.
/// </summary>
public sealed record StopFlushQueueTimers(IActorRef ReplyTo) : IVcpuMessage;

public sealed record FlushQueueTimersStopped(int Vcpu) : ITracedMessage
{
    /// <inheritdoc/>
    public (string Name, string Detail) DescribeForTrace() => ("FlushQueueTimersStopped", $"vcpu{Vcpu}");
}

/// <summary>Tear the guest down (release devices to blocking, drain flush queues, free domains); answer <see cref="GuestTeardownCompleted"/>.</summary>
public sealed record TeardownGuest(IActorRef ReplyTo) : IVcpuMessage;

public sealed record GuestTeardownCompleted(string Detail);

/// <summary>Self-message: start one more operation if the budget allows.</summary>
internal sealed class StartNextOperation
{
    public static readonly StartNextOperation Instance = new();
    private StartNextOperation() { }
}

/// <summary>Timer: the lazy flush-queue timeout of a domain fired (fq_flush_timeout, brief §5.3).</summary>
internal sealed record FlushQueueTimerFired(uint Domain) : ITracedMessage
{
    /// <inheritdoc/>
    public (string Name, string Detail) DescribeForTrace() => ("FlushQueueTimerFired", $"domain {Domain}");
}

/// <summary>Self-message: the preemption point between two levels of a stepwise map (racy-table-install, H6).</summary>
internal sealed record ContinueMap(long DescriptorId) : ITracedMessage
{
    /// <inheritdoc/>
    public (string Name, string Detail) DescribeForTrace() => ("ContinueMap", $"descriptor {DescriptorId}");
}

/// <summary>Self-message: the preemption point between two steps of iommu_dma_init_fq run by the sysfs switch to DMA-FQ.</summary>
internal sealed class ContinueFlushQueueInit
{
    public static readonly ContinueFlushQueueInit Instance = new();
    private ContinueFlushQueueInit() { }
}

/// <summary>Self-message: the vmcall after the input page was filled with interrupts enabled (H17): interrupts
/// already pending on the vCPU run before it.</summary>
internal sealed class TrapHypercall
{
    public static readonly TrapHypercall Instance = new();
    private TrapHypercall() { }
}

/// <summary>Self-message: run the next event of this vCPU's share of a replayed kernel trace (or wait for it).</summary>
internal sealed class TraceNext
{
    public static readonly TraceNext Instance = new();
    private TraceNext() { }
}
