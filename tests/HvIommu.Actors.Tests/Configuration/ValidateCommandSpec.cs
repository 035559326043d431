using System.Text.Json;
using HvIommu.Actors.Cli;

namespace HvIommu.Actors.Tests.Configuration;

/// <summary>The <c>validate</c> command: the resolved topology as text or JSON (exit 0), every problem as <c>error:</c> (exit 2).</summary>
[Trait("Category", "Model")]
public sealed class ValidateCommandSpec
{
    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var (stdout, stderr) = (new StringWriter(), new StringWriter());
        var code = CommandLine.Run(["validate", .. args], stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    private static string TempConfig(string text)
    {
        var path = Path.Combine(Path.GetTempPath(), $"hviommu-validate-{Environment.ProcessId}-{Guid.NewGuid():N}.conf");
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void The_default_topology_is_valid_and_printed()
    {
        var (code, stdout, stderr) = Run();
        Assert.Equal(ExitCodes.Matched, code);
        Assert.Equal("", stderr);
        var lines = stdout.ReplaceLineEndings("\n").Split('\n');
        Assert.Contains("config      default.conf (embedded)", lines);
        Assert.Contains("seed        1", lines);
        Assert.Contains("mode        stress", lines);
        Assert.Contains("expect      clean", lines);
        Assert.Contains("vm          256 MiB, 4 vCPUs", lines);
        Assert.Contains("iommu       capabilities present, s1, ats; IOVA width 48, PASID width 0, max domains 4096", lines);
        Assert.Contains("page sizes  4K, 2M, 1G", lines);
        Assert.Contains("caches      IOTLB 4096, walk cache 1024, ATC 64 entries", lines);
        Assert.Contains("driver      dma-mode strict, 4-level tables, flush domain, flush queue 256 entries / 10ms, on flush failure fallback", lines);
        Assert.Contains("flush       order iotlb-first, await ATC completions on, drain DMA on, invalidate walk cache on, invalidate ATCs on, on disconnected device skip-disconnected, wrong only after attach off", lines);
        Assert.Contains(lines, l => l.StartsWith("latency     VM exit 1500 ns, flush domain 3000 ns", StringComparison.Ordinal));
        Assert.Contains("faults      none", lines);
        // buffer-pages = 0 means "drawn from buffer-sizes", not buffers of 0 pages.
        Assert.Contains(lines, l => l.StartsWith("workload    buffers of sizes drawn from [4K, 4K, 4K, 8K-64K, 2M], 8 DMA per op", StringComparison.Ordinal));
        // A label wider than the column still gets a space before its text (it used to read "host behaviourdetached-…").
        Assert.Contains(lines, l => l.StartsWith("host behaviour detached-translation=blocked", StringComparison.Ordinal));
        Assert.Contains("domains     2: net, storage", lines);
        Assert.Contains("devices     4 (1 with ATS)", lines);
        Assert.Contains("  nic0   net      on           4  well-behaved  0", lines);
        Assert.Contains("  nvme1  storage  off          4  well-behaved  0", lines);
    }

    [Fact]
    public void A_fixed_buffer_size_is_printed_in_pages()
    {
        var path = TempConfig("hviommu.workload.buffer-pages = 3\n");
        var (code, stdout, _) = Run("--config", path);
        File.Delete(path);
        Assert.Equal(ExitCodes.Matched, code);
        Assert.Contains("workload    buffers of 3 pages, ", stdout);
    }

    [Fact]
    public void Seed_overrides_the_config()
    {
        var (code, stdout, _) = Run("--seed", "42");
        Assert.Equal(ExitCodes.Matched, code);
        Assert.Contains("seed        42", stdout);
    }

    [Fact]
    public void A_large_topology_is_summarised()
    {
        var (code, stdout, _) = Run("--config", Path.Combine(RepoFiles.Root, "config", "topologies", "large.conf"));
        Assert.Equal(ExitCodes.Matched, code);
        Assert.Contains("devices     256 (16 with ATS)", stdout);
        Assert.Contains("per domain  dom0 16, dom1 16,", stdout);
        Assert.Contains("  nic15  dom15   on ", stdout);
        Assert.Contains("  … 240 more", stdout);
        Assert.DoesNotContain("dev0 ", stdout);
    }

    [Fact]
    public void A_broken_file_gives_exit_2_and_an_error_line_per_problem()
    {
        var path = TempConfig("hviommu {\n  vm { vcpus = 0 }\n  driver { dma-mode = sloppy }\n  colour = red\n}\n");
        try
        {
            var (code, stdout, stderr) = Run("--config", path);
            Assert.Equal(ExitCodes.BadInput, code);
            Assert.Equal("", stdout);
            var lines = stderr.ReplaceLineEndings("\n").Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(3, lines.Length);
            Assert.All(lines, l => Assert.StartsWith($"error: {path}: hviommu.", l));
            Assert.Contains($"error: {path}: hviommu.vm.vcpus = 0: expected a whole number from 1 to 1024", lines);
            Assert.Contains($"error: {path}: hviommu.driver.dma-mode = sloppy: expected one of: strict, lazy", lines);
            Assert.Contains(lines, l => l.StartsWith($"error: {path}: hviommu.colour = red: unknown key", StringComparison.Ordinal));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Json_prints_the_resolved_tree()
    {
        var (code, stdout, _) = Run("--json", "--seed", "9");
        Assert.Equal(ExitCodes.Matched, code);
        using var doc = JsonDocument.Parse(stdout);
        Assert.Equal(4, doc.RootElement.GetProperty("vm").GetProperty("vcpus").GetInt32());
        Assert.Equal(9, doc.RootElement.GetProperty("seed").GetInt32());
        Assert.Equal(4, doc.RootElement.GetProperty("devices").GetArrayLength());
    }

    [Fact]
    public void A_missing_config_file_gives_exit_2_naming_it()
    {
        var path = Path.Combine(Path.GetTempPath(), $"hviommu-no-such-{Environment.ProcessId}.conf");
        var (code, _, stderr) = Run("--config", path);
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Equal($"error: --config '{path}' does not exist", stderr.Split('\n')[0].Trim());
    }

    [Fact]
    public void An_unknown_option_is_a_usage_error() =>
        Assert.Equal(ExitCodes.BadInput, Run("--colour", "red").Code);
}
