using HvIommu.Actors.Configuration;
using HvIommu.Model.Hypercalls;
using HvIommu.Model.Settings;

namespace HvIommu.Actors.Tests.Configuration;

/// <summary>Every default of config/reference.conf, read through an empty overlay into the typed settings.</summary>
[Trait("Category", "Model")]
public sealed class ReferenceDefaultsSpec
{
    private static readonly SimSettings Defaults = SimConfig.Parse("", "t.conf").Settings;

    [Fact]
    public void Top_level_defaults()
    {
        Assert.Equal(1UL, Defaults.Seed);
        Assert.Equal(RunMode.Stress, Defaults.Mode);
        Assert.Equal(Expectation.Clean, Defaults.Expect);
        Assert.Null(Defaults.ExpectKind);
        Assert.Equal("", Defaults.Name);
        Assert.Equal("", Defaults.Hazard);
        Assert.Equal("", Defaults.Description);
        Assert.Empty(Defaults.Faults);
    }

    [Fact]
    public void Run_defaults() =>
        Assert.Equal(new RunSettings(
            Ops: 20000,
            Duration: TimeSpan.FromSeconds(60),
            HangTimeout: TimeSpan.FromSeconds(10),
            ProgressInterval: TimeSpan.FromSeconds(1),
            MaxViolationsKept: 100,
            StopOnFirstViolation: true,
            LazyWindowIsViolation: false,
            Dispatcher: "hviommu.stress-dispatcher",
            TraceCapacity: 200_000), Defaults.Run);

    [Fact]
    public void Vm_defaults() => Assert.Equal(new VmSettings(MemoryMib: 256, Vcpus: 4), Defaults.Vm);

    [Fact]
    public void Iommu_defaults()
    {
        Assert.Equal(new IommuSettings(
            CapabilityBits: (ulong)(IommuCapabilities.Present | IommuCapabilities.S1 | IommuCapabilities.Ats),
            MaxIovaWidth: 48,
            MaxPasidWidth: 0,
            PageSizeBitmap: (1UL << 12) | (1UL << 21) | (1UL << 30),
            MaxDomains: 4096,
            IotlbEntries: 4096,
            WalkCacheEntries: 1024,
            AtcEntries: 64), Defaults.Iommu);
    }

    [Fact]
    public void Driver_defaults() =>
        Assert.Equal(new DriverSettings(
            DmaMode: DmaMode.Strict,
            TableDepth: HvIommu.Model.Settings.TableDepthRule.TopLevel,
            Flush: FlushKind.Domain,
            FlushQueueEntries: 256,
            FlushQueueTimeout: TimeSpan.FromMilliseconds(10),
            OnFlushFailure: FlushFailurePolicy.Fallback,
            Hazards: DriverHazards.None), Defaults.Driver);

    [Fact]
    public void Driver_hazards_are_all_off_by_default() =>
        Assert.Equal(new DriverHazards(
            FreeTablesBeforeFlush: false,
            FreeIovaBeforeFlush: false,
            BrokenFlushQueueCounter: false,
            RacyTableInstall: false,
            FlushRange: FlushRangeMode.Exact), Defaults.Driver.Hazards);

    [Fact]
    public void Hypervisor_defaults()
    {
        Assert.Equal(new FlushHandlerSettings(
            Order: FlushOrder.IotlbFirst,
            AwaitAtcCompletions: true,
            DrainDma: true,
            InvalidateWalkCache: true), Defaults.Hypervisor.Flush);
        Assert.Equal(new LatencySettings(
            VmExitNs: 1500,
            FlushDomainNs: 3000,
            FlushListNs: 1000,
            AtcInvalidateNs: 2000,
            IotlbHitNs: 5,
            WalkReferenceNs: 80,
            DmaTransferNs: 500,
            HypercallNs: 500), Defaults.Hypervisor.Latency);
    }

    [Fact]
    public void Host_behaviour_defaults_are_the_safe_answers_to_the_open_questions() =>
        Assert.Equal(new HostBehaviourSettings(
            DetachedTranslation: DetachedTranslation.Blocked,
            DeleteInvalidatesCaches: true), Defaults.Hypervisor.Behaviour);

    [Fact]
    public void Lifecycle_defaults() =>
        Assert.Equal(new LifecycleSettings(
            InitUnwinding: InitUnwinding.Fixed,
            FailInitStep: InitStep.None,
            DomainSwitch: DomainSwitchMode.None,
            DomainSwitchEveryOps: 8,
            DomainSwitchTo: "",
            DisableAtsBeforeBlock: true,
            FreeDomainBeforeDetach: false,
            EarlyDmaDevice: "",
            QuarantineMovedDevice: true), Defaults.Lifecycle);

    [Fact]
    public void Workload_defaults()
    {
        Assert.Equal(new WorkloadSettings(
            BufferPages: 0,
            DmaPerOp: 8,
            DmaBytes: 64,
            WriteFraction: 0.5,
            OutstandingPerVcpu: 2) { BufferSizes = Defaults.Workload.BufferSizes }, Defaults.Workload);
        // The default mix has 2 MiB buffers, so the default run maps large leaves (stats.mapping).
        Assert.Equal(["4K", "4K", "4K", "8K-64K", "2M"], Defaults.Workload.BufferSizes.Select(r => r.ToString()));
        Assert.Equal((16, 0), Defaults.Workload.HugePools(Defaults.Vm.Vcpus));
    }

    [Fact]
    public void Topology_defaults_are_one_domain_and_one_device()
    {
        Assert.Equal([new DomainSpec("dom")], Defaults.Domains.ToArray());
        Assert.Equal([new DeviceSpec("nic", "dom", Ats: false, InFlight: 4, DeviceBehaviour.WellBehaved, ReplayProbability: 0.0)], Defaults.Devices.ToArray());
    }

    [Fact]
    public void Device_defaults_fill_every_key_a_device_entry_omits()
    {
        var settings = SimConfig.Parse("hviommu.devices = [ { name = x, domain = dom } ]", "t.conf").Settings;
        Assert.Equal(new DeviceSpec("x", "dom", false, 4, DeviceBehaviour.WellBehaved, 0.0), Assert.Single(settings.Devices));
    }

    [Fact]
    public void Device_defaults_can_be_changed_for_every_device_at_once()
    {
        const string text = """
            hviommu {
              device-defaults { ats = on, in-flight = 16, behaviour = stale-replay, replay-probability = 0.25 }
              devices = [ { name = a, domain = dom, count = 2 }, { name = b, domain = dom, ats = off } ]
            }
            """;
        var devices = SimConfig.Parse(text, "t.conf").Settings.Devices;
        Assert.Equal(
            [
                new DeviceSpec("a0", "dom", true, 16, DeviceBehaviour.StaleReplay, 0.25),
                new DeviceSpec("a1", "dom", true, 16, DeviceBehaviour.StaleReplay, 0.25),
                new DeviceSpec("b", "dom", false, 16, DeviceBehaviour.StaleReplay, 0.25),
            ], devices.ToArray());
    }

    [Fact]
    public void Counts_expand_names_and_spread_devices_over_a_domain_group_round_robin()
    {
        const string text = """
            hviommu {
              domains = [ { name = d, count = 3 } ]
              devices = [ { name = n, domain = d, count = 4 }, { name = one, domain = d1 } ]
            }
            """;
        var s = SimConfig.Parse(text, "t.conf").Settings;
        Assert.Equal(["d0", "d1", "d2"], s.Domains.Select(d => d.Name));
        Assert.Equal(["n0:d0", "n1:d1", "n2:d2", "n3:d0", "one:d1"], s.Devices.Select(d => $"{d.Name}:{d.Domain}"));
    }
}
