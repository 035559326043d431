using System.Text.Json;
using HvIommu.Actors.Cli;
using HvIommu.Actors.Reporting;

namespace HvIommu.Actors.Tests.Simulation;

/// <summary>Whole runs from the command line: the default topology and every file in config/topologies run clean.</summary>
[Trait("Category", "Scenario")]
public sealed class RunEndToEndTests
{
    public static TheoryData<string?> Topologies()
    {
        var data = new TheoryData<string?> { (string?)null };
        foreach (var file in Directory.GetFiles(Path.Combine(RepoRoot(), "config", "topologies"), "*.conf").OrderBy(f => f, StringComparer.Ordinal))
            data.Add(Path.GetRelativePath(RepoRoot(), file));
        return data;
    }

    [Theory]
    [MemberData(nameof(Topologies))]
    public void Topology_runs_clean_with_dma_maps_unmaps_and_flushes(string? config)
    {
        var report = Path.Combine(Path.GetTempPath(), $"hviommu-e2e-{Guid.NewGuid():N}.json");
        try
        {
            var args = new List<string> { "run", "--ops", "300", "--seed", "7", "--plain", "--report", report };
            if (config is not null)
                args.AddRange(["--config", Path.Combine(RepoRoot(), config)]);
            var (exit, stdout, stderr) = Run(args.ToArray());
            Assert.True(exit == 0, $"exit {exit}\n{stdout}\n{stderr}");

            using var doc = JsonDocument.Parse(File.ReadAllText(report));
            var root = doc.RootElement;
            Assert.Equal(RunReport.CurrentSchemaVersion, root.GetProperty("schemaVersion").GetInt32());
            Assert.Equal(7UL, root.GetProperty("seed").GetUInt64());
            Assert.Equal("stress", root.GetProperty("mode").GetString());
            Assert.True(root.GetProperty("outcomeMatched").GetBoolean());
            Assert.Equal(0, root.GetProperty("violations").GetArrayLength());
            var stats = root.GetProperty("stats");
            Assert.True(stats.GetProperty("dmaTransactions").GetInt64() > 0);
            Assert.True(stats.GetProperty("pagesMapped").GetInt64() >= 300);
            Assert.Equal(stats.GetProperty("pagesMapped").GetInt64(), stats.GetProperty("pagesUnmapped").GetInt64());
            var cost = stats.GetProperty("cost");
            Assert.Equal(cost.GetProperty("mapCalls").GetInt64(), cost.GetProperty("unmapCalls").GetInt64());
            Assert.True(stats.GetProperty("pagesMapped").GetInt64() >= cost.GetProperty("mapCalls").GetInt64(), "a dma_map call maps one page or more");
            Assert.Equal("wall", stats.GetProperty("latencyClock").GetString());
            Assert.True(stats.GetProperty("hypercalls").GetProperty("FlushDeviceDomain").GetInt64() > 0);
            Assert.True(stats.GetProperty("messagesDelivered").GetInt64() > 0);
            Assert.Equal(JsonValueKind.Object, root.GetProperty("config").GetProperty("resolved").ValueKind);
        }
        finally
        {
            File.Delete(report);
        }
    }

    /// <summary>The default mix has 2 MiB buffers from the hugetlb pool: the default run maps 2 MiB leaves, and every
    /// map's IOVA came from the allocator's caches or its tree.</summary>
    [Fact]
    public void The_default_run_maps_large_leaves_and_reports_them()
    {
        var stats = RunStats(null, "--mode", "deterministic", "--seed", "3");
        var mapping = stats.GetProperty("mapping");
        Assert.True(mapping.GetProperty("leavesBySize").GetProperty("2M").GetInt64() > 0);
        Assert.True(mapping.GetProperty("leavesBySize").GetProperty("4K").GetInt64() > 0);
        var iova = mapping.GetProperty("iova");
        Assert.Equal(stats.GetProperty("cost").GetProperty("mapCalls").GetInt64(),
            iova.GetProperty("cacheHits").GetInt64() + iova.GetProperty("treeAllocations").GetInt64());
        Assert.True(iova.GetProperty("cacheHits").GetInt64() > 0);
    }

    /// <summary>iommu_dma_init_fq failing for a lazy domain: the domain falls back to strict, so every unmap flushes (one
    /// VM exit on the unmap path per unmap call), where the lazy domain batches them.</summary>
    [Fact]
    public void A_lazy_domain_whose_flush_queue_cannot_be_set_up_falls_back_to_strict()
    {
        var lazy = Path.Combine(RepoRoot(), "config", "topologies", "lazy.conf");
        var failing = Path.Combine(Path.GetTempPath(), $"hviommu-fq-fails-{Guid.NewGuid():N}.conf");
        File.WriteAllText(failing, File.ReadAllText(lazy) + "\nhviommu.driver.flush-queue.init-fails = on\n");
        try
        {
            static (long Unmaps, long Exits) UnmapExits(System.Text.Json.JsonElement stats) =>
                (stats.GetProperty("cost").GetProperty("unmapCalls").GetInt64(), stats.GetProperty("cost").GetProperty("vmExitsByPath").GetProperty("unmap").GetInt64());
            var (lazyUnmaps, lazyExits) = UnmapExits(RunStats(lazy, "--mode", "deterministic", "--seed", "2"));
            var (strictUnmaps, strictExits) = UnmapExits(RunStats(failing, "--mode", "deterministic", "--seed", "2"));

            Assert.True(lazyExits < lazyUnmaps, $"lazy: {lazyExits} exits for {lazyUnmaps} unmaps");
            Assert.Equal(strictUnmaps, strictExits);
        }
        finally
        {
            File.Delete(failing);
        }
    }

    /// <summary>The sysfs switch to DMA-FQ (iommu_group_store_type → iommu_dma_init_fq) on a strict domain: before it every
    /// unmap flushes (one unmap-path exit per unmap); after it unmaps go through the flush queue, so the run ends with
    /// fewer unmap-path exits than unmaps, and clean.</summary>
    [Fact]
    public void The_sysfs_switch_to_dma_fq_turns_a_strict_domain_lazy_mid_run()
    {
        var right = Path.Combine(RepoRoot(), "config", "scenarios", "h2-fq-half-init-right.conf");
        var stats = RunStats(right, "--mode", "deterministic", "--seed", "3");
        var cost = stats.GetProperty("cost");
        var (unmaps, exits) = (cost.GetProperty("unmapCalls").GetInt64(), cost.GetProperty("vmExitsByPath").GetProperty("unmap").GetInt64());
        Assert.True(exits < unmaps, $"{exits} unmap-path exits for {unmaps} unmaps");
        // 40 strict unmaps on vCPU 0 alone came before the switch, one exit each.
        Assert.True(exits >= 40, $"{exits} unmap-path exits");
    }

    /// <summary>H13's pair end to end: the safe probe refuses the two aliased devices before any hypercall (-ENODEV) and
    /// the probe walk goes on, so only nic2 is asked about, attached and driven; the RFC probes and attaches all three
    /// (the second ATTACH with the shared id moves nic0).</summary>
    [Fact]
    public void A_probe_failure_of_the_aliased_devices_leaves_the_third_device_working()
    {
        static (long Property, long Attach, long Dma) Counts(System.Text.Json.JsonElement stats)
        {
            var calls = stats.GetProperty("hypercalls");
            return (calls.GetProperty("GetLogicalDeviceProperty").GetInt64(), calls.GetProperty("AttachDeviceDomain").GetInt64(), stats.GetProperty("dmaTransactions").GetInt64());
        }
        var right = Counts(RunStats(Path.Combine(RepoRoot(), "config", "scenarios", "h13-device-id-alias-right.conf"), "--seed", "2"));
        Assert.Equal((1L, 1L), (right.Property, right.Attach));
        Assert.True(right.Dma >= 300 * 8, $"{right.Dma} DMA transactions: nic2 should carry all 300 operations' DMA");
        var wrong = RunStats(Path.Combine(RepoRoot(), "config", "scenarios", "h13-device-id-alias-wrong.conf"), "--seed", "2");
        Assert.Equal((3L, 3L), (Counts(wrong).Property, Counts(wrong).Attach));
    }

    [Fact]
    public void The_report_counts_the_driver_events_that_happened_and_only_those()
    {
        long Event(System.Text.Json.JsonElement stats, string name) =>
            stats.GetProperty("driverEvents").TryGetProperty(name, out var n) ? n.GetInt64() : 0;
        // H13's right twin refuses the two devices that share a logical id: two probes returned -ENODEV.
        var refused = RunStats(Path.Combine(RepoRoot(), "config", "scenarios", "h13-device-id-alias-right.conf"), "--seed", "2");
        Assert.Equal(2, Event(refused, "devicesNotManaged"));
        // H17's wrong twin fills the input page with interrupts on: interrupts land in the window and replace inputs.
        var h17 = RunStats(Path.Combine(RepoRoot(), "config", "scenarios", "h17-input-page-wrong.conf"), "--seed", "1");
        Assert.True(Event(h17, "interruptsInHypercallWindow") > 0 && Event(h17, "hypercallInputsReplaced") > 0, h17.GetProperty("driverEvents").ToString());
        // The default run has none of them, and the map stays empty rather than listing zeros.
        Assert.Empty(RunStats(null, "--seed", "1").GetProperty("driverEvents").EnumerateObject());
    }

    private static System.Text.Json.JsonElement RunStats(string? config, params string[] extra)
    {
        var report = Path.Combine(Path.GetTempPath(), $"hviommu-e2e-{Guid.NewGuid():N}.json");
        try
        {
            var args = new List<string> { "run", "--ops", "300", "--plain", "--report", report };
            if (config is not null)
                args.AddRange(["--config", config]);
            args.AddRange(extra);
            var (exit, stdout, stderr) = Run(args.ToArray());
            Assert.True(exit == 0, $"exit {exit}\n{stdout}\n{stderr}");
            using var doc = JsonDocument.Parse(File.ReadAllText(report));
            return doc.RootElement.GetProperty("stats").Clone();
        }
        finally
        {
            File.Delete(report);
        }
    }

    [Fact]
    public void A_broken_config_exits_2_with_the_file_and_key()
    {
        var file = Path.Combine(Path.GetTempPath(), $"hviommu-bad-{Guid.NewGuid():N}.conf");
        File.WriteAllText(file, "hviommu { vm { vcpus = zero } }");
        try
        {
            var (exit, _, stderr) = Run(["run", "--config", file]);
            Assert.Equal(2, exit);
            Assert.Contains(file, stderr);
            Assert.Contains("hviommu.vm.vcpus", stderr);
            Assert.DoesNotContain("   at ", stderr);
        }
        finally
        {
            File.Delete(file);
        }
    }

    internal static (int Exit, string Stdout, string Stderr) Run(string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var exit = CommandLine.Run(args, stdout, stderr);
        return (exit, stdout.ToString(), stderr.ToString());
    }

    internal static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "HvIommu.Actors.sln")))
            dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("repository root not found");
    }
}
