using System.Text.Json;
using HvIommu.Actors.Tests.Simulation;

namespace HvIommu.Actors.Tests.Workload;

/// <summary>compare on the shipped kernel trace fixture: the flush designs side by side, clean, with the figures
/// each design must show.</summary>
[Trait("Category", "Scenario")]
public sealed class CompareCommandTests
{
    [Fact]
    public void Compare_runs_the_four_flush_designs_on_the_trace_and_each_is_clean()
    {
        var dir = Directory.CreateTempSubdirectory("hviommu-compare-");
        try
        {
            var (exit, stdout, stderr) = RunEndToEndTests.Run(["compare", "--workload-trace", TraceWorkloadTests.Fixture, "--out", dir.FullName, "--plain", "--seed", "4"]);
            Assert.True(exit == 0, $"exit {exit}\n{stdout}\n{stderr}");
            Assert.Contains("strict-domain", stdout);
            foreach (var f in new[] { "compare.json", "compare.csv", "vm-exits-collateral.png", "vm-exits-collateral.svg", "iotlb-hit-rate.png", "iotlb-hit-rate.svg", "translation-latency-cdf.png", "translation-latency-cdf.svg" })
                Assert.True(new FileInfo(Path.Combine(dir.FullName, f)).Length > 0, f);
            Assert.Equal(5, File.ReadAllLines(Path.Combine(dir.FullName, "compare.csv")).Length);

            using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir.FullName, "compare.json")));
            var variants = doc.RootElement.GetProperty("variants").EnumerateArray().ToDictionary(v => v.GetProperty("name").GetString()!);
            Assert.Equal(new[] { "strict-domain", "strict-list", "lazy-domain", "lazy-list" }, variants.Keys.ToArray());
            var (maps, unmaps, _, _, _) = TraceWorkloadTests.CountFixture();
            foreach (var (name, v) in variants)
            {
                Assert.Equal(0, v.GetProperty("violations").GetInt64());
                Assert.Equal(maps, v.GetProperty("maps").GetInt64());
                Assert.Equal(unmaps, v.GetProperty("unmaps").GetInt64());
                foreach (var key in new[] { "dmaMode", "flush", "vmExits", "vmExitsPerUnmap", "flushHypercalls", "listEntries", "iotlbHitRate", "collateralInvalidations", "simulatedNsPerOp" })
                    Assert.True(v.TryGetProperty(key, out _), $"{name} lacks {key}");
            }
            long Flushes(string n) => variants[n].GetProperty("flushHypercalls").GetInt64();
            Assert.True(Flushes("strict-domain") >= unmaps);
            Assert.True(Flushes("strict-list") >= unmaps);
            Assert.True(variants["strict-domain"].GetProperty("vmExitsPerUnmap").GetDouble() >= 1.0);
            Assert.True(Flushes("lazy-domain") * 4 < unmaps, $"lazy flushed {Flushes("lazy-domain")} times for {unmaps} unmaps");
            Assert.True(variants["strict-list"].GetProperty("listEntries").GetInt64() >= unmaps - 10);
            Assert.Equal(0, variants["strict-domain"].GetProperty("listEntries").GetInt64());
            long Collateral(string n) => variants[n].GetProperty("collateralInvalidations").GetInt64();
            Assert.True(Collateral("strict-list") <= Collateral("strict-domain"), $"list {Collateral("strict-list")} > domain {Collateral("strict-domain")}");
            Assert.True(Collateral("strict-domain") > 0);
            Assert.True(variants["strict-list"].GetProperty("iotlbHitRate").GetDouble() >= variants["strict-domain"].GetProperty("iotlbHitRate").GetDouble());
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void Compare_with_an_ats_topology_adds_the_ats_off_variants()
    {
        var dir = Directory.CreateTempSubdirectory("hviommu-compare-");
        try
        {
            var (exit, stdout, stderr) = RunEndToEndTests.Run(["compare", "--config", Path.Combine(RunEndToEndTests.RepoRoot(), "config", "default.conf"),
                "--ops", "200", "--out", dir.FullName, "--plain", "--variants", "strict-domain,strict-domain-ats-off"]);
            Assert.True(exit == 0, $"exit {exit}\n{stdout}\n{stderr}");
            using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir.FullName, "compare.json")));
            var v = doc.RootElement.GetProperty("variants").EnumerateArray().ToList();
            Assert.True(v[0].GetProperty("ats").GetBoolean());
            Assert.False(v[1].GetProperty("ats").GetBoolean());
            Assert.NotEqual(JsonValueKind.Null, v[0].GetProperty("atcHitRate").ValueKind);
            Assert.Equal(JsonValueKind.Null, v[1].GetProperty("atcHitRate").ValueKind);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Theory]
    [InlineData("--variants", "strict-sometimes")]
    [InlineData("--mode", "fast")]
    public void Bad_compare_options_exit_2(string option, string value)
    {
        var (exit, _, stderr) = RunEndToEndTests.Run(["compare", "--workload-trace", TraceWorkloadTests.Fixture, "--out", Path.GetTempPath(), option, value]);
        Assert.Equal(2, exit);
        Assert.Contains(value, stderr);
    }

    [Fact]
    public void Compare_without_a_workload_exits_2()
    {
        var (exit, _, stderr) = RunEndToEndTests.Run(["compare", "--out", Path.GetTempPath()]);
        Assert.Equal(2, exit);
        Assert.Contains("--workload-trace", stderr);
    }
}
