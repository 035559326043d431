using HvIommu.Actors.Cli;

namespace HvIommu.Actors.Tests.Simulation;

/// <summary>A run expected clean that tested nothing says so and does not match; an injected init failure that
/// unwinds cleanly stays clean. validate and the run banner print every hypervisor.behaviour.* setting.</summary>
[Trait("Category", "Scenario")]
public sealed class DidNotRunTests
{
    private static string Write(string text)
    {
        var file = Path.Combine(Path.GetTempPath(), $"hviommu-didnotrun-{Guid.NewGuid():N}.conf");
        File.WriteAllText(file, text);
        return file;
    }

    [Theory]
    [InlineData("deterministic")]
    [InlineData("stress")]
    public void Init_failing_for_a_reason_the_config_did_not_inject_is_not_matched(string mode)
    {
        var file = Write("hviommu { expect = clean, run.ops = 50, iommu.capabilities = [present] }");
        try
        {
            var (exit, stdout, _) = RunEndToEndTests.Run(["run", "--config", file, "--mode", mode, "--plain"]);
            Assert.Equal(ExitCodes.Mismatched, exit);
            Assert.Contains("no DMA was tested", stdout);
            Assert.Contains("NOT MATCHED (exit 1)", stdout);
        }
        finally
        {
            File.Delete(file);
        }
    }

    /// <summary>No operation asked for and no workload trace: init and teardown ran, not one DMA, and the run says so
    /// rather than "MATCHED" (a trace workload with run.ops = 0 is a real run: TraceWorkloadTests).</summary>
    [Theory]
    [InlineData("deterministic")]
    [InlineData("stress")]
    public void A_run_of_zero_operations_without_a_workload_trace_says_it_tested_no_dma(string mode)
    {
        var (exit, stdout, _) = RunEndToEndTests.Run(["run", "--ops", "0", "--mode", mode, "--plain"]);
        Assert.Equal(ExitCodes.Mismatched, exit);
        Assert.Contains("run.ops = 0 and no workload trace: only init and teardown ran, no DMA was tested", stdout);
    }

    [Fact]
    public void An_injected_init_failure_that_unwinds_cleanly_stays_clean()
    {
        var file = Write("hviommu { expect = clean, run.ops = 50, mode = deterministic, lifecycle.fail-init-step = register }");
        try
        {
            var (exit, stdout, _) = RunEndToEndTests.Run(["run", "--config", file, "--plain"]);
            Assert.Equal(ExitCodes.Matched, exit);
            Assert.Contains("MATCHED (exit 0)", stdout);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void Every_device_refused_at_probe_without_an_injected_fault_is_not_matched_and_says_why()
    {
        // Two devices whose vPCI GUIDs agree in bytes 4-7 share a logical device id: probe refuses both (-ENODEV, H13's
        // correct driver), so no operation runs. That is not "stopped early by its duration or step budget".
        var file = Write("""
            hviommu {
              expect = clean, run.ops = 50, mode = deterministic
              domains = [ { name = "a" } ]
              devices = [ { name = "nic0", domain = "a", vmbus-guid = "6f1c2a3b-44d5-4e6f-8a9b-0c1d2e3f4a5b" },
                          { name = "nic1", domain = "a", vmbus-guid = "0a0b0c0d-44d5-4e6f-8a9b-111111111111" } ]
            }
            """);
        try
        {
            var (exit, stdout, _) = RunEndToEndTests.Run(["run", "--config", file, "--plain"]);
            Assert.Equal(ExitCodes.Mismatched, exit);
            Assert.Contains("managed none of the devices", stdout);
            Assert.DoesNotContain("stopped early", stdout);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void Validate_and_the_banner_print_every_host_behaviour_setting()
    {
        // Every key of reference.conf's hviommu.hypervisor.behaviour block with its default, as "key=value".
        var block = System.Text.RegularExpressions.Regex.Match(File.ReadAllText(Tests.Configuration.RepoFiles.Path("config", "reference.conf")),
            @"(?s)\n    behaviour \{(.*?)\n    \}").Groups[1].Value;
        var keys = System.Text.RegularExpressions.Regex.Matches(block, @"(?m)^\s+([a-z0-9-]+)\s*=\s*(\S+)\s*$")
            .Select(m => $"{m.Groups[1].Value}={m.Groups[2].Value}").ToList();
        Assert.True(keys.Count >= 7, string.Join(", ", keys));
        var (exit, stdout, stderr) = RunEndToEndTests.Run(["validate"]);
        Assert.True(exit == 0, stderr);
        Assert.Contains("host behaviour detached-translation=", stdout);
        foreach (var k in keys)
            Assert.Contains(k, stdout);
        var (runExit, runOut, _) = RunEndToEndTests.Run(["run", "--ops", "20", "--plain", "--mode", "deterministic"]);
        Assert.Equal(ExitCodes.Matched, runExit);
        foreach (var k in keys)
            Assert.Contains(k, runOut);
    }
}
