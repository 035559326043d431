using System.Globalization;
using HvIommu.Actors.Configuration;
using HvIommu.Model.Hazards;
using HvIommu.Model.Settings;
using HvIommu.Model.Text;

namespace HvIommu.Actors.Cli;

/// <summary>
/// The resolved topology as readable text: one labelled line per section, then the domain list and the
/// device table. Large topologies are summarised (devices per domain, the first
/// <see cref="DevicesListed"/> devices, then how many more) so the output stays a screenful.
/// </summary>
internal static class TopologyText
{
    public const int DevicesListed = 16;
    public const int DomainsListed = 16;

    public static void Write(TextWriter w, LoadedConfig loaded)
    {
        var s = loaded.Settings;
        // A label as wide as the column or wider ("host behaviour") keeps one space before its text.
        void Line(string label, string text) => w.WriteLine($"{(label.Length < 12 ? label.PadRight(12) : label + " ")}{text}");

        Line("config", loaded.File);
        Line("seed", s.Seed.ToString(CultureInfo.InvariantCulture));
        Line("mode", ConfigWords.Name(ConfigWords.Mode, s.Mode));
        Line("expect", s.Expect == Expectation.Violation ? $"violation ({s.ExpectKind ?? "any kind"})" : "clean");
        if (s.Name.Length > 0 || s.Hazard.Length > 0)
            Line("scenario", string.Join("  ", new[] { s.Name, s.Hazard.Length > 0 ? $"hazard {s.Hazard}" : "" }.Where(t => t.Length > 0)));
        if (s.Description.Length > 0)
            Line("description", s.Description);
        Line("run", $"{Counted.Of(s.Run.Ops, "op")}, duration {Show(s.Run.Duration)}, hang timeout {Show(s.Run.HangTimeout)}, "
            + $"progress every {Show(s.Run.ProgressInterval)}, keep {Counted.Of(s.Run.MaxViolationsKept, "violation")}, "
            + $"stop on first violation {OnOff(s.Run.StopOnFirstViolation)}, lazy window is violation {OnOff(s.Run.LazyWindowIsViolation)}");
        Line("vm", $"{s.Vm.MemoryMib} MiB, {Counted.Of(s.Vm.Vcpus, "vCPU")}");
        WriteIommu(Line, s.Iommu);
        WriteDriver(Line, s.Driver, HvIommu.Model.Driver.TableDepth.For(s).Levels);
        WriteHypervisor(Line, s.Hypervisor);
        WriteHazards(Line, s);
        Line("workload", $"buffers of {BufferSizes(s.Workload)}, {s.Workload.DmaPerOp} DMA per op of {s.Workload.DmaBytes} bytes, "
            + $"write fraction {Num(s.Workload.WriteFraction)}, {s.Workload.OutstandingPerVcpu} outstanding per vCPU");
        Line("faults", s.Faults.IsEmpty
            ? "none"
            : string.Join("; ", s.Faults.Select(f => $"{f.Call} fails with {f.Status} at probability {Num(f.Probability)}")));
        WriteDomains(Line, s);
        WriteDevices(w, Line, s);
    }

    private static void WriteIommu(Action<string, string> line, IommuSettings i)
    {
        var caps = ConfigWords.Capabilities.Where(c => (i.CapabilityBits & (ulong)c.Value) != 0).Select(c => c.Key);
        line("iommu", $"capabilities {string.Join(", ", caps)}; IOVA width {i.MaxIovaWidth}, PASID width {i.MaxPasidWidth}, "
            + $"max domains {i.MaxDomains}");
        line("page sizes", string.Join(", ", ConfigWords.BitNames(ConfigWords.PageSizes, i.PageSizeBitmap)));
        line("caches", $"IOTLB {i.IotlbEntries}, walk cache {i.WalkCacheEntries}, ATC {Counted.Of(i.AtcEntries, "entry", "entries")}");
    }

    private static void WriteDriver(Action<string, string> line, DriverSettings d, int levels) =>
        line("driver", $"dma-mode {ConfigWords.Name(ConfigWords.DmaMode, d.DmaMode)}, {levels}-level tables{(d.TableDepth == HvIommu.Model.Settings.TableDepthRule.FromWidth ? " (depth from the IOVA width)" : "")}, "
            + $"flush {ConfigWords.Name(ConfigWords.Flush, d.Flush)}, flush queue {Counted.Of(d.FlushQueueEntries, "entry", "entries")} / {Show(d.FlushQueueTimeout)}, "
            + $"on flush failure {ConfigWords.Name(ConfigWords.OnFlushFailure, d.OnFlushFailure)}");

    /// <summary>The hazard knobs in force (docs/hazards.md), from the hazard registry, or "none".</summary>
    private static void WriteHazards(Action<string, string> line, SimSettings s)
    {
        var on = HazardRegistry.Active(s).Select(k => k.Describe(s)).ToList();
        line("hazards", on.Count == 0 ? "none" : string.Join("; ", on));
        var l = s.Lifecycle;
        var events = new List<string>();
        if (l.DomainSwitch != DomainSwitchMode.None)
            events.Add(DomainSwitch(s));
        if (l.FailInitStep != InitStep.None)
            events.Add($"init fails at {ConfigWords.Name(ConfigWords.InitStep, l.FailInitStep)}");
        if (s.Hypervisor.Behaviour.S2MigrationEveryFlushes > 0)
            events.Add($"host migrates a DMA page every {s.Hypervisor.Behaviour.S2MigrationEveryFlushes} flushes");
        if (events.Count > 0)
            line("events", string.Join("; ", events));
    }

    /// <summary>
    /// "domain switch attach-replace to dom0 every 1 op", and, when the device would be moved into a domain that holds
    /// other devices' live buffers and lifecycle.quarantine-moved-device is on, where it really goes: the blocking
    /// domain (the quarantine Linux and Xen apply), so a run never silently tests another move than the one it names.
    /// </summary>
    public static string DomainSwitch(SimSettings s)
    {
        var l = s.Lifecycle;
        var text = $"domain switch {ConfigWords.Name(ConfigWords.DomainSwitch, l.DomainSwitch)}{(s.SwitchTargetName is { } to ? " to " + to : "")} every {Counted.Of(l.DomainSwitchEveryOps, "op")}";
        return l.QuarantineMovedDevice && s.SwitchesIntoPopulatedDomain
            ? text + $" (quarantined: {s.SwitchTargetName} holds other devices' buffers, so the device goes to the blocking domain instead; lifecycle.quarantine-moved-device = off moves it there)"
            : text;
    }

    /// <summary>The few lines <c>run</c> prints before it starts: what runs, with which seed, and the hazards in force.</summary>
    public static void WriteBanner(TextWriter w, LoadedConfig config)
    {
        var s = config.Settings;
        w.WriteLine($"HvIommu.Actors run: {config.File}{(s.Name.Length > 0 ? $" ({s.Name})" : "")}");
        w.WriteLine($"  seed={s.Seed} mode={ConfigWords.Name(ConfigWords.Mode, s.Mode)} ops={s.Run.Ops} duration={Show(s.Run.Duration)} "
            + $"expect={(s.Expect == Expectation.Violation ? "violation" : "clean")}{(s.ExpectKind is null ? "" : ":" + s.ExpectKind)}{(s.Hazard.Length > 0 ? " hazard=" + s.Hazard : "")}");
        w.WriteLine($"  vcpus={s.Vm.Vcpus} memory={s.Vm.MemoryMib}MiB domains={s.Domains.Length} devices={s.Devices.Length} "
            + $"(ats={s.Devices.Count(d => d.Ats)}, misbehaving={s.Devices.Count(d => d.Behaviour != DeviceBehaviour.WellBehaved)})");
        w.WriteLine($"  driver: {ConfigWords.Name(ConfigWords.DmaMode, s.Driver.DmaMode)} mode, {HvIommu.Model.Driver.TableDepth.For(s).Levels}-level tables, "
            + $"{ConfigWords.Name(ConfigWords.Flush, s.Driver.Flush)} flush, on-flush-failure={ConfigWords.Name(ConfigWords.OnFlushFailure, s.Driver.OnFlushFailure)}");
        var f = s.Hypervisor.Flush;
        w.WriteLine($"  flush handler: order={ConfigWords.Name(ConfigWords.FlushOrder, f.Order)} invalidate-atc={OnOff(f.InvalidateAtc)} on-disconnected={ConfigWords.Name(ConfigWords.OnDisconnectedDevice, f.OnDisconnectedDevice)} await-atc={OnOff(f.AwaitAtcCompletions)} drain={OnOff(f.DrainDma)} walk-cache={OnOff(f.InvalidateWalkCache)} wrong-only-after-attach={OnOff(f.WrongOnlyAfterAttach)}");
        if (s.Workload.Trace.Enabled)
            w.WriteLine($"  trace workload: {s.Workload.Trace.File} ({s.Workload.Trace.Ordering.ToString().ToLowerInvariant()} order, device {(s.Workload.Trace.Device.Length > 0 ? s.Workload.Trace.Device : s.Devices[0].Name)}, {s.Workload.Trace.DmaPerPage} DMA per page)");
        w.WriteLine($"  host behaviour: {Behaviour(s.Hypervisor.Behaviour)}");
        w.WriteLine($"  workload: buffers of {BufferSizes(s.Workload)}, {s.Workload.DmaPerOp} DMA per op, {s.Workload.OutstandingPerVcpu} outstanding per vCPU; faults={s.Faults.Length}");
        if (s.Lifecycle.DomainSwitch != DomainSwitchMode.None)
            w.WriteLine($"  {DomainSwitch(s)}");
        var hazards = HazardRegistry.Active(s);
        w.WriteLine($"  hazards: {(hazards.IsEmpty ? "none" : string.Join("; ", hazards.Select(k => k.Describe(s))))}");
    }

    private static void WriteHypervisor(Action<string, string> line, HypervisorSettings h)
    {
        var f = h.Flush;
        line("flush", $"order {ConfigWords.Name(ConfigWords.FlushOrder, f.Order)}, await ATC completions {OnOff(f.AwaitAtcCompletions)}, "
            + $"drain DMA {OnOff(f.DrainDma)}, invalidate walk cache {OnOff(f.InvalidateWalkCache)}, invalidate ATCs {OnOff(f.InvalidateAtc)}, "
            + $"on disconnected device {ConfigWords.Name(ConfigWords.OnDisconnectedDevice, f.OnDisconnectedDevice)}, wrong only after attach {OnOff(f.WrongOnlyAfterAttach)}");
        line("host behaviour", Behaviour(h.Behaviour));
        var l = h.Latency;
        line("latency", $"VM exit {l.VmExitNs} ns, flush domain {l.FlushDomainNs} ns, flush list {l.FlushListNs} ns, "
            + $"ATC invalidate {l.AtcInvalidateNs} ns, IOTLB hit {l.IotlbHitNs} ns, walk reference {l.WalkReferenceNs} ns, "
            + $"DMA transfer {l.DmaTransferNs} ns");
    }

    private static void WriteDomains(Action<string, string> line, SimSettings s)
    {
        var names = s.Domains.Select(d => d.Name).ToList();
        line("domains", $"{names.Count}: {FirstThenMore(names, DomainsListed)}");
    }

    private static void WriteDevices(TextWriter w, Action<string, string> line, SimSettings s)
    {
        var ats = s.Devices.Count(d => d.Ats);
        line("devices", $"{s.Devices.Length} ({ats} with ATS)");
        if (s.Devices.Length > DevicesListed)
        {
            var perDomain = s.Devices.GroupBy(d => d.Domain).Select(g => $"{g.Key} {g.Count()}").ToList();
            line("per domain", FirstThenMore(perDomain, DomainsListed));
        }
        var shown = s.Devices.Take(DevicesListed).ToList();
        var nameWidth = Math.Max("name".Length, shown.Max(d => d.Name.Length));
        var domainWidth = Math.Max("domain".Length, shown.Max(d => d.Domain.Length));
        w.WriteLine($"  {"name".PadRight(nameWidth)}  {"domain".PadRight(domainWidth)}  ats  in-flight  {"behaviour",-12}  replay");
        foreach (var d in shown)
            w.WriteLine($"  {d.Name.PadRight(nameWidth)}  {d.Domain.PadRight(domainWidth)}  {OnOff(d.Ats),-3}  {d.InFlight,9}  "
                + $"{ConfigWords.Name(ConfigWords.Behaviour, d.Behaviour),-12}  {Num(d.ReplayProbability)}");
        if (s.Devices.Length > shown.Count)
            w.WriteLine($"  … {s.Devices.Length - shown.Count} more");
    }

    /// <summary>The buffer sizes the synthetic workload maps: <c>buffer-pages</c> when set, else the
    /// <c>buffer-sizes</c> mix each buffer is drawn from (<c>buffer-pages = 0</c> is not a size).</summary>
    private static string BufferSizes(WorkloadSettings w) =>
        w.BufferPages > 0 ? Counted.Of(w.BufferPages, "page") : $"sizes drawn from [{string.Join(", ", w.BufferSizes)}]";

    /// <summary>Every hypervisor.behaviour.* setting in force, by its key ([UNKNOWN] host behaviour, brief §8).</summary>
    public static string Behaviour(HostBehaviourSettings b) =>
        $"detached-translation={ConfigWords.Name(ConfigWords.DetachedTranslation, b.DetachedTranslation)} "
        + $"delete-invalidates-caches={OnOff(b.DeleteInvalidatesCaches)} flush-covers-departed-devices={OnOff(b.FlushCoversDepartedDevices)} "
        + $"attach-invalidates-atc={OnOff(b.AttachInvalidatesAtc)} s2-migration-every-flushes={b.S2MigrationEveryFlushes} "
        + $"s2-change-invalidates-iotlb={OnOff(b.S2ChangeInvalidatesIotlb)} attach-leaves-old-domain={OnOff(b.AttachLeavesOldDomain)}";

    private static string FirstThenMore(IReadOnlyList<string> items, int first) =>
        items.Count <= first
            ? string.Join(", ", items)
            : string.Join(", ", items.Take(first)) + $", … {items.Count - first} more";

    private static string OnOff(bool b) => b ? "on" : "off";

    private static string Num(double d) => d.ToString("0.###", CultureInfo.InvariantCulture);

    private static string Show(TimeSpan t) => t.TotalMilliseconds < 1000
        ? $"{t.TotalMilliseconds.ToString("0.###", CultureInfo.InvariantCulture)}ms"
        : $"{t.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture)}s";
}
