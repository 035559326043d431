using HvIommu.Model.Settings;

namespace HvIommu.Model.Oracle;

/// <summary>A deliberately wrong behaviour a run can switch on (a hazard knob), as a cause the oracle may name.</summary>
public enum Cause
{
    /// <summary>H1: driver.hazards.free-tables-before-flush.</summary>
    FreeTablesBeforeFlush,
    /// <summary>H1: hypervisor.flush.invalidate-walk-cache = off.</summary>
    WalkCacheKept,
    /// <summary>H2: driver.hazards.free-iova-before-flush.</summary>
    FreeIovaBeforeFlush,
    /// <summary>H2: driver.hazards.broken-flush-queue-counter.</summary>
    BrokenFlushQueueCounter,
    /// <summary>H4: hypervisor.flush.order = devtlb-first.</summary>
    DevTlbFirst,
    /// <summary>H5: hypervisor.flush.await-atc-completions = off.</summary>
    AtcCompletionNotAwaited,
    /// <summary>H5: hypervisor.flush.invalidate-atc = off.</summary>
    FlushSkipsAtc,
    /// <summary>H5: hypervisor.flush.on-disconnected-device = wait, with a surprise removal.</summary>
    WaitsForRemovedDevice,
    /// <summary>H5: hypervisor.flush.wrong-only-after-attach with await-atc-completions or drain-dma off.</summary>
    AttachFlushNotAwaited,
    /// <summary>H5: hypervisor.flush.drain-dma = off.</summary>
    DmaNotDrained,
    /// <summary>H6: driver.hazards.racy-table-install.</summary>
    RacyTableInstall,
    /// <summary>H7: driver.hazards.flush-range other than exact.</summary>
    WrongFlushRange,
    /// <summary>H8: driver.on-flush-failure = log.</summary>
    FlushFailureIgnored,
    /// <summary>H9: lifecycle.disable-ats-before-block = off.</summary>
    AtsKeptWhenBlocked,
    /// <summary>H9: lifecycle.ats-toggle-invalidates-atc = off.</summary>
    AtsToggleKeepsAtc,
    /// <summary>H9: hypervisor.behaviour.attach-invalidates-atc = off.</summary>
    AttachKeepsAtc,
    /// <summary>H9: hypervisor.behaviour.attach-leaves-old-domain = on.</summary>
    AttachLeavesOldDomain,
    /// <summary>H9: hypervisor.behaviour.flush-covers-departed-devices = off.</summary>
    FlushMissesDepartedDevices,
    /// <summary>H9: hypervisor.behaviour.detached-translation other than blocked.</summary>
    DetachedDeviceTranslates,
    /// <summary>H10: lifecycle.free-domain-before-detach.</summary>
    FreeDomainBeforeDetach,
    /// <summary>H10: lifecycle.keep-tables-when-detach-fails = off with a fault on DETACH.</summary>
    FreeTablesDespiteFailedDetach,
    /// <summary>H10: hypervisor.behaviour.delete-invalidates-caches = off.</summary>
    DeleteKeepsCaches,
    /// <summary>H11: lifecycle.early-dma-device set.</summary>
    EarlyDma,
    /// <summary>H14: hypervisor.behaviour.s2-change-invalidates-iotlb = off (with migrations).</summary>
    StageTwoChangeKeepsEntries,
    /// <summary>H16: lifecycle.init-unwinding = rfc-v1.</summary>
    RfcInitUnwinding,
    /// <summary>H18: driver.hazards.flush-queue-overrun.</summary>
    FlushQueueOverrun,
    /// <summary>H19: driver.hazards.skip-map-flush.</summary>
    SkipMapFlush,
    /// <summary>H2: driver.hazards.flush-queue-published-early with lifecycle.sysfs-dma-fq-after.</summary>
    FlushQueuePublishedEarly,
    /// <summary>H9: lifecycle.domain-switch to a paging domain: the moved device keeps DMA descriptors built for its
    /// home domain (the shape of Xen XSA-302).</summary>
    MovedDeviceKeepsOldIovas,
    /// <summary>H13: driver.hazards.ambiguous-device-id with two devices whose logical ids alias.</summary>
    AmbiguousDeviceId,
    /// <summary>H17: driver.hazards.hypercall-input-irqs-on.</summary>
    HypercallInputIrqsOn,
}

/// <summary>
/// Which hazard knobs a run has switched on, so that an explanation names only causes that can be at work:
/// an explanation never names a hazard whose knob is off. A violation none of whose candidate causes is on is
/// reported as unexplained — with every knob involved at its safe setting it is a defect of the simulator's
/// correct path or of its oracle, not a hazard.
/// </summary>
public sealed class HazardCauses
{
    private readonly HashSet<Cause> _on;

    private HazardCauses(IEnumerable<Cause> on) => _on = on.ToHashSet();

    /// <summary>Every cause considered possible (an oracle used without a run's settings, as unit tests do).</summary>
    public static HazardCauses All { get; } = new(Enum.GetValues<Cause>());

    /// <summary>No knob on: every setting safe.</summary>
    public static HazardCauses None { get; } = new([]);

    public static HazardCauses Of(params Cause[] on) => new(on);

    /// <summary>The knobs <paramref name="s"/> switches on.</summary>
    public static HazardCauses From(SimSettings s)
    {
        var on = new List<Cause>();
        void If(bool set, Cause c)
        {
            if (set)
                on.Add(c);
        }
        var d = s.Driver.Hazards;
        var f = s.Hypervisor.Flush;
        var b = s.Hypervisor.Behaviour;
        var l = s.Lifecycle;
        If(d.FreeTablesBeforeFlush, Cause.FreeTablesBeforeFlush);
        If(!f.InvalidateWalkCache, Cause.WalkCacheKept);
        If(d.FreeIovaBeforeFlush, Cause.FreeIovaBeforeFlush);
        If(d.BrokenFlushQueueCounter, Cause.BrokenFlushQueueCounter);
        If(f.Order == FlushOrder.DevTlbFirst, Cause.DevTlbFirst);
        If(!f.AwaitAtcCompletions && !f.WrongOnlyAfterAttach, Cause.AtcCompletionNotAwaited);
        If(!f.DrainDma && !f.WrongOnlyAfterAttach, Cause.DmaNotDrained);
        If((!f.AwaitAtcCompletions || !f.DrainDma) && f.WrongOnlyAfterAttach, Cause.AttachFlushNotAwaited);
        If(!f.InvalidateAtc, Cause.FlushSkipsAtc);
        If(f.OnDisconnectedDevice == DisconnectedDevicePolicy.Wait && l.SurpriseRemove.Length > 0, Cause.WaitsForRemovedDevice);
        If(d.RacyTableInstall, Cause.RacyTableInstall);
        If(d.FlushRange != FlushRangeMode.Exact && s.Driver.Flush == FlushKind.List, Cause.WrongFlushRange);
        If(s.Driver.OnFlushFailure == FlushFailurePolicy.Log && s.Faults.Length > 0, Cause.FlushFailureIgnored);
        If(!l.DisableAtsBeforeBlock, Cause.AtsKeptWhenBlocked);
        If(!l.AtsToggleInvalidatesAtc && l.DisableAtsBeforeBlock, Cause.AtsToggleKeepsAtc);
        If(!b.AttachInvalidatesAtc, Cause.AttachKeepsAtc);
        If(b.AttachLeavesOldDomain, Cause.AttachLeavesOldDomain);
        If(!b.FlushCoversDepartedDevices, Cause.FlushMissesDepartedDevices);
        If(b.DetachedTranslation != DetachedTranslation.Blocked, Cause.DetachedDeviceTranslates);
        If(l.FreeDomainBeforeDetach, Cause.FreeDomainBeforeDetach);
        If(!b.DeleteInvalidatesCaches, Cause.DeleteKeepsCaches);
        If(!l.KeepTablesWhenDetachFails && s.Faults.Any(x => x.Call == Hypercalls.HypercallCode.DetachDeviceDomain), Cause.FreeTablesDespiteFailedDetach);
        If(l.EarlyDmaDevice.Length > 0, Cause.EarlyDma);
        If(!b.S2ChangeInvalidatesIotlb && b.S2MigrationEveryFlushes > 0, Cause.StageTwoChangeKeepsEntries);
        If(l.InitUnwinding == InitUnwinding.RfcV1, Cause.RfcInitUnwinding);
        If(d.FlushQueueOverrun, Cause.FlushQueueOverrun);
        If(d.SkipMapFlush, Cause.SkipMapFlush);
        If(d.FlushQueuePublishedEarly && l.SysfsDmaFqAfter > 0, Cause.FlushQueuePublishedEarly);
        If(d.AmbiguousDeviceId, Cause.AmbiguousDeviceId);
        If(d.HypercallInputIrqsOn, Cause.HypercallInputIrqsOn);
        If(l.DomainSwitch != DomainSwitchMode.None && l.DomainSwitchTo != "blocking" && !l.QuarantineMovedDevice, Cause.MovedDeviceKeepsOldIovas);
        return new HazardCauses(on);
    }

    public bool On(Cause c) => _on.Contains(c);

    public bool Any => _on.Count > 0;

    /// <summary>The hazard id of a cause (brief §6).</summary>
    public static string HazardOf(Cause c) => c switch
    {
        Cause.FreeTablesBeforeFlush or Cause.WalkCacheKept => "H1",
        Cause.FreeIovaBeforeFlush or Cause.BrokenFlushQueueCounter or Cause.FlushQueuePublishedEarly => "H2",
        Cause.DevTlbFirst => "H4",
        Cause.AtcCompletionNotAwaited or Cause.DmaNotDrained or Cause.FlushSkipsAtc or Cause.WaitsForRemovedDevice or Cause.AttachFlushNotAwaited => "H5",
        Cause.RacyTableInstall => "H6",
        Cause.WrongFlushRange => "H7",
        Cause.FlushFailureIgnored => "H8",
        Cause.AtsKeptWhenBlocked or Cause.AtsToggleKeepsAtc or Cause.AttachKeepsAtc or Cause.AttachLeavesOldDomain or Cause.FlushMissesDepartedDevices or Cause.DetachedDeviceTranslates
            or Cause.MovedDeviceKeepsOldIovas => "H9",
        Cause.FreeDomainBeforeDetach or Cause.DeleteKeepsCaches or Cause.FreeTablesDespiteFailedDetach => "H10",
        Cause.EarlyDma => "H11",
        Cause.AmbiguousDeviceId => "H13",
        Cause.HypercallInputIrqsOn => "H17",
        Cause.StageTwoChangeKeepsEntries => "H14",
        Cause.RfcInitUnwinding => "H16",
        Cause.FlushQueueOverrun => "H18",
        Cause.SkipMapFlush => "H19",
        _ => "",
    };

    /// <summary>The text an unexplained violation carries.</summary>
    public const string Unexplained =
        "No hazard knob of this run can cause it (every knob involved is at its safe setting): this is a defect of the simulator's correct path or of its oracle; please report it with the reproduce line.";

    /// <summary>
    /// The explanation of a finding from its candidate causes, most specific first: the texts of those that are
    /// on, and the hazard of the first (every hazard of those on in <see cref="Why.Hazards"/>); when none is on,
    /// <see cref="Unexplained"/> and no hazard.
    /// </summary>
    public Why Explain(params (Cause Cause, string Text)[] candidates)
    {
        var on = candidates.Where(c => On(c.Cause)).ToList();
        if (on.Count == 0)
            return new Why("", Unexplained, []);
        return new Why(HazardOf(on[0].Cause), string.Join(" Or: ", on.Select(c => c.Text)), [.. on.Select(c => HazardOf(c.Cause)).Distinct()]);
    }
}

/// <summary>Why a finding happened: the hazard it is attributed to (empty: none), the text, and every hazard the
/// text names (a scenario's own hazard among them is preferred over the first).</summary>
public readonly record struct Why(string Hazard, string Text, System.Collections.Immutable.ImmutableArray<string> Hazards)
{
    /// <summary>One hazard and its text, as a driver-known cause is given.</summary>
    public static implicit operator Why((string Hazard, string Text) why) =>
        new(why.Hazard, why.Text, why.Hazard.Length == 0 ? [] : [why.Hazard]);

    /// <summary><paramref name="preferred"/> when the text names it, else <see cref="Hazard"/>.</summary>
    public string AttributedTo(string preferred) =>
        preferred.Length > 0 && !Hazards.IsDefault && Hazards.Contains(preferred) ? preferred : Hazard;
}
