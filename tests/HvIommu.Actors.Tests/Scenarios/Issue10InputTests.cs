using HvIommu.Actors.Cli;
using HvIommu.Actors.Tests.Configuration;
using HvIommu.Actors.Tests.Simulation;

namespace HvIommu.Actors.Tests.Scenarios;

/// <summary>
/// The inputs of the seed review and of the field bugs the oracle once missed or explained wrongly, each run from
/// the command line as a user runs it: the verdict (exit code, kind) and the explanation (hazard, the words that
/// name the real cause, and no hazard whose knob is off). The scenario pairs of the catalogue (h16-init-*,
/// h10-detach-fails, h9-xsa302, the field-bug knobs) run in <see cref="ScenarioSuiteTests"/>; the XSA-302 input is
/// in <see cref="MovedDeviceTests"/>, the fixed-unwinding ATTACH-fault input in config/regressions.
/// </summary>
[Trait("Category", "Scenario")]
public sealed class Issue10InputTests
{
    private static (int Exit, string Stdout) Run(string config, params string[] args) => Command("run", config, args);

    private static (int Exit, string Stdout) Command(string command, string config, params string[] args)
    {
        var file = Path.Combine(Path.GetTempPath(), $"hviommu-issue10-{Guid.NewGuid():N}.conf");
        File.WriteAllText(file, config);
        try
        {
            var (exit, stdout, stderr) = RunEndToEndTests.Run([command, "--config", file, "--plain", .. args]);
            return (exit, stdout + stderr);
        }
        finally
        {
            File.Delete(file);
        }
    }

    /// <summary>The findings' headlines ("1. Kind [H] …") of a run's output.</summary>
    private static List<string> Findings(string stdout) =>
        stdout.Split('\n').Where(l => System.Text.RegularExpressions.Regex.IsMatch(l, @"^\d+\. [A-Za-z]+")).ToList();

    // The seed review's first point: a static-domain step fails and the RFC's goto lands on err_sysfs_remove.
    [Theory]
    [InlineData("create-identity", "deterministic")]
    [InlineData("configure-identity", "deterministic")]
    [InlineData("create-blocking", "deterministic")]
    [InlineData("configure-blocking", "deterministic")]
    [InlineData("create-blocking", "stress")]
    public void The_rfc_error_path_removing_sysfs_never_added_is_its_own_violation(string step, string mode)
    {
        var (exit, stdout) = Run($"hviommu {{ lifecycle {{ init-unwinding = rfc-v1, fail-init-step = {step} }} }}", "--mode", mode);
        Assert.True(exit == ExitCodes.Mismatched, stdout);
        Assert.Contains("UnwindOfStepNeverDone [H16]", stdout);
        Assert.Contains($"hv_iommu_init failed at {step}; its error path reached err_sysfs_remove and called iommu_device_sysfs_remove() although iommu_device_sysfs_add() never ran", stdout);
        Assert.Contains("NOT MATCHED (exit 1)", stdout);

        var (fixedExit, fixedOut) = Run($"hviommu {{ lifecycle {{ init-unwinding = fixed, fail-init-step = {step} }} }}", "--mode", mode);
        Assert.True(fixedExit == ExitCodes.Matched, fixedOut);
    }

    // The seed's register/probe point: probing fails inside iommu_device_register; the RFC's label leaks both static domains.
    [Fact]
    public void A_probe_failure_under_the_rfc_unwinding_leaks_both_static_domains_and_the_fix_does_not()
    {
        var (exit, stdout) = Run("hviommu { lifecycle { init-unwinding = rfc-v1, fail-init-step = probe } }", "--mode", "deterministic");
        Assert.True(exit == ExitCodes.Mismatched, stdout);
        var finding = Assert.Single(Findings(stdout));
        Assert.StartsWith("1. LeakedDomain [H16]", finding);
        Assert.Contains("2 device domain(s) still exist in the hypervisor after teardown", stdout);
        var (fixedExit, fixedOut) = Run("hviommu { lifecycle { init-unwinding = fixed, fail-init-step = probe } }", "--mode", "deterministic");
        Assert.True(fixedExit == ExitCodes.Matched, fixedOut);
    }

    // Hole 1's variant: the XSA-302 input with stale-replay devices, which 200 PCT schedules once found clean.
    [Fact]
    public void Pct_exploration_finds_the_moved_device_breach_with_replaying_devices()
    {
        var (exit, stdout) = Command("explore", """
            hviommu {
              expect = violation, expect-kind = IsolationBreach, run.ops = 200, vm.vcpus = 1
              domains = [ { name = "guest" }, { name = "dom0" } ]
              devices = [ { name = "nic", domain = "guest", behaviour = stale-replay }, { name = "disk", domain = "dom0", behaviour = stale-replay } ]
              lifecycle { domain-switch = attach-replace, domain-switch-to = "dom0", domain-switch-every = 1, quarantine-moved-device = off }
            }
            """, "--strategy", "pct", "--seeds", "50");
        Assert.True(exit == ExitCodes.Matched, stdout);
        Assert.Contains("IsolationBreach [H9]", stdout);
        Assert.Contains("XSA-302", stdout);
    }

    private const string DetachFails = """
        hviommu {
          devices = [ { name = "nic", domain = "dom", behaviour = stale-replay, replay-probability = 1.0 } ]
          faults = [ { call = DetachDeviceDomain, probability = 1.0, status = OperationFailed } ]
          run.ops = 20
        }
        """;

    // Hole 2: teardown frees the tables of a domain whose device the host refused to detach (Xen 7b658fd273f9).
    [Theory]
    [InlineData("deterministic")]
    [InlineData("stress")]
    public void Freeing_tables_the_host_still_walks_is_caught_and_the_refused_delete_is_explained(string mode)
    {
        var (exit, stdout) = Run(DetachFails, "--mode", mode, "--seed", "1");
        Assert.True(exit == ExitCodes.Mismatched, stdout);
        Assert.Contains("HostReferencedTablesFreed [H10]", stdout);
        Assert.Contains("freed while the host still has nic attached to it", stdout);
        // The device the host still has attached keeps DMA-ing after the free: its walks read the freed tables.
        Assert.Contains("WalkThroughFreedTable [H10]", stdout);
        Assert.Contains("the IOMMU kept walking the domain's tables, which the RFC's teardown freed anyway", stdout);
        Assert.Contains("LeakedDomain [H10]", stdout);
        Assert.Contains("was refused (HV_STATUS_INVALID_DEVICE_STATE) because DETACH of its device failed", stdout);
        Assert.DoesNotContain("[H16]", stdout);
        Assert.DoesNotContain("init error path", stdout);

        var (keptExit, keptOut) = Run(DetachFails.Replace("run.ops = 20", "run.ops = 20\n  lifecycle.keep-tables-when-detach-fails = on", StringComparison.Ordinal),
            "--mode", mode, "--seed", "1");
        Assert.True(keptExit == ExitCodes.Matched, keptOut);
    }

    // Wrong explanation 1: a device that left the domain by attach-replace is not reached by the old domain's flushes.
    // attach-invalidates-atc = off is the host of the issue's time (ATTACH did not invalidate the ATC then).
    [Fact]
    public void A_departed_ats_device_the_flush_never_reached_is_explained_as_h9_not_h4_or_h5()
    {
        var (exit, stdout) = Run("""
            hviommu {
              run.ops = 400
              workload.outstanding-per-vcpu = 4
              vm { vcpus = 4, memory-mib = 4160 }
              iommu.capabilities = [present, s1, ats]
              domains = [ { name = dom }, { name = spare } ]
              devices = [ { name = nic, domain = dom, in-flight = 8, ats = on }, { name = disk, domain = dom, in-flight = 8 } ]
              lifecycle { domain-switch = attach-replace, domain-switch-every = 1 }
              hypervisor.behaviour { flush-covers-departed-devices = off, attach-invalidates-atc = off }
            }
            """, "--mode", "deterministic", "--seed", "1");
        Assert.True(exit == ExitCodes.Mismatched, stdout);
        Assert.All(Findings(stdout), f => Assert.Contains("[H9]", f));
        Assert.Contains("the flush of the old domain never reached the device that left it (H9, §8 q2)", stdout);
        Assert.DoesNotContain("(H4", stdout);
        Assert.DoesNotContain("(H5", stdout);
    }

    // Wrong explanation 2: free-domain-before-detach — the walk read a freed table of a domain still attached (H10), not a
    // walk-cache pointer (H1); the free itself is reported, and the DELETE the host refuses is explained, not "unexplained".
    [Theory]
    [InlineData("deterministic")]
    [InlineData("stress")]
    public void Free_before_detach_is_explained_as_h10_throughout(string mode)
    {
        var (exit, stdout) = Run("""
            hviommu {
              lifecycle.free-domain-before-detach = on
              devices = [ { name = "nic", domain = "dom", behaviour = stale-replay, replay-probability = 1.0 } ]
              run.ops = 50
            }
            """, "--mode", mode, "--seed", "1");
        Assert.True(exit == ExitCodes.Mismatched, stdout);
        var findings = Findings(stdout);
        Assert.Contains(findings, f => f.Contains("HostReferencedTablesFreed [H10]", StringComparison.Ordinal));
        Assert.Contains(findings, f => f.Contains("WalkThroughFreedTable [H10]", StringComparison.Ordinal));
        Assert.All(findings, f => Assert.Contains("[H10]", f));
        Assert.Contains("because nic was still attached to it: teardown freed and deleted the domain before detaching its devices (H10: lifecycle.free-domain-before-detach = on", stdout);
        Assert.DoesNotMatch(@"\(H1[^0-9]", stdout);
        Assert.DoesNotContain("No hazard knob of this run can cause it", stdout);
    }

    // Wrong explanation 3: invalidate-walk-cache = off — a live mapping lost through a stale walk-cache pointer is H1, not H6.
    [Theory]
    [InlineData("deterministic")]
    [InlineData("stress")]
    public void A_mapping_lost_through_a_stale_walk_cache_is_explained_as_h1(string mode)
    {
        var text = File.ReadAllText(RepoFiles.Path("config", "scenarios", "h1-walk-cache-wrong.conf"))
            .Replace("expect-kind = WalkThroughFreedTable", "expect-kind = LostMapping", StringComparison.Ordinal);
        var (exit, stdout) = Run(text, "--mode", mode, "--seed", "1");
        Assert.True(exit == ExitCodes.Matched, stdout);
        Assert.Contains("LostMapping [H1]", stdout);
        Assert.Contains("because the flush did not drop the walk caches (H1)", stdout);
        Assert.DoesNotContain("[H6]", stdout);
        Assert.DoesNotContain("racy", stdout);
    }

    // Wrong explanation 4: the fixed unwinding with half the ATTACHes failing detaches before it deletes: clean.
    [Fact]
    public void The_fixed_unwinding_with_failing_attaches_is_clean()
    {
        var (exit, stdout, stderr) = RunEndToEndTests.Run(["run", "--config", RepoFiles.Path("config", "regressions", "issue10-fixed-unwind-attach-fault.conf"),
            "--mode", "deterministic", "--seed", "1", "--ops", "100", "--plain"]);
        Assert.True(exit == ExitCodes.Matched, stdout + stderr);
        Assert.DoesNotContain("LeakedDomain", stdout);
    }

    // A run that did nothing says so: the step budget ran out.
    [Fact]
    public void A_run_whose_step_budget_ran_out_does_not_match_and_says_so()
    {
        var (exit, stdout) = Run("hviommu { expect = clean, run.ops = 2000 }", "--mode", "deterministic", "--seed", "1", "--max-steps", "5000");
        Assert.True(exit == ExitCodes.Mismatched, stdout);
        Assert.Contains("but the schedule did not finish within 5,000 steps (--max-steps)", stdout);
        Assert.Contains("NOT MATCHED (exit 1)", stdout);
        // Running out of steps says nothing about the hypercall outstanding at that step: no HypercallHung.
        Assert.DoesNotContain("HypercallHung", stdout);
    }

    // The same on a right scenario with a budget too small for even its init: not a hung hypercall, not a simulator
    // failure; and an explorer's budget stays its hang detector (exit 3), since a schedule there should finish.
    [Fact]
    public void A_right_scenario_cut_short_by_its_step_budget_did_not_finish_and_has_no_hung_hypercall()
    {
        var config = RepoFiles.Path("config", "scenarios", "h2-free-iova-right.conf");
        var report = Path.Combine(Path.GetTempPath(), $"hviommu-budget-{Guid.NewGuid():N}.json");
        var (exit, stdout, stderr) = RunEndToEndTests.Run(["run", "--config", config, "--mode", "deterministic", "--seed", "1", "--max-steps", "10", "--report", report, "--plain"]);
        Assert.True(exit == ExitCodes.Mismatched, stdout + stderr);
        // --max-steps N stops at step N, the run's start included.
        using (var json = System.Text.Json.JsonDocument.Parse(File.ReadAllText(report)))
            Assert.Equal(10, json.RootElement.GetProperty("stats").GetProperty("steps").GetInt64());
        File.Delete(report);
        File.Delete(Path.ChangeExtension(report, ".schedule"));
        Assert.Contains("did not finish within 10 steps (--max-steps)", stdout);
        Assert.DoesNotContain("HypercallHung", stdout);
        Assert.DoesNotContain("SIMULATOR FAILURE", stdout);

        (exit, stdout, stderr) = RunEndToEndTests.Run(["explore", "--config", config, "--seeds", "2", "--max-steps", "10", "--plain"]);
        Assert.True(exit == ExitCodes.SimulatorFailure, stdout + stderr);
        Assert.Contains("did not finish within 10 steps (--max-steps)", stderr);
    }

    // … and the duration stopped it early (stress: run.duration is wall time; a million operations cannot fit in 1 ms).
    [Fact]
    public void A_run_stopped_early_by_its_duration_does_not_match_and_says_so()
    {
        var (exit, stdout) = Run("hviommu { expect = clean, run { ops = 1000000, duration = 1ms } }", "--mode", "stress", "--seed", "1");
        Assert.True(exit == ExitCodes.Mismatched, stdout);
        Assert.Contains("of 1,000,000 operations completed (the run was stopped early by its duration or step budget)", stdout);
        Assert.Contains("NOT MATCHED (exit 1)", stdout);
    }

    // An injected fault on an init hypercall that unwinds cleanly stays clean (as fail-init-step does, DidNotRunTests).
    [Theory]
    [InlineData("CreateDeviceDomain", "InsufficientMemory")]
    [InlineData("GetIommuCapabilities", "InvalidParameter")]
    [InlineData("GetLogicalDeviceProperty", "InsufficientMemory")] // every device refused at probe: no operation runs
    public void An_injected_init_hypercall_fault_that_unwinds_cleanly_stays_clean(string call, string status)
    {
        var (exit, stdout) = Run($"hviommu {{ expect = clean, run.ops = 20, faults = [ {{ call = {call}, probability = 1.0, status = {status} }} ] }}",
            "--mode", "deterministic", "--seed", "1");
        Assert.True(exit == ExitCodes.Matched, stdout);
    }

    [Fact]
    public void The_readme_names_every_field_bug_pair()
    {
        var readme = File.ReadAllText(RepoFiles.Path("README.md"));
        foreach (var twin in RegressionConfigTests.FieldBugWrongTwins)
            Assert.Contains($"`{twin[..^"-wrong".Length]}`", readme);
        Assert.Contains("`h10-detach-fails`", readme);
    }
}
