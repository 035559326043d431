using HvIommu.Model.Hypercalls;
using HvIommu.Model.Memory;
using HvIommu.Model.Metrics;

namespace HvIommu.Model.Driver;

/// <summary>
/// One guest vCPU as its driver engines share it: its index and name, the <see cref="DriverWorld"/>, the
/// <see cref="IGuestPort"/> to the world outside the guest, the telemetry, and whether its flush-queue timers were
/// stopped (teardown). <see cref="DmaApiEngine"/> and <see cref="LifecycleEngine"/> of the same vCPU take the same one.
/// </summary>
public sealed class GuestCpu(int index, DriverWorld world, IGuestPort port, IDriverTelemetry telemetry)
{
    public int Index { get; } = index;

    /// <summary>The vCPU's name in events, the trace and the log (<c>vcpu0</c>).</summary>
    public string Name { get; } = "vcpu" + index;

    public DriverWorld World { get; } = world;
    public IGuestPort Port { get; } = port;
    public IDriverTelemetry Telemetry { get; } = telemetry;

    /// <summary>True once the flush-queue timers were stopped: no timer is armed again, and a fire already queued
    /// (or stashed behind a VM exit) is dropped.</summary>
    public bool TimersStopped { get; private set; }

    /// <summary>Stops the flush-queue timers (iommu_dma_free_fq's del_timer_sync, teardown, stop).</summary>
    public void StopTimers()
    {
        Port.CancelTimers();
        TimersStopped = true;
    }

    /// <summary>Arms a domain's flush-queue timer unless the timers were stopped.</summary>
    public void ArmFlushQueueTimer(uint domain, TimeSpan delay)
    {
        if (!TimersStopped)
            Port.ArmFlushQueueTimer(domain, delay);
    }

    /// <summary>A hypercall (a VM exit) made on <paramref name="path"/>: the input goes into this vCPU's input page, then
    /// the port traps.</summary>
    public GuestTask<HypercallOutcome> Hypercall(IHypercallInput input, ExitPath path) => Port.Hypercall(input, FillInputPage(input), path);

    /// <summary>Writes the input into this vCPU's page (hyperv_pcpu_input_arg) as the wrappers do: memset, then fields;
    /// returns the control word to trap with.</summary>
    private HypercallControl FillInputPage(IHypercallInput input)
    {
        Span<byte> bytes = stackalloc byte[HypercallInputCodec.PageBytes];
        var control = HypercallInputCodec.Write(input, bytes);
        var used = HypercallInputCodec.FixedBytes(input.Code) + 8 * control.RepCount;
        World.Memory.Write(World.HypercallInputPage(Index), bytes[..used]);
        return control;
    }

    /// <summary>Frees guest frames back to the allocator (<paramref name="what"/> names them in the trace).</summary>
    public void FreeFrames(IEnumerable<ulong> frames, string what)
    {
        foreach (var f in frames)
            FreeFrame(f, what);
    }

    /// <summary>One 4 KiB frame (GPA <paramref name="frame"/>) back to the guest allocator; <paramref name="what"/> names it in the trace.</summary>
    public void FreeFrame(ulong frame, string what)
    {
        World.Frames.Free(frame);
        if (Telemetry.Traces)
            Telemetry.Trace(DriverTraceKind.Free, $"free {what} 0x{frame:x}", "frame back to the guest allocator");
    }

    /// <summary><paramref name="frames"/> consecutive 4 KiB frames from GPA <paramref name="first"/> back to the guest
    /// allocator, lowest first, as that many <see cref="FreeFrame"/> calls (one trace event per frame when tracing).</summary>
    public void FreeFrameRun(ulong first, int frames, string what)
    {
        if (Telemetry.Traces)
        {
            for (var k = 0; k < frames; k++)
                FreeFrame(first + ((ulong)k << GuestMemory.PageShift), what);
            return;
        }
        World.Frames.FreeRun(first, frames);
    }

    public void Count(SimCounter counter, long amount = 1) => Telemetry.Count(counter, amount);

    public void Log(DriverLogLevel level, string template, params object?[] args) => Telemetry.Log(level, template, args);
}
