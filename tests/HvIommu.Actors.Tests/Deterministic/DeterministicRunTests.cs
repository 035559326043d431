using HvIommu.Actors.Runs;
using System.Diagnostics;
using System.Text.Json;
using HvIommu.Actors.Cli;
using HvIommu.Actors.Tests.Simulation;

namespace HvIommu.Actors.Tests.Deterministic;

/// <summary>
/// Deterministic mode end to end (issue: seed-exact replay): the same seed and config give the same trace hash
/// in this process and in another one; different seeds differ; explore finds every wrong scenario within a few
/// schedules and keeps right twins clean; replay reproduces a report and notices a tampered schedule.
/// </summary>
[Trait("Category", "Scenario")]
public sealed class DeterministicRunTests
{
    private static string TraceHash(string stdout) =>
        stdout.Split('\n').Select(l => l.Trim()).First(l => l.StartsWith("trace hash", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[^1];

    private static string RunHash(ulong seed, string? config = null)
    {
        var args = new List<string> { "run", "--mode", "deterministic", "--ops", "150", "--seed", seed.ToString(), "--plain" };
        if (config is not null)
            args.AddRange(["--config", config]);
        var (exit, stdout, stderr) = RunEndToEndTests.Run(args.ToArray());
        Assert.True(exit == 0, $"exit {exit}\n{stdout}\n{stderr}");
        return TraceHash(stdout);
    }

    [Fact]
    public void Same_seed_same_trace_hash_in_process_and_different_seeds_differ()
    {
        var lazy = Path.Combine(RunEndToEndTests.RepoRoot(), "config", "topologies", "lazy.conf");
        Assert.Equal(RunHash(11), RunHash(11));
        Assert.Equal(RunHash(11, lazy), RunHash(11, lazy));
        Assert.Equal(5, new ulong[] { 11, 12, 13, 14, 15 }.Select(s => RunHash(s)).Distinct().Count());
    }

    [Fact]
    public void Same_seed_same_trace_hash_in_a_child_process()
    {
        var dll = typeof(CommandLine).Assembly.Location;
        var start = new ProcessStartInfo("dotnet", [dll, "run", "--mode", "deterministic", "--ops", "150", "--seed", "21", "--plain"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = RunEndToEndTests.RepoRoot(),
        };
        using var child = Process.Start(start)!;
        var stdout = child.StandardOutput.ReadToEnd();
        child.WaitForExit();
        Assert.True(child.ExitCode == 0, stdout + child.StandardError.ReadToEnd());
        Assert.Equal(RunHash(21), TraceHash(stdout));
    }

    public static TheoryData<string> Scenarios(string suffix)
    {
        var data = new TheoryData<string>();
        foreach (var f in Directory.GetFiles(Path.Combine(RunEndToEndTests.RepoRoot(), "config", "scenarios"), $"*-{suffix}.conf").OrderBy(f => f, StringComparer.Ordinal))
            data.Add(Path.GetFileNameWithoutExtension(f));
        return data;
    }

    public static TheoryData<string> Wrong() => Scenarios("wrong");

    public static TheoryData<string> Right() => Scenarios("right");

    private static (int Exit, string Stdout) Explore(string scenario, string strategy, int seeds)
    {
        var file = Path.Combine(RunEndToEndTests.RepoRoot(), "config", "scenarios", scenario + ".conf");
        var (exit, stdout, stderr) = RunEndToEndTests.Run(["explore", "--config", file, "--strategy", strategy, "--seeds", seeds.ToString(), "--plain"]);
        return (exit, stdout + stderr);
    }

    [Theory]
    [MemberData(nameof(Wrong))]
    public void Explore_with_pct_finds_every_wrong_scenario_within_20_schedules(string scenario)
    {
        var (exit, output) = Explore(scenario, "pct", 20);
        Assert.True(exit == 0, output);
        Assert.Contains("first violation: seed", output);
    }

    [Theory]
    [MemberData(nameof(Right))]
    public void Explore_keeps_every_right_twin_clean_over_5_schedules(string scenario)
    {
        var (exit, output) = Explore(scenario, "random", 5);
        Assert.True(exit == 0, output);
        Assert.Contains("every schedule was clean", output);
    }

    [Fact]
    public void Replay_reproduces_a_report_and_names_the_step_where_a_tampered_schedule_diverges()
    {
        var dir = Directory.CreateTempSubdirectory("hviommu-replay-").FullName;
        try
        {
            var report = Path.Combine(dir, "h5.json");
            var scenario = Path.Combine(RunEndToEndTests.RepoRoot(), "config", "scenarios", "h5-drain-wrong.conf");
            var (exit, stdout, _) = RunEndToEndTests.Run(["explore", "--config", scenario, "--strategy", "pct", "--seeds", "20", "--report", report]);
            Assert.True(exit == 0, stdout);
            using (var doc = JsonDocument.Parse(File.ReadAllText(report)))
                Assert.False(string.IsNullOrEmpty(doc.RootElement.GetProperty("traceHash").GetString()));

            var (again, replayOut, replayErr) = RunEndToEndTests.Run(["replay", "--report", report]);
            Assert.True(again == 0, replayOut + replayErr);
            Assert.Contains("REPRODUCED", replayOut);

            var schedule = Path.ChangeExtension(report, ".schedule");
            var lines = File.ReadAllLines(schedule).ToList();
            var last = lines.FindLastIndex(l => l.Length > 0 && char.IsDigit(l[0]));
            var choices = lines[last].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            choices[^1] = "999";
            lines[last] = string.Join(' ', choices);
            File.WriteAllLines(schedule, lines);
            var (tampered, tamperedOut, tamperedErr) = RunEndToEndTests.Run(["replay", "--report", report]);
            Assert.True(tampered == 1, tamperedOut + tamperedErr);
            Assert.Contains("DIVERGED at schedule step", tamperedOut);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
