using System.Text.Json;
using HvIommu.Actors.Cli;

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
            Assert.Equal(1, root.GetProperty("schemaVersion").GetInt32());
            Assert.Equal(7UL, root.GetProperty("seed").GetUInt64());
            Assert.Equal("stress", root.GetProperty("mode").GetString());
            Assert.True(root.GetProperty("outcomeMatched").GetBoolean());
            Assert.Equal(0, root.GetProperty("violations").GetArrayLength());
            var stats = root.GetProperty("stats");
            Assert.True(stats.GetProperty("dmaTransactions").GetInt64() > 0);
            Assert.True(stats.GetProperty("maps").GetInt64() >= 300);
            Assert.Equal(stats.GetProperty("maps").GetInt64(), stats.GetProperty("unmaps").GetInt64());
            Assert.True(stats.GetProperty("hypercalls").GetProperty("FlushDeviceDomain").GetInt64() > 0);
            Assert.True(stats.GetProperty("messagesDelivered").GetInt64() > 0);
            Assert.Equal(JsonValueKind.Object, root.GetProperty("config").GetProperty("resolved").ValueKind);
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
