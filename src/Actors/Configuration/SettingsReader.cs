using System.Globalization;
using System.Collections.Immutable;
using Akka.Configuration;
using HvIommu.Model.Driver;
using HvIommu.Model.Hypercalls;
using HvIommu.Model.Settings;

namespace HvIommu.Actors.Configuration;

/// <summary>
/// Turns the merged <c>hviommu</c> tree into <see cref="SimSettings"/>, checking every value's type and
/// range and the topology's cross references (a device naming a missing domain, duplicate names, more
/// domains than the host allows, 5-level tables without the capability). Problems are collected.
/// </summary>
internal static class SettingsReader
{
    private const string Root = "hviommu.";

    public static SimSettings Read(HoconReader r)
    {
        var iommu = ReadIommu(r);
        var driver = ReadDriver(r);
        var domains = ReadDomains(r, out var groups);
        var devices = ReadDevices(r, groups);
        var settings = new SimSettings(
            Seed: r.ULong(Root + "seed"),
            Mode: r.Choice(Root + "mode", ConfigWords.Mode, RunMode.Stress),
            Expect: r.Choice(Root + "expect", ConfigWords.Expect, Expectation.Clean),
            ExpectKind: NullIfEmpty(r.String(Root + "expect-kind")),
            Name: r.String(Root + "name"),
            Hazard: r.String(Root + "hazard"),
            Description: r.String(Root + "description"),
            Run: ReadRun(r),
            Vm: new VmSettings(r.Int(Root + "vm.memory-mib", 4, 65536, 256), r.Int(Root + "vm.vcpus", 1, 1024, 1)),
            Iommu: iommu,
            Driver: driver,
            Hypervisor: ReadHypervisor(r),
            Domains: domains,
            Devices: devices,
            Workload: ReadWorkload(r),
            Faults: ReadFaults(r),
            Lifecycle: ReadLifecycle(r));
        CrossCheck(r, settings);
        return settings;
    }

    private static RunSettings ReadRun(HoconReader r) => new(
        Ops: r.Long(Root + "run.ops", 0, long.MaxValue, 1),
        Duration: r.Duration(Root + "run.duration", TimeSpan.FromMilliseconds(1), TimeSpan.FromDays(7), TimeSpan.FromSeconds(60)),
        HangTimeout: r.Duration(Root + "run.hang-timeout", TimeSpan.FromMilliseconds(1), TimeSpan.FromHours(1), TimeSpan.FromSeconds(10)),
        ProgressInterval: r.Duration(Root + "run.progress-interval", TimeSpan.FromMilliseconds(50), TimeSpan.FromHours(1), TimeSpan.FromSeconds(1)),
        MaxViolationsKept: r.Int(Root + "run.max-violations-kept", 1, 1_000_000, 100),
        StopOnFirstViolation: r.Bool(Root + "run.stop-on-first-violation", true),
        LazyWindowIsViolation: r.Bool(Root + "run.lazy-window-is-violation"),
        Dispatcher: r.String(Root + "run.dispatcher", "hviommu.stress-dispatcher"),
        TraceCapacity: r.Int(Root + "run.trace-capacity", 1, 100_000_000, 200_000),
        ReuseActors: r.Bool(Root + "run.reuse-actors", true));

    private static IommuSettings ReadIommu(HoconReader r)
    {
        ulong caps = 0;
        var capNames = ConfigWords.Capabilities;
        foreach (var word in r.StringList(Root + "iommu.capabilities"))
        {
            var match = capNames.FirstOrDefault(kv => HoconReader.Normalize(kv.Key) == HoconReader.Normalize(word));
            if (match.Key is null)
                r.Problem(Root + "iommu.capabilities", word, "unknown capability; allowed: " + string.Join(", ", capNames.Keys));
            else
                caps |= (ulong)match.Value;
        }
        ulong sizes = 0;
        foreach (var word in r.StringList(Root + "iommu.page-sizes"))
        {
            var match = ConfigWords.PageSizes.FirstOrDefault(kv => kv.Key.Equals(word, StringComparison.OrdinalIgnoreCase));
            if (match.Key is null)
                r.Problem(Root + "iommu.page-sizes", word, "unknown page size; allowed: " + string.Join(", ", ConfigWords.PageSizes.Keys));
            else
                sizes |= match.Value;
        }
        return new IommuSettings(
            CapabilityBits: caps,
            MaxIovaWidth: r.Int(Root + "iommu.max-iova-width", 32, 57, 48),
            MaxPasidWidth: r.Int(Root + "iommu.max-pasid-width", 0, 20),
            PageSizeBitmap: sizes,
            MaxDomains: r.Int(Root + "iommu.max-domains", 2, 1 << 20, 4096),
            IotlbEntries: r.Int(Root + "iommu.iotlb-entries", 1, 1 << 24, 4096),
            WalkCacheEntries: r.Int(Root + "iommu.walk-cache-entries", 1, 1 << 24, 1024),
            AtcEntries: r.Int(Root + "iommu.atc-entries", 1, 1 << 20, 64));
    }

    private static DriverSettings ReadDriver(HoconReader r) => new(
        DmaMode: r.Choice(Root + "driver.dma-mode", ConfigWords.DmaMode, DmaMode.Strict),
        TableDepth: r.Choice(Root + "driver.table-depth", ConfigWords.TableDepth, TableDepthRule.TopLevel),
        Flush: r.Choice(Root + "driver.flush", ConfigWords.Flush, FlushKind.Domain),
        FlushQueueEntries: r.Int(Root + "driver.flush-queue.entries", 2, 1 << 16, 256),
        FlushQueueTimeout: r.Duration(Root + "driver.flush-queue.timeout", TimeSpan.FromMilliseconds(0.001), TimeSpan.FromMinutes(10), TimeSpan.FromMilliseconds(10)),
        OnFlushFailure: r.Choice(Root + "driver.on-flush-failure", ConfigWords.OnFlushFailure, FlushFailurePolicy.Fallback),
        Hazards: ReadDriverHazards(r),
        FlushQueueHz: r.Int(Root + "driver.flush-queue.hz", 100, 1000, 250),
        FlushQueueInitFails: r.Bool(Root + "driver.flush-queue.init-fails"));

    private static DriverHazards ReadDriverHazards(HoconReader r)
    {
        const string h = Root + "driver.hazards.";
        return new DriverHazards(
            FreeTablesBeforeFlush: r.Bool(h + "free-tables-before-flush"),
            FreeIovaBeforeFlush: r.Bool(h + "free-iova-before-flush"),
            BrokenFlushQueueCounter: r.Bool(h + "broken-flush-queue-counter"),
            RacyTableInstall: r.Bool(h + "racy-table-install"),
            FlushRange: r.Choice(h + "flush-range", ConfigWords.FlushRange, FlushRangeMode.Exact),
            FlushQueueOverrun: r.Bool(h + "flush-queue-overrun"),
            SkipMapFlush: r.Bool(h + "skip-map-flush"),
            FlushQueuePublishedEarly: r.Bool(h + "flush-queue-published-early"),
            AmbiguousDeviceId: r.Bool(h + "ambiguous-device-id"),
            HypercallInputIrqsOn: r.Bool(h + "hypercall-input-irqs-on"));
    }

    private static HypervisorSettings ReadHypervisor(HoconReader r)
    {
        const string f = Root + "hypervisor.flush.";
        const string l = Root + "hypervisor.latency.";
        var flush = new FlushHandlerSettings(
            Order: r.Choice(f + "order", ConfigWords.FlushOrder, FlushOrder.IotlbFirst),
            AwaitAtcCompletions: r.Bool(f + "await-atc-completions", true),
            DrainDma: r.Bool(f + "drain-dma", true),
            InvalidateWalkCache: r.Bool(f + "invalidate-walk-cache", true),
            InvalidateAtc: r.Bool(f + "invalidate-atc", true),
            OnDisconnectedDevice: r.Choice(f + "on-disconnected-device", ConfigWords.OnDisconnectedDevice, DisconnectedDevicePolicy.SkipDisconnected),
            WrongOnlyAfterAttach: r.Bool(f + "wrong-only-after-attach"));
        long Ns(string key) => r.Long(l + key, 0, 10_000_000_000);
        var latency = new LatencySettings(Ns("vm-exit-ns"), Ns("flush-domain-ns"), Ns("flush-list-ns"), Ns("atc-invalidate-ns"),
            Ns("iotlb-hit-ns"), Ns("walk-reference-ns"), Ns("dma-transfer-ns"), Ns("hypercall-ns"), r.Long(l + "atc-timeout-ns", 1, 600_000_000_000));
        const string b = Root + "hypervisor.behaviour.";
        var behaviour = new HostBehaviourSettings(
            DetachedTranslation: r.Choice(b + "detached-translation", ConfigWords.DetachedTranslation, DetachedTranslation.Blocked),
            DeleteInvalidatesCaches: r.Bool(b + "delete-invalidates-caches", true),
            FlushCoversDepartedDevices: r.Bool(b + "flush-covers-departed-devices", true),
            S2MigrationEveryFlushes: r.Int(b + "s2-migration-every-flushes", 0, 1_000_000),
            S2ChangeInvalidatesIotlb: r.Bool(b + "s2-change-invalidates-iotlb", true),
            AttachInvalidatesAtc: r.Bool(b + "attach-invalidates-atc", true),
            AttachLeavesOldDomain: r.Bool(b + "attach-leaves-old-domain"));
        return new HypervisorSettings(flush, latency, behaviour);
    }

    private static LifecycleSettings ReadLifecycle(HoconReader r)
    {
        const string l = Root + "lifecycle.";
        return new LifecycleSettings(
            InitUnwinding: r.Choice(l + "init-unwinding", ConfigWords.InitUnwinding, InitUnwinding.Fixed),
            FailInitStep: r.Choice(l + "fail-init-step", ConfigWords.InitStep, InitStep.None),
            DomainSwitch: r.Choice(l + "domain-switch", ConfigWords.DomainSwitch, DomainSwitchMode.None),
            DomainSwitchEveryOps: r.Int(l + "domain-switch-every", 1, 1_000_000, 8),
            DomainSwitchTo: r.String(l + "domain-switch-to"),
            DisableAtsBeforeBlock: r.Bool(l + "disable-ats-before-block", true),
            FreeDomainBeforeDetach: r.Bool(l + "free-domain-before-detach"),
            EarlyDmaDevice: r.String(l + "early-dma-device"),
            AtsToggleInvalidatesAtc: r.Bool(l + "ats-toggle-invalidates-atc", true),
            KeepTablesWhenDetachFails: r.Bool(l + "keep-tables-when-detach-fails"),
            SurpriseRemove: r.String(l + "surprise-remove"),
            SurpriseRemoveAfter: r.Int(l + "surprise-remove-after", 1, 1_000_000, 20),
            QuarantineMovedDevice: r.Bool(l + "quarantine-moved-device"),
            SysfsDmaFqAfter: r.Int(l + "sysfs-dma-fq-after", 0, 1_000_000));
    }

    private static WorkloadSettings ReadWorkload(HoconReader r) => new(
        BufferPages: r.Int(Root + "workload.buffer-pages", 0, 4096, 1),
        DmaPerOp: r.Int(Root + "workload.dma-per-op", 1, 4096, 1),
        DmaBytes: r.Int(Root + "workload.dma-bytes", 1, 4096, 64),
        WriteFraction: r.Double(Root + "workload.write-fraction", 0, 1, 0.5),
        OutstandingPerVcpu: r.Int(Root + "workload.outstanding-per-vcpu", 1, 1024, 1))
    {
        Trace = TraceWorkloadReader.Read(r),
        BufferSizes = ReadBufferSizes(r),
    };

    private static ImmutableArray<Model.Workload.BufferSizeRange> ReadBufferSizes(HoconReader r)
    {
        var key = Root + "workload.buffer-sizes";
        var result = ImmutableArray.CreateBuilder<Model.Workload.BufferSizeRange>();
        foreach (var text in r.StringList(key))
        {
            if (Model.Workload.BufferSizeRange.Parse(text, out var error) is { } range)
                result.Add(range);
            else
                r.Problem(key, text, $"expected {error}");
        }
        if (result.Count == 0 && r.Int(Root + "workload.buffer-pages", 0, 4096, 1) == 0)
            r.Problem(key, "[]", "a non-empty list of sizes (4K, 2M) or ranges (8K-60K) when workload.buffer-pages = 0");
        return result.ToImmutable();
    }

    /// <summary>
    /// A scenario that expects a violation of a hazard with knobs must switch one of them on: a violation is only
    /// ever attributed to a hazard whose knob is on. When none is, the file was most likely cut short (a truncated
    /// file that still parses: the knob was in the part that is missing) or the knob was left out. Only for a file
    /// as written (<see cref="SimConfig.Load"/>): a sweep or an override may switch the knob off on purpose.
    /// </summary>
    internal static void CheckHazardKnobOn(HoconReader r, SimSettings s)
    {
        if (s.Expect != Expectation.Violation || s.Hazard.Length == 0)
            return;
        var knobs = HvIommu.Model.Hazards.HazardRegistry.All.Where(k => k.Id == s.Hazard).ToList();
        if (knobs.Count > 0 && !knobs.Any(k => k.IsOn(s)))
            r.Problem(Root + "hazard", s.Hazard, $"expect = violation of {s.Hazard}, but none of its knobs is on ("
                + string.Join(", ", knobs.Select(k => $"{k.ShortKey} = {k.WrongValue}")) + "): is the file cut short, or the knob left out?");
    }

    private static ImmutableArray<DomainSpec> ReadDomains(HoconReader r, out Dictionary<string, List<string>> groups)
    {
        groups = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        var result = ImmutableArray.CreateBuilder<DomainSpec>();
        var list = r.List(Root + "domains");
        var literalDuplicates = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < list.Count; i++)
        {
            if (!list[i].IsObject())
            {
                r.Problem(Root + $"domains[{i}]", HoconReader.Render(list[i]), "expected an object { name = …, count = … }");
                continue;
            }
            var e = r.Element(Root + "domains", i, list[i], ConfigurationFactory.ParseString("count = 1"));
            CheckKeys(e, list[i], "name", "count");
            var name = e.String("name");
            var count = e.Int("count", 1, MaxDomains, 1);
            if (!ValidName(e, name))
                continue;
            var members = Expand(name, count);
            if (groups.ContainsKey(name) && literalDuplicates.Add(name))
                e.Problem("name", name, "duplicate domain name");
            groups[name] = members;
            result.AddRange(members.Select(m => new DomainSpec(m)));
        }
        // A name written twice was reported at its second entry; only a clash the counts made is new here.
        foreach (var dup in result.GroupBy(d => d.Name).Where(g => g.Count() > 1 && !literalDuplicates.Contains(g.Key)))
            r.Problem(Root + "domains", dup.Key, "duplicate domain name (after expanding counts)");
        return result.ToImmutable();
    }

    private static ImmutableArray<DeviceSpec> ReadDevices(HoconReader r, Dictionary<string, List<string>> groups)
    {
        var defaults = r.Merged.GetConfig(Root + "device-defaults");
        var all = groups.Values.SelectMany(m => m).ToHashSet(StringComparer.Ordinal);
        var result = ImmutableArray.CreateBuilder<DeviceSpec>();
        var list = r.List(Root + "devices");
        var deviceIndex = 0;
        for (var i = 0; i < list.Count; i++)
        {
            if (!list[i].IsObject())
            {
                r.Problem(Root + $"devices[{i}]", HoconReader.Render(list[i]), "expected an object { name = …, domain = … }");
                continue;
            }
            var e = r.Element(Root + "devices", i, list[i], defaults, Root + "device-defaults");
            CheckKeys(e, list[i], "name", "domain", "count", "ats", "in-flight", "behaviour", "replay-probability", "vmbus-guid");
            var name = e.String("name");
            var domain = e.String("domain");
            var count = e.Int("count", 1, MaxDevices, 1);
            var ats = e.Bool("ats");
            var inFlight = e.Int("in-flight", 1, 4096, 1);
            var behaviour = e.Choice("behaviour", ConfigWords.Behaviour, DeviceBehaviour.WellBehaved);
            var replay = e.Double("replay-probability", 0, 1);
            var guid = ReadVmbusGuid(e, count);
            if (!ValidName(e, name))
                continue;
            List<string> targets;
            if (groups.TryGetValue(domain, out var members))
                targets = members;
            else if (all.Contains(domain))
                targets = [domain];
            else if (r.SourceOf(Root + "domains") != HoconReader.ReferenceFile
                && (groups.Count == 0 || r.SourceOf(Root + "devices") == HoconReader.ReferenceFile))
            {
                // The user's file replaced the domain list (emptied it, or renamed its domains) and a device — theirs, or
                // reference.conf's they kept — names a domain no longer there: blame the list they wrote, once.
                var fromReference = r.SourceOf(Root + "devices") == HoconReader.ReferenceFile ? " (from reference.conf)" : "";
                if (!r.Problems.Any(p => p.Key == Root + "domains"))
                    r.Problem(Root + "domains", groups.Count == 0 ? "[]" : string.Join(", ", groups.Keys),
                        $"no domain \"{domain}\", but device {name}{fromReference} attaches to it; define it here (or give hviommu.devices domains that exist)");
                continue;
            }
            else
            {
                e.Problem("domain", domain, groups.Count == 0
                    ? "names a domain, but hviommu.domains is empty"
                    : "no such domain; defined: " + string.Join(", ", groups.Keys));
                continue;
            }
            foreach (var member in Expand(name, count))
                result.Add(new DeviceSpec(member, targets[deviceIndex++ % targets.Count], ats, inFlight, behaviour, replay, guid));
        }
        foreach (var dup in result.GroupBy(d => d.Name).Where(g => g.Count() > 1))
            r.Problem(Root + "devices", dup.Key, "duplicate device name (after expanding counts)");
        foreach (var dup in result.Where(d => d.VmbusGuid is not null).GroupBy(d => d.VmbusGuid).Where(g => g.Count() > 1))
            r.Problem(Root + "devices", dup.Key!.Value.ToString(), $"vmbus-guid shared by {string.Join(", ", dup.Select(d => d.Name))}; every vPCI bus has its own instance GUID");
        return result.ToImmutable();
    }

    /// <summary>A device's <c>vmbus-guid</c>: "" = drawn from the seed; else a GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx),
    /// which only a single device (count = 1) can have — it names one vPCI bus.</summary>
    private static Guid? ReadVmbusGuid(HoconReader e, int count)
    {
        var text = e.String("vmbus-guid");
        if (text.Length == 0)
            return null;
        if (!Guid.TryParseExact(text, "D", out var guid))
        {
            e.Problem("vmbus-guid", text, "expected a GUID such as 6f1c2a3b-44d5-4e6f-8a9b-0c1d2e3f4a5b, or \"\" to draw one from the seed");
            return null;
        }
        if (count > 1)
        {
            e.Problem("vmbus-guid", text, $"a vPCI bus GUID names one device, but count = {count}; give each device its own entry");
            return null;
        }
        return guid;
    }

    private static ImmutableArray<FaultSpec> ReadFaults(HoconReader r)
    {
        var result = ImmutableArray.CreateBuilder<FaultSpec>();
        var list = r.List(Root + "faults");
        for (var i = 0; i < list.Count; i++)
        {
            if (!list[i].IsObject())
            {
                r.Problem(Root + $"faults[{i}]", HoconReader.Render(list[i]), "expected an object { call = …, probability = …, status = … }");
                continue;
            }
            var e = r.Element(Root + "faults", i, list[i], null);
            CheckKeys(e, list[i], "call", "probability", "status");
            var callName = e.String("call");
            var probability = e.Double("probability", 0, 1);
            var statusName = e.String("status");
            var callOk = HypercallCodeExtensions.TryParse(callName, out var call);
            if (!callOk)
                e.Problem("call", callName, "unknown hypercall; allowed: " + string.Join(", ", Enum.GetNames<HypercallCode>()));
            if (!HvStatusExtensions.TryParse(statusName, out var status))
                e.Problem("status", statusName, "unknown HV_STATUS; allowed: " + string.Join(", ", Enum.GetNames<HvStatus>()));
            else if (status == HvStatus.Success)
                e.Problem("status", statusName, "an injected fault must be a failure status, not Success");
            if (callOk)
                result.Add(new FaultSpec(call, probability, status));
        }
        return result.ToImmutable();
    }

    private static void CrossCheck(HoconReader r, SimSettings s)
    {
        var caps = (IommuCapabilities)s.Iommu.CapabilityBits;
        if (s.Driver.FlushQueueEntries is var fq && (fq & (fq - 1)) != 0)
            r.Problem(Root + "driver.flush-queue.entries", fq.ToString(), "must be a power of two (the ring wraps with mod_mask = entries - 1; Linux uses 256 per CPU or 32768 for the single queue)");
        if (s.Domains.Length + 2 > s.Iommu.MaxDomains)
        {
            // Blame the key the user wrote: the domain list, or max-domains when only that was changed.
            var domainsGiven = r.SourceOf(Root + "domains") != HoconReader.ReferenceFile;
            r.Problem(Root + (domainsGiven ? "domains" : "iommu.max-domains"), (domainsGiven ? s.Domains.Length : s.Iommu.MaxDomains).ToString(CultureInfo.InvariantCulture),
                $"{s.Domains.Length} paging domain{(s.Domains.Length == 1 ? "" : "s")} plus identity and blocking need hviommu.iommu.max-domains >= {s.Domains.Length + 2} (it is {s.Iommu.MaxDomains})");
        }
        CheckResources(r, s);
        // Only when the list itself is empty: entries rejected above already have their own problem.
        if (s.Devices.Length == 0 && !r.Problems.Any(p => p.Key.StartsWith(Root + "devices", StringComparison.Ordinal) || p.Key == Root + "domains"))
            r.Problem(Root + "devices", "[]", "a topology needs at least one device");
        if (s.Expect == Expectation.Clean && s.ExpectKind is not null)
            r.Problem(Root + "expect-kind", s.ExpectKind, "only meaningful with expect = violation");
        // By name only: Enum.TryParse also takes numbers ("-1", "99"), which name no kind.
        if (s.ExpectKind is not null && !Enum.GetNames<HvIommu.Model.Oracle.ViolationKind>().Contains(s.ExpectKind, StringComparer.Ordinal))
            r.Problem(Root + "expect-kind", s.ExpectKind, "unknown violation kind; allowed: " + string.Join(", ", Enum.GetNames<HvIommu.Model.Oracle.ViolationKind>()));
        var life = s.Lifecycle;
        if (life.SurpriseRemove.Length > 0 && s.Devices.Length > 0 && !s.Devices.Any(d => d.Name == life.SurpriseRemove))
            r.Problem(Root + "lifecycle.surprise-remove", life.SurpriseRemove, "no such device; defined: " + string.Join(", ", s.Devices.Select(d => d.Name)));
        if (life.EarlyDmaDevice.Length > 0 && s.Devices.Length > 0 && !s.Devices.Any(d => d.Name == life.EarlyDmaDevice))
            r.Problem(Root + "lifecycle.early-dma-device", life.EarlyDmaDevice, "no such device; defined: " + string.Join(", ", s.Devices.Select(d => d.Name)));
        if (life.DomainSwitchTo.Length > 0 && life.DomainSwitchTo != "blocking" && s.Domains.Length > 0 && !s.Domains.Any(d => d.Name == life.DomainSwitchTo))
            r.Problem(Root + "lifecycle.domain-switch-to", life.DomainSwitchTo, "expected \"blocking\", \"\" or a domain; defined: " + string.Join(", ", s.Domains.Select(d => d.Name)));
        else if (life.DomainSwitch != DomainSwitchMode.None && life.DomainSwitchTo.Length == 0 && s.Domains.Length < 2)
            r.Problem(Root + "lifecycle.domain-switch", ConfigWords.Name(ConfigWords.DomainSwitch, life.DomainSwitch), "a domain switch needs a second paging domain, or domain-switch-to = blocking (H9)");
        if (life.SysfsDmaFqAfter > 0 && s.Driver.DmaMode != DmaMode.Strict)
            r.Problem(Root + "lifecycle.sysfs-dma-fq-after", life.SysfsDmaFqAfter.ToString(CultureInfo.InvariantCulture), "the sysfs switch to DMA-FQ brings up the flush queue of a strict domain: set driver.dma-mode = strict (or 0 for no switch)");
        if ((s.Iommu.PageSizeBitmap & (1UL << 12)) == 0)
            r.Problem(Root + "iommu.page-sizes", "", "the driver needs 4K pages (later revisions refuse a hypervisor without them)");
    }

    /// <summary>Most devices and domains a run may have (the largest shipped topology has 256 devices, 16 domains).</summary>
    public const int MaxDevices = 4096;
    public const int MaxDomains = 4096;

    /// <summary>
    /// Bounds that keep a run within a machine: device and domain counts, and guest memory enough for the
    /// buffers the workload keeps outstanding at once (vCPUs × outstanding × buffer pages, plus one table
    /// page per level and domain and a margin), so that a topology that cannot run is refused before it starts.
    /// </summary>
    private static void CheckResources(HoconReader r, SimSettings s)
    {
        if (s.Devices.Length > MaxDevices)
            r.Problem(Root + "devices", s.Devices.Length.ToString(CultureInfo.InvariantCulture), $"{s.Devices.Length:N0} devices (after expanding counts) is more than the {MaxDevices:N0} a run may have");
        if (s.Domains.Length > MaxDomains)
            r.Problem(Root + "domains", s.Domains.Length.ToString(CultureInfo.InvariantCulture), $"{s.Domains.Length:N0} domains (after expanding counts) is more than the {MaxDomains:N0} a run may have");
        var frames = (long)s.Vm.MemoryMib * 256;
        var buffers = (long)s.Vm.Vcpus * s.Workload.OutstandingPerVcpu * s.Workload.MaxSmallFramesPerBuffer;
        var tables = (long)(s.Domains.Length + 2) * 5; // at most 5 levels, one table each to start
        var needed = buffers + tables;
        if (needed * 2 > frames)
        {
            var mib = (needed * 2 + 255) / 256;
            r.Problem(Root + "vm.memory-mib", s.Vm.MemoryMib.ToString(CultureInfo.InvariantCulture),
                $"too small: {s.Vm.Vcpus} vCPUs × {s.Workload.OutstandingPerVcpu} outstanding × {s.Workload.MaxSmallFramesPerBuffer} buffer pages and the page tables need {needed:N0} of its {frames:N0} 4 KiB frames, and twice that for reuse to work; allowed: at least {mib}");
        }
    }

    private static void CheckKeys(HoconReader e, Akka.Configuration.Hocon.HoconValue element, params string[] allowed)
    {
        foreach (var (key, value) in element.GetObject().Items)
            if (!allowed.Contains(key))
                e.Problem(key, HoconReader.Render(value), "unknown key; allowed: " + string.Join(", ", allowed));
    }

    private static bool ValidName(HoconReader e, string name)
    {
        // ASCII only: a device's name becomes its actor's (Akka's actor names take no other letters).
        if (name.Length > 0 && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
            return true;
        e.Problem("name", name, "expected a non-empty name of ASCII letters, digits, '-' or '_'");
        return false;
    }

    private static List<string> Expand(string name, int count) =>
        count == 1 ? [name] : Enumerable.Range(0, count).Select(i => name + i).ToList();

    private static string? NullIfEmpty(string s) => s.Length == 0 ? null : s;
}
