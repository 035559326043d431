using System.Text.Json;
using HvIommu.Actors.Cli;
using HvIommu.Actors.Deterministic;
using HvIommu.Actors.Reporting;
using HvIommu.Actors.Runs;
using HvIommu.Actors.Sweep;
using HvIommu.Actors.Tests.Simulation;

namespace HvIommu.Actors.Tests.Cli;

/// <summary>
/// What the figures a run prints and writes say they are (issue 14): latencies name their clock, a map with no VM exit
/// is one scheduler step and not a 1 ns that looks measured, a stress trace carries no "step: 0", a stress sweep counts
/// runs and no steps, a slow rate is not rounded to 0, and an option one command takes is not refused by another.
/// </summary>
[Trait("Category", "Actors")]
public sealed class RunFiguresTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("hviommu figures ").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string Scenario(string name) => Path.Combine(RunEndToEndTests.RepoRoot(), "config", "scenarios", name + ".conf");

    [Fact]
    public void A_deterministic_runs_latencies_are_scheduler_steps_and_say_so()
    {
        var report = Path.Combine(_dir, "d.json");
        var (exit, stdout, stderr) = RunEndToEndTests.Run(["run", "--mode", "deterministic", "--ops", "40", "--seed", "3", "--report", report]);
        Assert.True(exit == 0, $"exit {exit}\n{stdout}\n{stderr}");
        Assert.Contains("latency (ns of scheduler time, not wall clock)", stdout);
        using var doc = JsonDocument.Parse(File.ReadAllText(report));
        var stats = doc.RootElement.GetProperty("stats");
        Assert.Equal("scheduler", stats.GetProperty("latencyClock").GetString());
        // The default topology's maps make no VM exit: each takes the one message that started it, 100 ns, never 1 ns.
        var map = stats.GetProperty("latencies").GetProperty("map");
        Assert.Equal(100, map.GetProperty("minNs").GetInt64());
        foreach (var op in stats.GetProperty("latencies").EnumerateObject())
            Assert.True(op.Value.GetProperty("count").GetInt64() == 0 || op.Value.GetProperty("minNs").GetInt64() >= 100, $"{op.Name}: {op.Value}");
    }

    [Fact]
    public void The_dma_latency_row_says_it_is_a_sample_of_the_transactions()
    {
        var report = Path.Combine(_dir, "s.json");
        var (exit, stdout, stderr) = RunEndToEndTests.Run(["run", "--mode", "deterministic", "--ops", "40", "--seed", "3", "--plain", "--report", report]);
        Assert.True(exit == 0, $"exit {exit}\n{stdout}\n{stderr}");
        // 320 DMA transactions, 40 of them in the dma row: the row must not read as every transaction.
        Assert.Contains("| dma (1 in 8 sampled) ", stdout);
        using var doc = JsonDocument.Parse(File.ReadAllText(report));
        var stats = doc.RootElement.GetProperty("stats");
        var sampled = stats.GetProperty("latencies").GetProperty("dma").GetProperty("count").GetInt64();
        Assert.InRange(sampled * HvIommu.Actors.Metrics.LatencyRecorder.DmaSampleEvery, stats.GetProperty("dmaTransactions").GetInt64() - 8 * 8, stats.GetProperty("dmaTransactions").GetInt64());
    }

    [Fact]
    public void A_stress_trace_has_no_schedule_step_and_a_deterministic_one_has()
    {
        var stress = Path.Combine(_dir, "stress trace");
        var (e1, o1, r1) = RunEndToEndTests.Run(["run", "--mode", "stress", "--ops", "30", "--seed", "2", "--trace", stress]);
        Assert.True(e1 == 0, $"exit {e1}\n{o1}\n{r1}");
        var deterministic = Path.Combine(_dir, "det trace");
        var (e2, o2, r2) = RunEndToEndTests.Run(["run", "--mode", "deterministic", "--ops", "10", "--seed", "2", "--trace", deterministic]);
        Assert.True(e2 == 0, $"exit {e2}\n{o2}\n{r2}");

        static List<JsonElement> Args(string dir)
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, TraceFiles.PerfettoFile)));
            return doc.RootElement.GetProperty("traceEvents").EnumerateArray()
                .Where(e => e.GetProperty("ph").GetString() != "M" && e.TryGetProperty("args", out _))
                .Select(e => e.GetProperty("args").Clone()).ToList();
        }
        var stressArgs = Args(stress);
        Assert.NotEmpty(stressArgs);
        Assert.All(stressArgs, a => Assert.False(a.TryGetProperty("step", out _), $"a stress event with a step: {a}"));
        Assert.All(stressArgs, a => Assert.True(a.GetProperty("seq").GetInt64() > 0));
        Assert.Equal(stressArgs.Count, stressArgs.Select(a => a.GetProperty("seq").GetInt64()).Distinct().Count());
        Assert.All(Args(deterministic), a => Assert.True(a.TryGetProperty("step", out _)));
    }

    [Fact]
    public void A_stress_sweep_counts_runs_without_steps()
    {
        var out1 = Path.Combine(_dir, "sweep out");
        var (exit, stdout, stderr) = RunEndToEndTests.Run(["sweep", "--config", Scenario("h5-drain-right"), "--mode", "stress", "--seeds", "2", "--ops", "20", "--out", out1, "--plain"]);
        Assert.True(exit is 0 or 1, $"exit {exit}\n{stdout}\n{stderr}");
        Assert.Matches(@"stress runs 2, [\d.,E+-]+ runs/s over", stdout);
        Assert.DoesNotContain("steps 0", stdout);
        Assert.DoesNotMatch(@"(^|[^.\d])0 (schedules|runs)/s", stdout);
        // Every count of a stress sweep is of runs: the progress line, the table header, the coordination line, sweep.md.
        Assert.Matches(@"cells 1/1, 2/2 stress runs \([\d.,E+-]+/s\), 0 with violations", stdout);
        Assert.Contains("| stress runs | result |", stdout);
        Assert.Matches(@"coordination: \d+ leases? \([\d.,]+ stress runs? each\)", stdout);
        Assert.DoesNotContain("schedule", stdout);
        Assert.DoesNotContain("schedule", File.ReadAllText(Path.Combine(out1, "sweep.md")));
    }

    [Theory]
    [InlineData(false, 3L, 0L, "0/3 schedules (0/s), 0 with violations")]
    [InlineData(false, 1L, 1L, "1/1 schedule (1.0/s), 0 with violations")]
    [InlineData(true, 3L, 0L, "0/3 stress runs (0/s), 0 with violations")]
    [InlineData(true, 1L, 1L, "1/1 stress run (1.0/s), 0 with violations")]
    [InlineData(true, null, 1L, "1 stress run (1.0/s), 0 with violations")]
    [InlineData(false, null, 2L, "2 schedules (2.0/s), 0 with violations")]
    public void The_sweep_progress_line_counts_what_the_mode_runs_in_agreeing_words(bool stress, long? total, long done, string text)
    {
        using var progress = new SweepProgress(TextWriter.Null, live: false, cells: 1, total, stress);
        Assert.Equal(text, progress.Text(done, 0, TimeSpan.FromSeconds(1)));
    }

    [Fact]
    public void An_interrupted_sweep_writes_its_files_marked_partial_and_exits_130()
    {
        // Ctrl-C before the start: whatever the timing, the sweep starts no schedule and says so.
        using var interrupt = new CancellationTokenSource();
        interrupt.Cancel();
        var dir = Path.Combine(_dir, "interrupted sweep");
        var (stdout, stderr) = (new StringWriter(), new StringWriter());
        var code = CommandLine.Run(["sweep", "--config", Scenario("h5-drain-wrong"), "--vary", "hviommu.vm.vcpus=1,2", "--seeds", "5", "--ops", "20", "--out", dir, "--plain"],
            stdout, stderr, interrupt.Token);

        Assert.True(code == ExitCodes.Interrupted, $"exit {code}\n{stdout}\n{stderr}");
        Assert.Contains("(interrupted)", stdout.ToString());
        Assert.Contains("result: INTERRUPTED — nothing ran; the files above are partial (exit 130)", stdout.ToString());
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "sweep.json")));
        Assert.True(json.RootElement.GetProperty("partial").GetBoolean());
        Assert.Contains("Partial: the sweep was interrupted", File.ReadAllText(Path.Combine(dir, "sweep.md")));
    }

    [Theory]
    [InlineData(0.0, "0")]
    [InlineData(0.077, "0.077")]
    [InlineData(0.0004, "4E-4")]
    [InlineData(7.46, "7.5")]
    [InlineData(12_345.6, "12,346")]
    public void A_rate_keeps_the_digits_it_needs(double perSecond, string text) => Assert.Equal(text, Throughput.PerSecond(perSecond));

    /// <summary>--plain and --verbose are accepted by every command (a flag copied from run's command line is never refused).</summary>
    [Fact]
    public void Every_command_accepts_plain_and_verbose()
    {
        foreach (var command in CommandLine.Commands())
        {
            // The unknown option stops the parse with exit 2 before the command runs; only it may be complained about.
            var (code, stdout, stderr) = HostileInputTests.Run(command.Name, "--plain", "--verbose", "--no-such-option-here");
            Assert.True(code == ExitCodes.BadInput, $"{command.Name}: exit {code}\n{stdout}\n{stderr}");
            Assert.Contains("--no-such-option-here", stderr);
            Assert.DoesNotContain("'--plain'", stderr);
            Assert.DoesNotContain("'--verbose'", stderr);
        }
    }

    [Fact]
    public void Replay_takes_plain()
    {
        var report = Path.Combine(_dir, "r.json");
        var (e1, o1, r1) = RunEndToEndTests.Run(["run", "--mode", "deterministic", "--ops", "10", "--seed", "4", "--report", report, "--plain"]);
        Assert.True(e1 == 0, $"exit {e1}\n{o1}\n{r1}");
        var (e2, o2, r2) = RunEndToEndTests.Run(["replay", "--report", report, "--plain"]);
        Assert.True(e2 == 0, $"exit {e2}\n{o2}\n{r2}");
        Assert.Contains("REPRODUCED", o2);
    }
}

/// <summary>Ctrl-C on a sweep or cluster exploration's state: no more leases, and "interrupted" only when it had not finished.</summary>
[Trait("Category", "Actors")]
public sealed class SweepStateInterruptTests
{
    private static readonly ExplorationJob Job = new("hviommu {}", "x.conf", [[]], 10, 100, null, StrategySpec.Default, null, 1000, null, Stress: false);

    private static LeaseProgress Piece(Lease lease, long count, params SeedOutcome[] notable) => new(lease.Id, 0, lease.First, count, count * 10, notable, 0.1);

    [Fact]
    public void An_interrupt_hands_out_no_more_leases_and_marks_an_unfinished_run()
    {
        var state = new SweepState(Job, stopAtFirst: false);
        var lease = state.Take("w")!;
        state.Report("w", Piece(lease, lease.Count, new SeedOutcome(0, lease.First, ["LostMapping"], "h", null)));
        state.Interrupt();
        Assert.True(state.Interrupted);
        Assert.True(state.Stopped);
        Assert.True(state.Done);
        Assert.Null(state.Take("w"));
        // The violation found before the interrupt is still the answer: its report is written, marked partial.
        Assert.Equal(lease.First, state.Tallies[0].FirstViolation!.Seed);
    }

    [Fact]
    public void An_interrupt_after_the_run_stopped_by_itself_is_not_an_interruption()
    {
        var state = new SweepState(Job, stopAtFirst: true);
        var lease = state.Take("w")!;
        state.Report("w", Piece(lease, 1, new SeedOutcome(0, lease.First, ["LostMapping"], "h", null)));
        Assert.True(state.Stopped);
        state.Interrupt();
        Assert.False(state.Interrupted);
    }

    [Fact]
    public void Once_the_run_is_sealed_a_late_report_changes_no_count()
    {
        // A cluster worker's lease can finish after the stop; its report must not make the result line's count
        // differ from the summary's (it did: "schedules 189 … (interrupted)" then "193 schedules").
        var state = new SweepState(Job, stopAtFirst: false);
        var lease = state.Take("w")!;
        Assert.True(state.Report("w", Piece(lease, 1)));
        state.Seal();
        var before = state.Totals();
        Assert.False(state.Report("w", Piece(lease, 1) with { From = lease.First + 1 }));
        Assert.Equal(before, state.Totals());
        Assert.Equal(1, state.Tallies[0].Schedules);
    }

    [Fact]
    public void An_interrupt_before_the_pool_starts_starts_none()
    {
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        var state = new SweepState(Job, stopAtFirst: true);
        var pool = new NeverStarted();
        Assert.Null(ExplorationDriver.Drive(state, pool, TextWriter.Null, plain: true, 100, cancel: cancelled.Token));
        Assert.True(state.Interrupted);
        Assert.False(pool.Started);
    }

    private sealed class NeverStarted : IExplorerPool
    {
        public bool Started { get; private set; }
        public string Where => "nowhere";
        public string? Crash => null;
        public string Status => "";
        public void Start(SweepState state) => Started = true;
        public bool Wait(TimeSpan timeout) => true;
        public void Dispose() { }
    }
}
