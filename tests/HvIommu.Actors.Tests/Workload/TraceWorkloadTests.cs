using System.Text.Json;
using HvIommu.Actors.Tests.Simulation;

namespace HvIommu.Actors.Tests.Workload;

/// <summary>Replaying the shipped kernel trace fixture from the command line: counts, cleanliness, flush paths, bad input.</summary>
[Trait("Category", "Scenario")]
public sealed class TraceWorkloadTests
{
    internal static string Fixture => Path.Combine(RunEndToEndTests.RepoRoot(), "tests", "fixtures", "traces", "nvme-vtd-strict.trace");

    /// <summary>The repository's copy of the whole kernel trace the fixture was cut from (gzip).</summary>
    internal static string RealTrace => Path.Combine(RunEndToEndTests.RepoRoot(), "traces", "linux-6.1-nvme-vtd-strict.trace.gz");

    internal static (long Maps, long Unmaps, long BytesMapped, long BytesUnmapped, long Header) CountFixture() => CountTrace(Fixture);

    /// <summary>Counts a trace's events independently of the parser: lines holding <c>: map: </c> or <c>: unmap: </c>.</summary>
    internal static (long Maps, long Unmaps, long BytesMapped, long BytesUnmapped, long Header) CountTrace(string path)
    {
        using var file = File.OpenRead(path);
        using var text = new StreamReader(path.EndsWith(".gz", StringComparison.Ordinal) ? new System.IO.Compression.GZipStream(file, System.IO.Compression.CompressionMode.Decompress) : file);
        var lines = text.ReadToEnd().Split('\n');
        static long Size(string l) => long.Parse(l.Split("size=")[1].Split(' ')[0]);
        var maps = lines.Where(l => l.Contains(": map: ", StringComparison.Ordinal)).ToList();
        var unmaps = lines.Where(l => l.Contains(": unmap: ", StringComparison.Ordinal)).ToList();
        return (maps.Count, unmaps.Count, maps.Sum(Size), unmaps.Sum(Size), lines.Count(l => l.StartsWith('#')));
    }

    private static JsonElement RunTrace(params string[] extra) => RunTraceFile(Fixture, extra);

    /// <summary>Replays <paramref name="trace"/> (exit 0 asserted) and returns its report.</summary>
    internal static JsonElement RunTraceFile(string trace, params string[] extra)
    {
        var report = Path.Combine(Path.GetTempPath(), $"hviommu-trace-{Guid.NewGuid():N}.json");
        try
        {
            var (exit, stdout, stderr) = RunEndToEndTests.Run(["run", "--workload-trace", trace, "--plain", "--report", report, .. extra]);
            Assert.True(exit == 0, $"exit {exit}\n{stdout}\n{stderr}");
            using var doc = JsonDocument.Parse(File.ReadAllText(report));
            return doc.RootElement.Clone();
        }
        finally
        {
            File.Delete(report);
        }
    }

    [Theory]
    [InlineData("stress", "strict", "domain", "global")]
    [InlineData("stress", "lazy", "list", "per-cpu")]
    [InlineData("deterministic", "strict", "list", "per-cpu")]
    [InlineData("deterministic", "lazy", "domain", "global")]
    public void The_fixture_replays_clean_with_the_files_own_counts(string mode, string dmaMode, string flush, string ordering)
    {
        var config = Path.Combine(Path.GetTempPath(), $"hviommu-trace-{Guid.NewGuid():N}.conf");
        File.WriteAllText(config, $$"""
            hviommu {
              vm.vcpus = 2
              driver { dma-mode = {{dmaMode}}, flush = {{flush}} }
              domains = [ { name = "dom" } ]
              devices = [ { name = "nvme0", domain = "dom" } ]
              run.ops = 0
              workload.trace-ordering = {{ordering}}
            }
            """);
        try
        {
            var root = RunTrace("--config", config, "--mode", mode, "--seed", "3");
            var stats = root.GetProperty("stats");
            var t = stats.GetProperty("workloadTrace");
            var (maps, unmaps, bytesMapped, bytesUnmapped, header) = CountFixture();
            Assert.Equal(maps, t.GetProperty("mapEvents").GetInt64());
            Assert.Equal(unmaps, t.GetProperty("unmapEvents").GetInt64());
            Assert.Equal(bytesMapped, t.GetProperty("bytesMapped").GetInt64());
            Assert.Equal(bytesUnmapped, t.GetProperty("bytesUnmapped").GetInt64());
            Assert.Equal(header, t.GetProperty("skippedLines").GetInt64());
            Assert.Equal(new[] { 0, 1 }, t.GetProperty("cpus").EnumerateArray().Select(c => c.GetInt32()).ToArray());
            // Calls are the trace's events; pages are 4 KiB pages (an event of 3 pages is one call and 3 pages).
            Assert.Equal(maps, stats.GetProperty("cost").GetProperty("mapCalls").GetInt64());
            Assert.Equal(unmaps, stats.GetProperty("cost").GetProperty("unmapCalls").GetInt64());
            Assert.True(stats.GetProperty("pagesMapped").GetInt64() * 4096 >= bytesMapped, "pagesMapped counts 4 KiB pages");
            // Pages unmapped are those the unmaps cleared (not a range mapped before the trace began).
            Assert.InRange(stats.GetProperty("pagesUnmapped").GetInt64(), 1, stats.GetProperty("pagesMapped").GetInt64());
            Assert.Equal(0, root.GetProperty("violations").GetArrayLength());
            Assert.True(stats.GetProperty("dmaTransactions").GetInt64() >= bytesMapped / 4096);
            var hypercalls = stats.GetProperty("hypercalls");
            long Calls(string name) => hypercalls.TryGetProperty(name, out var v) ? v.GetInt64() : 0;
            var flushes = Calls("FlushDeviceDomain") + Calls("FlushDeviceDomainList");
            if (dmaMode == "strict")
                Assert.True(flushes >= unmaps, $"{flushes} flushes for {unmaps} unmaps");
            else
                Assert.True(flushes < unmaps / 4, $"lazy mode flushed {flushes} times for {unmaps} unmaps");
            if (flush == "list" && dmaMode == "strict")
                Assert.True(Calls("FlushDeviceDomainList") > 0);
        }
        finally
        {
            File.Delete(config);
        }
    }

    [Fact]
    public void Without_a_config_the_trace_gets_a_topology_of_its_own()
    {
        var root = RunTrace("--seed", "5");
        var resolved = root.GetProperty("config").GetProperty("resolved");
        Assert.Equal(2, resolved.GetProperty("vm").GetProperty("vcpus").GetInt32());
        Assert.Equal(1, resolved.GetProperty("devices").GetArrayLength());
        Assert.Equal(0, root.GetProperty("violations").GetArrayLength());
    }

    [Fact]
    public void With_a_config_the_trace_drives_its_device_while_the_others_run_the_synthetic_workload()
    {
        var root = RunTrace("--config", Path.Combine(RunEndToEndTests.RepoRoot(), "config", "default.conf"), "--ops", "300", "--seed", "2");
        var stats = root.GetProperty("stats");
        var (maps, unmaps, _, _, _) = CountFixture();
        // Synthetic operations make one dma_map and one dma_unmap call each (of buffers from the default size mix) on
        // top of the trace's events.
        var cost = stats.GetProperty("cost");
        Assert.Equal(maps + 300, cost.GetProperty("mapCalls").GetInt64());
        Assert.Equal(unmaps + 300, cost.GetProperty("unmapCalls").GetInt64());
        Assert.True(stats.GetProperty("pagesMapped").GetInt64() >= stats.GetProperty("pagesUnmapped").GetInt64());
        Assert.Equal(0, root.GetProperty("violations").GetArrayLength());
    }

    [Fact]
    public void A_trace_in_a_config_is_found_relative_to_the_config_file()
    {
        var dir = Directory.CreateTempSubdirectory("hviommu-trace-");
        try
        {
            File.Copy(Fixture, Path.Combine(dir.FullName, "io.trace"));
            var config = Path.Combine(dir.FullName, "t.conf");
            File.WriteAllText(config, """hviommu { vm.vcpus = 2, run.ops = 0, workload.trace = "io.trace", devices = [ { name = "nvme", domain = "dom" } ] }""");
            var (exit, stdout, stderr) = RunEndToEndTests.Run(["run", "--config", config, "--plain"]);
            Assert.True(exit == 0, $"exit {exit}\n{stdout}\n{stderr}");
            Assert.Contains("trace map / unmap events", stdout);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void A_malformed_trace_line_exits_2_naming_the_file_line_and_what_was_expected()
    {
        var file = Path.Combine(Path.GetTempPath(), $"hviommu-bad-{Guid.NewGuid():N}.trace");
        var lines = File.ReadAllLines(Fixture).Take(40).ToList();
        lines[30] = lines[30].Replace("paddr=", "phys=", StringComparison.Ordinal);
        File.WriteAllLines(file, lines);
        try
        {
            var (exit, stdout, stderr) = RunEndToEndTests.Run(["run", "--workload-trace", file, "--plain"]);
            Assert.Equal(2, exit);
            Assert.Contains(file, stderr);
            Assert.Contains("line 31", stderr);
            Assert.Contains("expected 'map: IOMMU: iova=0x<start> - 0x<end> paddr=0x<pa> size=<bytes>'", stderr);
            Assert.DoesNotContain("   at ", stderr);
            Assert.DoesNotContain("HvIommu.Actors run", stdout);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void Too_few_vcpus_for_the_traced_cpus_is_bad_input()
    {
        var config = Path.Combine(Path.GetTempPath(), $"hviommu-trace-{Guid.NewGuid():N}.conf");
        File.WriteAllText(config, "hviommu { vm.vcpus = 1 }");
        try
        {
            var (exit, _, stderr) = RunEndToEndTests.Run(["run", "--config", config, "--workload-trace", Fixture]);
            Assert.Equal(2, exit);
            Assert.Contains("hviommu.vm.vcpus", stderr);
            Assert.Contains("2 CPUs", stderr);
        }
        finally
        {
            File.Delete(config);
        }
    }

    [Fact]
    public void A_deterministic_replay_is_reproducible()
    {
        var a = RunTrace("--mode", "deterministic", "--seed", "11");
        var b = RunTrace("--mode", "deterministic", "--seed", "11");
        Assert.Equal(a.GetProperty("traceHash").GetString(), b.GetProperty("traceHash").GetString());
    }
}
