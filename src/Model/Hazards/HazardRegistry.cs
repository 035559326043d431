using System.Collections.Immutable;
using HvIommu.Model.Oracle;
using HvIommu.Model.Settings;

namespace HvIommu.Model.Hazards;

/// <summary>
/// One deliberately wrong behaviour the simulator can switch on (a fault site in FoundationDB's BUGGIFY
/// sense): its hazard id, the config key and the value that makes it wrong, what goes wrong in one line, the
/// section of docs/pviommu.md it rests on, the violation kinds it can cause, and how to tell from the typed
/// settings whether it is on.
/// </summary>
/// <param name="Id">The hazard id of docs/hazards.md (H1–H20).</param>
/// <param name="Key">The full config key, e.g. <c>hviommu.hypervisor.flush.drain-dma</c>.</param>
/// <param name="WrongValue">The value (or values, separated by <c>|</c>) that switch the wrong behaviour on.</param>
/// <param name="Description">What goes wrong, in one line, without the hazard id.</param>
/// <param name="Section">Where docs/pviommu.md states the rule it breaks (e.g. <c>§5.2</c>).</param>
/// <param name="Kinds">The violation kinds it can cause, most likely first.</param>
/// <param name="IsOn">True when the settings switch it on.</param>
/// <param name="Shown">How the <c>validate</c> banner shows it when on (default: <c>key = value</c> from <see cref="WrongValue"/>).</param>
public sealed record HazardKnob(
    string Id,
    string Key,
    string WrongValue,
    string Description,
    string Section,
    ImmutableArray<ViolationKind> Kinds,
    Func<SimSettings, bool> IsOn,
    Func<SimSettings, string>? Shown = null)
{
    /// <summary>The key without its <c>hviommu.</c> prefix, as scenario files write it.</summary>
    public string ShortKey => Key.StartsWith("hviommu.", StringComparison.Ordinal) ? Key["hviommu.".Length..] : Key;

    /// <summary>"H5 hypervisor.flush.drain-dma = off" with the value in force.</summary>
    public string Describe(SimSettings s) => $"{Id} {ShortKey} = {(Shown is null ? WrongValue : Shown(s))}";
}

/// <summary>
/// The hazard knobs, one row each: the one place that says which config key switches which hazard on. The
/// <c>validate</c> and <c>run</c> banners, the hazard a violation is attributed to, and what the minimizer
/// keeps fixed (the bug) derive from it; a test checks every row against config/reference.conf and the
/// scenario catalogue. To add a knob: add its key to reference.conf, its field to the settings, a row here,
/// and a wrong/right scenario pair under config/scenarios/.
/// </summary>
public static class HazardRegistry
{
    private static readonly ViolationKind[] Freed = [ViolationKind.DmaToFreedFrame, ViolationKind.StaleTranslationAfterFlush];
    private static readonly ViolationKind[] Stale = [ViolationKind.StaleTranslationAfterFlush, ViolationKind.DmaToFreedFrame];

    public static ImmutableArray<HazardKnob> All { get; } =
    [
        new("H1", "hviommu.driver.hazards.free-tables-before-flush", "on",
            "strict unmap frees the gathered page-table pages before the flush, while walk caches may still point at them", "§3.1, §5.2",
            [ViolationKind.WalkThroughFreedTable], s => s.Driver.Hazards.FreeTablesBeforeFlush),
        new("H1", "hviommu.hypervisor.flush.invalidate-walk-cache", "off",
            "the domain flush leaves the paging-structure (walk) cache alone", "§2.4, §4",
            [ViolationKind.WalkThroughFreedTable], s => !s.Hypervisor.Flush.InvalidateWalkCache),
        new("H2", "hviommu.driver.hazards.free-iova-before-flush", "on",
            "strict unmap frees the IOVA and the buffer before the flush, so both are reused under a live IOTLB entry", "§5.2",
            [.. Freed], s => s.Driver.Hazards.FreeIovaBeforeFlush),
        new("H2", "hviommu.driver.hazards.broken-flush-queue-counter", "on",
            "lazy flush queues reap an entry one flush early (counter <= finish instead of <)", "§5.3",
            [.. Freed], s => s.Driver.Hazards.BrokenFlushQueueCounter),
        new("H2", "hviommu.driver.hazards.flush-queue-published-early", "on",
            "the live sysfs switch to DMA-FQ publishes fq_domain before iommu_dma_init_fq has initialised the counters and per-CPU rings, so an unmap queues into a ring the init then resets, or a flush straddles the counter reset; on with lifecycle.sysfs-dma-fq-after", "§5.3",
            [ViolationKind.LeakedIova, ViolationKind.LeakedTablePage, ViolationKind.DmaToFreedFrame], s => s.Driver.Hazards.FlushQueuePublishedEarly && s.Lifecycle.SysfsDmaFqAfter > 0),
        new("H3", "hviommu.run.lazy-window-is-violation", "on",
            "the oracle counts a stale access inside lazy mode's flush-queue window as a violation (the accepted trade-off of lazy mode)", "§5.3",
            [ViolationKind.LazyWindowStaleAccess], s => s.Run.LazyWindowIsViolation),
        new("H4", "hviommu.hypervisor.flush.order", "devtlb-first",
            "the flush handler invalidates device TLBs before the IOTLB, so an ATS device refills from the stale IOTLB", "§4",
            [.. Stale], s => s.Hypervisor.Flush.Order == FlushOrder.DevTlbFirst),
        new("H5", "hviommu.hypervisor.flush.await-atc-completions", "off",
            "the flush completes before the ATS invalidation completions arrive", "§2.4",
            [.. Stale], s => !s.Hypervisor.Flush.AwaitAtcCompletions),
        new("H5", "hviommu.hypervisor.flush.invalidate-atc", "off",
            "no flush invalidates any device's ATC (Linux 041be2717b19: a device without a device-TLB cache tag), so ATS devices keep serving flushed translations", "§2.4",
            [.. Stale], s => !s.Hypervisor.Flush.InvalidateAtc),
        new("H5", "hviommu.hypervisor.flush.on-disconnected-device", "wait",
            "a flush waits for the ATS invalidation completion of a surprise-removed device, which never comes (Linux 4fc82cd907ac skips it); on with lifecycle.surprise-remove", "§2.4",
            [ViolationKind.HypercallHung], s => s.Hypervisor.Flush.OnDisconnectedDevice == DisconnectedDevicePolicy.Wait && s.Lifecycle.SurpriseRemove.Length > 0),
        new("H5", "hviommu.hypervisor.flush.wrong-only-after-attach", "on",
            "await-atc-completions = off / drain-dma = off only for the first flush after an ATTACH (Linux 0b15e02f0cc4: attach_device's flush did not wait for completion)", "§2.4",
            [.. Freed], s => s.Hypervisor.Flush.WrongOnlyAfterAttach && (!s.Hypervisor.Flush.AwaitAtcCompletions || !s.Hypervisor.Flush.DrainDma)),
        new("H5", "hviommu.hypervisor.flush.drain-dma", "off",
            "the flush completes before DMA already translated with the old entries has drained", "§2.4, §8",
            [.. Freed], s => !s.Hypervisor.Flush.DrainDma),
        new("H13", "hviommu.driver.hazards.ambiguous-device-id", "on",
            "probe_device manages a device whose logical device id (vPCI bus GUID bytes 4-7 + function) another bus shares, so ATTACH with that id moves whichever device the host matches first", "§1.9",
            [ViolationKind.IsolationBreach], s => s.Driver.Hazards.AmbiguousDeviceId),
        new("H17", "hviommu.driver.hazards.hypercall-input-irqs-on", "on",
            "the hypercall wrappers fill the per-vCPU input page with interrupts enabled, so an interrupt's hypercall refills the page before the interrupted call traps and the host executes the interrupt's input twice", "§1.7, §2.1",
            [ViolationKind.DmaToFreedFrame, ViolationKind.StaleTranslationAfterFlush], s => s.Driver.Hazards.HypercallInputIrqsOn),
        new("H15", "hviommu.driver.table-depth", "from-width",
            "generic_pt derives the table depth from the IOVA width (3 levels below 40 bits) while the host is told 4-level paging", "§1.5, §3",
            [ViolationKind.LostMapping, ViolationKind.IsolationBreach], s => s.Driver.TableDepth == Settings.TableDepthRule.FromWidth),
        new("H18", "hviommu.driver.hazards.flush-queue-overrun", "on",
            "a full flush queue takes the entry anyway after one inline flush, so the ring wraps and drops parked entries", "§5.3",
            [ViolationKind.LeakedIova, ViolationKind.LeakedTablePage], s => s.Driver.Hazards.FlushQueueOverrun),
        new("H19", "hviommu.driver.hazards.skip-map-flush", "on",
            "a map whose large leaf replaced an emptied table frees the table without the flush generic_pt's map_pages issues", "§1.7",
            [ViolationKind.WalkThroughFreedTable], s => s.Driver.Hazards.SkipMapFlush),
        new("H6", "hviommu.driver.hazards.racy-table-install", "on",
            "intermediate tables are installed by plain load and store instead of compare-exchange, so a concurrent map can lose a table", "§3.1",
            [ViolationKind.LostMapping], s => s.Driver.Hazards.RacyTableInstall),
        new("H7", "hviommu.driver.hazards.flush-range", "empty|off-by-one|overflow",
            "the list flush's block does not cover the unmapped range", "§1.10, §2.2",
            [.. Freed], s => s.Driver.Hazards.FlushRange != FlushRangeMode.Exact,
            s => Word(s.Driver.Hazards.FlushRange)),
        new("H8", "hviommu.driver.on-flush-failure", "log",
            "a failed flush hypercall is only logged (the RFC), so stale entries survive and the buffer is freed anyway", "§2.3",
            [.. Freed], s => s.Driver.OnFlushFailure == FlushFailurePolicy.Log),
        new("H9", "hviommu.lifecycle.disable-ats-before-block", "off",
            "ATS stays enabled when the device is blocked, so its ATC keeps serving translations", "§4, §5.5",
            [ViolationKind.IsolationBreach, ViolationKind.DmaToFreedFrame], s => !s.Lifecycle.DisableAtsBeforeBlock),
        new("H9", "hviommu.hypervisor.behaviour.detached-translation", "identity|last-domain",
            "a detached device is not blocked: it translates IOVA as GPA, or through its old domain that flushes no longer reach", "§2.2, §8",
            [ViolationKind.IsolationBreach, ViolationKind.DmaToFreedFrame, ViolationKind.StaleTranslationAfterFlush],
            s => s.Hypervisor.Behaviour.DetachedTranslation != DetachedTranslation.Blocked,
            s => Word(s.Hypervisor.Behaviour.DetachedTranslation)),
        new("H9", "hviommu.hypervisor.behaviour.flush-covers-departed-devices", "off",
            "a domain flush no longer reaches devices that left the domain since its last flush", "§8",
            [ViolationKind.StaleTranslationAfterFlush, ViolationKind.DmaToFreedFrame, ViolationKind.IsolationBreach],
            s => !s.Hypervisor.Behaviour.FlushCoversDepartedDevices),
        new("H9", "hviommu.lifecycle.ats-toggle-invalidates-atc", "off",
            "ATS is disabled and enabled again without invalidating the device's ATC (arm_smmu_disable_ats / arm_smmu_enable_ats do), so entries cached before are served again", "§4",
            [ViolationKind.DmaToFreedFrame, ViolationKind.StaleTranslationAfterFlush, ViolationKind.IsolationBreach], s => !s.Lifecycle.AtsToggleInvalidatesAtc),
        new("H9", "hviommu.hypervisor.behaviour.attach-invalidates-atc", "off",
            "ATTACH and DETACH change what an ATS device translates through without invalidating its untagged ATC", "§4, §8",
            [ViolationKind.IsolationBreach, ViolationKind.StaleTranslationAfterFlush, ViolationKind.DmaToFreedFrame], s => !s.Hypervisor.Behaviour.AttachInvalidatesAtc),
        new("H9", "hviommu.hypervisor.behaviour.attach-leaves-old-domain", "on",
            "ATTACH adds the device to its new domain without taking it out of the old one (cloud-hypervisor #6298), so the old domain still translates for it", "§2.2, §8",
            [ViolationKind.IsolationBreach], s => s.Hypervisor.Behaviour.AttachLeavesOldDomain),
        new("H9", "hviommu.lifecycle.quarantine-moved-device", "off",
            "a device moved into another device's paging domain keeps DMA-ing with its old IOVAs, which resolve to that device's buffers there (Xen XSA-302; the fix quarantines it); on with a domain switch to a paging domain (quarantine on diverts only a move into a populated one)", "§1.6, §5.5",
            [ViolationKind.IsolationBreach], s => !s.Lifecycle.QuarantineMovedDevice && s.Lifecycle.DomainSwitch != DomainSwitchMode.None && s.Lifecycle.DomainSwitchTo != "blocking"),
        new("H10", "hviommu.lifecycle.free-domain-before-detach", "on",
            "teardown frees each paging domain before its devices are detached and it is flushed", "§1.5",
            [ViolationKind.WalkThroughFreedTable, ViolationKind.HostReferencedTablesFreed, ViolationKind.DmaToFreedFrame], s => s.Lifecycle.FreeDomainBeforeDetach),
        new("H10", "hviommu.lifecycle.keep-tables-when-detach-fails", "off",
            "teardown frees a domain's tables although DETACH of its device failed (the RFC; Xen fix 7b658fd273f9 keeps them); on with a fault on DetachDeviceDomain", "§1.5",
            [ViolationKind.HostReferencedTablesFreed, ViolationKind.WalkThroughFreedTable],
            s => !s.Lifecycle.KeepTablesWhenDetachFails && s.Faults.Any(f => f.Call == Hypercalls.HypercallCode.DetachDeviceDomain)),
        new("H10", "hviommu.hypervisor.behaviour.delete-invalidates-caches", "off",
            "deleting a device domain leaves its IOTLB and walk-cache entries behind", "§8",
            [ViolationKind.WalkThroughFreedTable, ViolationKind.StaleTranslationAfterFlush], s => !s.Hypervisor.Behaviour.DeleteInvalidatesCaches),
        new("H11", "hviommu.lifecycle.early-dma-device", "<device name>",
            "a device bound before the IOMMU driver keeps DMA to a raw GPA after its paging domain is attached", "§1.9",
            [ViolationKind.LostMapping, ViolationKind.IsolationBreach], s => s.Lifecycle.EarlyDmaDevice.Length > 0,
            s => s.Lifecycle.EarlyDmaDevice),
        new("H14", "hviommu.hypervisor.behaviour.s2-change-invalidates-iotlb", "off",
            "a stage-2 change keeps the nested IOTLB and ATC entries derived from the old stage-2 entry", "§4",
            [ViolationKind.IsolationBreach, ViolationKind.DmaToFreedFrame], s => !s.Hypervisor.Behaviour.S2ChangeInvalidatesIotlb),
        new("H16", "hviommu.lifecycle.init-unwinding", "rfc-v1",
            "the init error path jumps past the static-domain cleanup (the RFC's goto targets)", "§1.3, §1.9",
            [ViolationKind.LeakedDomain, ViolationKind.UnwindOfStepNeverDone, ViolationKind.LeakedTablePage], s => s.Lifecycle.InitUnwinding == InitUnwinding.RfcV1),
    ];

    /// <summary>The knobs the settings switch on, in registry order.</summary>
    public static ImmutableArray<HazardKnob> Active(SimSettings s) => [.. All.Where(k => k.IsOn(s))];

    /// <summary>The hazard id a violation kind most often stands for: the first row that can cause it. A hang has none:
    /// a too-small hang timeout or step budget gives it as well (a knob that can cause one, like on-disconnected-device =
    /// wait, is still named by <see cref="Attribution"/> when it is on).</summary>
    public static string TypicalHazard(ViolationKind kind) =>
        kind == ViolationKind.HypercallHung ? "" : All.FirstOrDefault(k => k.Kinds.Contains(kind))?.Id ?? "";

    /// <summary>
    /// Attributes a violation kind to a hazard whose knob is on: the scenario's own hazard when one of its
    /// knobs is on and can cause the kind, else the first such knob; empty when no knob that is on can cause
    /// it (the finding then names no hazard: with every knob correct, it is a bug in the model or the driver).
    /// </summary>
    public static Func<ViolationKind, string> Attribution(SimSettings s)
    {
        var active = Active(s);
        var scenario = s.Hazard;
        return kind =>
        {
            var causes = active.Where(k => k.Kinds.Contains(kind)).ToList();
            return causes.FirstOrDefault(k => k.Id == scenario)?.Id ?? causes.FirstOrDefault()?.Id ?? "";
        };
    }

    /// <summary>The lower-case config word of an enum value (FlushRangeMode.OffByOne → off-by-one).</summary>
    private static string Word<T>(T value) where T : struct, Enum
    {
        var name = value.ToString();
        var text = new System.Text.StringBuilder();
        for (var i = 0; i < name.Length; i++)
        {
            if (char.IsUpper(name[i]) && i > 0)
                text.Append('-');
            text.Append(char.ToLowerInvariant(name[i]));
        }
        return text.ToString();
    }
}
