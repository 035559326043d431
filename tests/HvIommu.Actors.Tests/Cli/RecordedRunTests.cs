using System.Text.Json;
using HvIommu.Actors.Cli;
using HvIommu.Actors.Runs;
using HvIommu.Actors.Tests.Minimize;

namespace HvIommu.Actors.Tests.Cli;

/// <summary>
/// Reports are self-contained and every printed command runs as printed: a report replays from its stored
/// config and the schedule beside it wherever it was made; minimize checks its output before any work; the
/// printed reproduce line keeps every option that shaped the run; Ctrl-C ends a run with its summary, a report
/// marked partial and exit 130. Driven through <see cref="CommandLine.Run"/> as the program runs it.
/// </summary>
[Trait("Category", "Actors")]
public sealed class RecordedRunTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("hviommu-recorded-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Code, string Out, string Err) Run(string[] args, CancellationToken cancel = default)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var code = CommandLine.Run(args, stdout, stderr, cancel);
        return (code, stdout.ToString(), stderr.ToString());
    }

    /// <summary>A copy of the H5 drain scenario (deterministic, fails on seed 1) in the test's own directory.</summary>
    private string ScenarioCopy()
    {
        var path = Path.Combine(_dir, "h5.conf");
        File.Copy(MinimizeFixture.Scenario("h5-drain-wrong"), path, overwrite: true);
        return path;
    }

    /// <summary>Runs the H5 scenario deterministically into <paramref name="report"/>; it finds its violation.</summary>
    private static (int Code, string Out, string Err) FailingRun(string config, string report, params string[] extra)
    {
        var r = Run(["run", "--config", config, "--mode", "deterministic", "--report", report, "--plain", .. extra]);
        Assert.True(r.Code == ExitCodes.Matched, r.Out + r.Err);
        Assert.Contains("DmaToFreedFrame", File.ReadAllText(report));
        return r;
    }

    private static string TraceHash(string report)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(report));
        return doc.RootElement.GetProperty("traceHash").GetString()!;
    }

    private static void Reproduced((int Code, string Out, string Err) r)
    {
        Assert.True(r.Code == ExitCodes.Matched, r.Out + r.Err);
        Assert.Contains("REPRODUCED", r.Out);
        Assert.DoesNotContain("NOT REPRODUCED", r.Out);
    }

    [Fact]
    public void A_moved_report_replays_with_the_schedule_beside_it_not_the_one_it_was_written_beside()
    {
        var made = Directory.CreateDirectory(Path.Combine(_dir, "made")).FullName;
        var moved = Directory.CreateDirectory(Path.Combine(_dir, "moved")).FullName;
        var report = Path.Combine(made, "r.json");
        FailingRun(ScenarioCopy(), report);
        File.Move(report, Path.Combine(moved, "r.json"));
        File.Move(Path.ChangeExtension(report, ".schedule"), Path.Combine(moved, "r.schedule"));
        // Where the report says its schedule was written, an unrelated schedule of the same seed now lies.
        File.WriteAllText(Path.ChangeExtension(report, ".schedule"), "hviommu-schedule 1\nseed 1\nstrategy random\nsteps 1\nchoices 0\n");

        Reproduced(Run(["replay", "--report", Path.Combine(moved, "r.json")]));
    }

    [Fact]
    public void Replay_runs_the_config_stored_in_the_report_not_the_file_as_it_is_now()
    {
        var config = ScenarioCopy();
        var report = Path.Combine(_dir, "r.json");
        FailingRun(config, report);

        // The file now describes a correct flush handler (the clean twin): re-reading it would not reproduce.
        File.AppendAllText(config, "\nhviommu.hypervisor.flush.drain-dma = on\n");
        Reproduced(Run(["replay", "--report", report]));
        File.Delete(config);
        Reproduced(Run(["replay", "--report", report]));
    }

    [Fact]
    public void The_printed_reproduce_line_keeps_the_step_budget_and_runs_as_printed()
    {
        var report = Path.Combine(_dir, "r.json");
        var first = FailingRun(ScenarioCopy(), report, "--max-steps", "400000");
        var line = first.Out.Split('\n').Select(l => l.Trim()).First(l => l.StartsWith("reproduce: ", StringComparison.Ordinal));
        Assert.Contains("--max-steps 400000", line);
        Assert.Contains("--mode deterministic", line);

        var args = line[(line.IndexOf(" -- ", StringComparison.Ordinal) + 4)..].Split(' ');
        var again = Path.Combine(_dir, "again.json");
        var r = Run([.. args, "--report", again, "--plain"]);
        Assert.True(r.Code == ExitCodes.Matched, r.Out + r.Err);
        Assert.Equal(TraceHash(report), TraceHash(again));
    }

    [Fact]
    public void A_stress_reproduce_line_says_stress_even_for_a_deterministic_scenario() =>
        Assert.EndsWith("--mode stress", Reproduction.Run(MinimizeFixture.Scenario("h5-drain-wrong"), 3, 100, deterministic: null));

    [Fact]
    public void Minimize_refuses_an_output_that_is_a_file_or_a_step_budget_below_the_run_before_any_work()
    {
        var report = Path.Combine(_dir, "r.json");
        FailingRun(ScenarioCopy(), report);
        var file = Path.Combine(_dir, "taken");
        File.WriteAllText(file, "keep me");

        var r = Run(["minimize", "--report", report, "--out", file]);
        Assert.True(r.Code == ExitCodes.BadInput, r.Out + r.Err);
        Assert.Contains("--out", r.Err);
        Assert.DoesNotContain("minimize ", r.Out); // refused before the search printed its first line
        Assert.Equal("keep me", File.ReadAllText(file));

        r = Run(["minimize", "--report", report, "--out", Path.Combine(_dir, "min"), "--max-steps", "1"]);
        Assert.True(r.Code == ExitCodes.BadInput, r.Out + r.Err);
        Assert.Contains("--max-steps 1 is below", r.Err);
        Assert.False(Directory.Exists(Path.Combine(_dir, "min")));
    }

    [Fact]
    public void Explore_on_a_clean_scenario_replaces_an_older_failing_report()
    {
        var report = Path.Combine(_dir, "r.json");
        FailingRun(ScenarioCopy(), report);

        var r = Run(["explore", "--seeds", "1", "--ops", "5", "--report", report, "--plain"]);
        Assert.True(r.Code == ExitCodes.Matched, r.Out + r.Err);
        Assert.DoesNotContain("DmaToFreedFrame", File.ReadAllText(report));
        Assert.Contains("default.conf", File.ReadAllText(report));
    }

    [Theory]
    [InlineData("deterministic", "20")]
    [InlineData("stress", "1000000000")]
    public void An_interrupted_run_prints_its_summary_writes_a_partial_report_and_exits_130(string mode, string ops)
    {
        // Ctrl-C before the run starts: whatever the timing, the run stops at its first check.
        using var interrupt = new CancellationTokenSource();
        interrupt.Cancel();
        var report = Path.Combine(_dir, "r.json");

        var r = Run(["run", "--mode", mode, "--ops", ops, "--report", report, "--plain"], interrupt.Token);

        Assert.True(r.Code == ExitCodes.Interrupted, r.Out + r.Err);
        Assert.Contains("result: INTERRUPTED", r.Out);
        Assert.Contains("(partial: the run was interrupted)", r.Out);
        Assert.Contains("DMA transactions", r.Out); // the summary table
        using var doc = JsonDocument.Parse(File.ReadAllText(report));
        Assert.True(doc.RootElement.GetProperty("partial").GetBoolean());
    }

    private static JsonElement ReportJson(string path)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        return doc.RootElement.Clone();
    }

    [Fact]
    public void An_explore_interrupted_after_a_find_writes_that_report_partial_and_does_not_exit_0()
    {
        // Ctrl-C before the start: each explorer finishes the schedule it runs (seed 1 finds the H5 violation) and
        // starts no other; with --all the search was not over, so it is interrupted, not matched.
        using var interrupt = new CancellationTokenSource();
        interrupt.Cancel();
        var report = Path.Combine(_dir, "x.json");

        var r = Run(["explore", "--config", ScenarioCopy(), "--all", "--seeds", "50", "--report", report, "--plain"], interrupt.Token);

        Assert.True(r.Code == ExitCodes.Interrupted, r.Out + r.Err);
        Assert.Contains("schedules 1, ", r.Out);
        Assert.Contains("(interrupted)", r.Out);
        Assert.Contains("result: INTERRUPTED", r.Out);
        Assert.Contains("(partial: the run was interrupted)", r.Out);
        var json = ReportJson(report);
        Assert.True(json.GetProperty("partial").GetBoolean());
        Assert.Contains("DmaToFreedFrame", json.GetProperty("violations").GetRawText());
        Assert.True(File.Exists(Path.ChangeExtension(report, ".schedule")));
    }

    [Fact]
    public void An_explore_interrupted_with_nothing_found_says_so_writes_a_partial_report_and_exits_130()
    {
        using var interrupt = new CancellationTokenSource();
        interrupt.Cancel();
        var report = Path.Combine(_dir, "clean.json");
        var right = Path.Combine(_dir, "h5-right.conf");
        File.Copy(MinimizeFixture.Scenario("h5-drain-right"), right, overwrite: true);

        var r = Run(["explore", "--config", right, "--seeds", "50", "--report", report, "--plain"], interrupt.Token);

        Assert.True(r.Code == ExitCodes.Interrupted, r.Out + r.Err);
        Assert.Contains("result: INTERRUPTED — every schedule that ran was clean (1 schedule)", r.Out);
        Assert.DoesNotContain("MATCHED", r.Out);
        Assert.True(ReportJson(report).GetProperty("partial").GetBoolean());
    }

    [Fact]
    public void A_minimize_interrupted_writes_the_best_run_so_far_with_a_partial_report_and_exits_130()
    {
        var report = Path.Combine(_dir, "h5.json");
        FailingRun(ScenarioCopy(), report);
        using var interrupt = new CancellationTokenSource();
        interrupt.Cancel();
        var outDir = Path.Combine(_dir, "min");

        var r = Run(["minimize", "--report", report, "--out", outDir], interrupt.Token);

        Assert.True(r.Code == ExitCodes.Interrupted, r.Out + r.Err);
        Assert.Contains("(interrupted: the best run so far is kept)", r.Out);
        Assert.Contains("result: INTERRUPTED", r.Out);
        var minimal = Path.Combine(outDir, "report.json");
        Assert.True(ReportJson(minimal).GetProperty("partial").GetBoolean());
        // What was written still replays as printed.
        Reproduced(Run(["replay", "--report", minimal]));
    }
}
