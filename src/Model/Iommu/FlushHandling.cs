using System.Collections.Immutable;
using HvIommu.Model.Hypercalls;
using HvIommu.Model.Settings;

namespace HvIommu.Model.Iommu;

/// <summary>What the flush handler does next for one flush (brief §2.4).</summary>
public enum FlushStepKind
{
    /// <summary>Invalidate the domain's IOTLB entries (the flush's blocks, or all of the domain's).</summary>
    InvalidateIotlb,
    /// <summary>Invalidate the domain's paging-structure (walk) cache entries; omitted when H1's knob is off.</summary>
    InvalidateWalkCache,
    /// <summary>Send an ATS invalidation request to <see cref="FlushStep{TContext}.Device"/>.</summary>
    InvalidateAtc,
    /// <summary>Ask <see cref="FlushStep{TContext}.Device"/> to finish every DMA it translated before now (H5).</summary>
    Drain,
    /// <summary>The flush is done: record it and return HV_STATUS_SUCCESS to the caller.</summary>
    Complete,
}

/// <summary>One step of a flush: its kind, the flush, and the device it addresses (ATC invalidation and drain only).</summary>
public readonly record struct FlushStep<TContext>(FlushStepKind Kind, FlushRun<TContext> Run, DeviceSlot? Device = null);

/// <summary>One flush in progress: its id, its domain, the blocks of a list flush (null: the whole domain),
/// the caller's <see cref="Context"/> (whom to answer), and the devices it reaches, fixed when it starts.</summary>
public sealed class FlushRun<TContext>(long id, uint domain, ImmutableArray<FlushVa>? blocks, IReadOnlyList<DeviceSlot> devices, TContext context)
{
    public long Id { get; } = id;
    public uint Domain { get; } = domain;
    public ImmutableArray<FlushVa>? Blocks { get; } = blocks;
    public IReadOnlyList<DeviceSlot> Devices { get; } = devices;
    public TContext Context { get; } = context;

    /// <summary>This flush awaits the ATS invalidation completions (the knob, unless limited to the flush after an attach).</summary>
    public bool AwaitsAtc { get; internal init; }

    /// <summary>This flush drains DMA translated before it (the knob, unless limited to the flush after an attach).</summary>
    public bool DrainsDma { get; internal init; }

    /// <summary>True once the ATS phase is over and the flush waits (if at all) for drains.</summary>
    public bool Draining { get; internal set; }

    /// <summary>The devices whose answer the current phase awaits (null until the flush awaits one; the handler's,
    /// handed on to a later flush once this one completed).</summary>
    internal HashSet<string>? Awaiting { get; set; }
}

/// <summary>
/// The host flush handler's phases for HVCALL_FLUSH_DEVICE_DOMAIN(_LIST) as a pure state machine (brief §2.4,
/// §4): invalidate the IOMMU caches, invalidate the ATCs of the domain's ATS devices and await their
/// completions, drain DMA translated with the old entries, complete. The knobs decide the hazards here:
/// <see cref="FlushHandlerSettings.InvalidateWalkCache"/> off leaves walk caches pointing at freed tables (H1),
/// <see cref="FlushOrder.DevTlbFirst"/> invalidates the ATCs before the IOTLB they refill from (H4, VT-d
/// §6.5.2.5), <see cref="FlushHandlerSettings.AwaitAtcCompletions"/> off and <see cref="FlushHandlerSettings.DrainDma"/>
/// off let the flush return while stale translations are still usable or in use (H4, H5), and
/// <see cref="FlushHandlerSettings.InvalidateAtc"/> off never invalidates an ATC at all (H5). Several flushes may be in
/// progress at once. Every call appends the steps to perform, in order, to <c>steps</c>; the caller performs them
/// and reports completions back. Not thread-safe: one flush handler owns it.
/// </summary>
public sealed class FlushHandling<TContext>(FlushHandlerSettings knobs)
{
    private readonly Dictionary<long, FlushRun<TContext>> _runs = new();
    private readonly Stack<HashSet<string>> _awaitingSets = new(); // empty sets of completed flushes, for later ones
    private long _nextId;

    /// <summary>The knobs in force.</summary>
    public FlushHandlerSettings Knobs { get; } = knobs;

    /// <summary>Flushes started and not yet completed.</summary>
    public int InProgress => _runs.Count;

    /// <summary>Flush <paramref name="flushId"/> if it is still in progress.</summary>
    public FlushRun<TContext>? Run(long flushId) => _runs.GetValueOrDefault(flushId);

    /// <summary>Starts a flush of <paramref name="domain"/> reaching <paramref name="devices"/> (the host's
    /// DevicesToFlush) and appends its first steps; returns the run (its id names it in completions).</summary>
    /// <param name="afterAttach">This is the domain's first flush since a device was attached to it (the host's
    /// <see cref="HostIommu.TakeAttachedSinceFlush"/>); matters only with <see cref="FlushHandlerSettings.WrongOnlyAfterAttach"/>.</param>
    public FlushRun<TContext> Start(uint domain, ImmutableArray<FlushVa>? blocks, IReadOnlyList<DeviceSlot> devices, TContext context, List<FlushStep<TContext>> steps,
        bool afterAttach = false)
    {
        var wrong = !Knobs.WrongOnlyAfterAttach || afterAttach;
        var run = new FlushRun<TContext>(++_nextId, domain, blocks, devices, context)
        {
            AwaitsAtc = Knobs.AwaitAtcCompletions || !wrong,
            DrainsDma = Knobs.DrainDma || !wrong,
        };
        _runs.Add(run.Id, run);
        if (Knobs.Order == FlushOrder.IotlbFirst)
            InvalidateIommuCaches(run, steps);
        for (var i = 0; i < devices.Count; i++)
        {
            var device = devices[i];
            // Only endpoints with ATS enabled get ATS invalidation requests (VT-d iommu_flush_dev_iotlb and
            // arm-smmu-v3 arm_smmu_atc_inv_domain skip the others); the driver invalidates when it re-enables ATS.
            if (device.Atc is null || !device.AtsEnabled || !Knobs.InvalidateAtc || Skips(device))
                continue;
            steps.Add(new(FlushStepKind.InvalidateAtc, run, device));
            if (run.AwaitsAtc)
                Await(run, device.Name);
        }
        if (!AwaitsAny(run))
            AtcPhaseDone(run, steps);
        return run;
    }

    /// <summary>The ATS invalidation completion of <paramref name="device"/> for flush <paramref name="flushId"/>;
    /// a late one (the flush did not wait, or finished) adds no step.</summary>
    public void OnAtcCompleted(long flushId, string device, List<FlushStep<TContext>> steps)
    {
        if (Acknowledged(flushId, device, drain: false) is { } run)
            AtcPhaseDone(run, steps);
    }

    /// <summary><paramref name="device"/> drained its DMA for flush <paramref name="flushId"/>.</summary>
    public void OnDrained(long flushId, string device, List<FlushStep<TContext>> steps)
    {
        if (Acknowledged(flushId, device, drain: true) is { } run)
            Complete(run, steps);
    }

    /// <summary>
    /// Performing a <see cref="FlushStepKind.Drain"/> step: a device with no DMA in flight — read after the invalidations
    /// performed before this step — can only translate through the invalidated caches from now on, so it has nothing to
    /// drain and is acknowledged at once (which may append the flush's Complete step to <paramref name="steps"/>).
    /// Returns true when the device must be asked to drain instead (its completion comes back through <see cref="OnDrained"/>).
    /// </summary>
    public bool NeedsDrainRequest(FlushStep<TContext> step, List<FlushStep<TContext>> steps)
    {
        var device = step.Device ?? throw new ArgumentException("a drain step names its device", nameof(step));
        if (device.InFlight > 0)
            return true;
        OnDrained(step.Run.Id, device.Name, steps);
        return false;
    }

    /// <summary>
    /// A request to <paramref name="device"/> for flush <paramref name="flushId"/> will never be answered: the device was
    /// surprise-removed (the host sees the target absent, as VT-d's invalidation time-out error handling does). With
    /// <see cref="DisconnectedDevicePolicy.Wait"/> the flush keeps waiting (H5: it hangs); otherwise the request is given
    /// up as if answered (time-out: after the ATS completion time-out, which the caller charges).
    /// </summary>
    public void OnUnanswered(long flushId, string device, bool drain, List<FlushStep<TContext>> steps)
    {
        if (Knobs.OnDisconnectedDevice == DisconnectedDevicePolicy.Wait)
            return;
        if (drain)
            OnDrained(flushId, device, steps);
        else
            OnAtcCompleted(flushId, device, steps);
    }

    /// <summary>With <see cref="DisconnectedDevicePolicy.SkipDisconnected"/>, a flush sends nothing to a device the host
    /// knows is gone (Linux 4fc82cd907ac: pci_dev_is_disconnected() in devtlb_invalidation_with_pasid).</summary>
    private bool Skips(DeviceSlot device) =>
        device.Disconnected && Knobs.OnDisconnectedDevice == DisconnectedDevicePolicy.SkipDisconnected;

    /// <summary>Forgets every flush in progress (a new schedule on the same topology).</summary>
    public void Reset()
    {
        _runs.Clear();
        _nextId = 0;
    }

    private FlushRun<TContext>? Acknowledged(long flushId, string device, bool drain)
    {
        if (!_runs.TryGetValue(flushId, out var run) || run.Draining != drain || run.Awaiting is not { } awaiting || !awaiting.Remove(device) || awaiting.Count > 0)
            return null;
        return run;
    }

    private void Await(FlushRun<TContext> run, string device) =>
        (run.Awaiting ??= _awaitingSets.TryPop(out var set) ? set : new HashSet<string>(StringComparer.Ordinal)).Add(device);

    private static bool AwaitsAny(FlushRun<TContext> run) => run.Awaiting is { Count: > 0 };

    private void InvalidateIommuCaches(FlushRun<TContext> run, List<FlushStep<TContext>> steps)
    {
        steps.Add(new(FlushStepKind.InvalidateIotlb, run));
        if (Knobs.InvalidateWalkCache)
            steps.Add(new(FlushStepKind.InvalidateWalkCache, run));
    }

    private void AtcPhaseDone(FlushRun<TContext> run, List<FlushStep<TContext>> steps)
    {
        if (Knobs.Order == FlushOrder.DevTlbFirst)
            InvalidateIommuCaches(run, steps);
        run.Draining = true;
        // Every device the flush reaches is asked to drain. Only DMA translated before the invalidation needs
        // draining, and an idle device has none — but whether a device is idle may only be read *after* the
        // invalidation steps above have been performed (a translation that starts in between still used the
        // old entry), so the performer reads it when it performs the Drain step and acknowledges an idle
        // device at once (OnDrained).
        if (run.DrainsDma)
            for (var i = 0; i < run.Devices.Count; i++)
            {
                var device = run.Devices[i];
                if (Skips(device))
                    continue;
                steps.Add(new(FlushStepKind.Drain, run, device));
                Await(run, device.Name);
            }
        if (!AwaitsAny(run))
            Complete(run, steps);
    }

    private void Complete(FlushRun<TContext> run, List<FlushStep<TContext>> steps)
    {
        _runs.Remove(run.Id);
        // Nothing is awaited any more: the set serves a later flush.
        if (run.Awaiting is { } awaiting)
        {
            run.Awaiting = null;
            _awaitingSets.Push(awaiting);
        }
        steps.Add(new(FlushStepKind.Complete, run));
    }
}
