using System.Text.Json;
using HvIommu.Actors.Configuration;
using HvIommu.Actors.PciDevice;
using HvIommu.Actors.Reporting;
using HvIommu.Actors.Runs;
using HvIommu.Actors.Tests.Configuration;
using HvIommu.Actors.Tests.Simulation;

namespace HvIommu.Actors.Tests.Tracing;

/// <summary>
/// <c>--trace DIR</c> on real runs: the H5 scenario (the flush handler completes without draining) found by
/// PCT on seed 1, whose trace must show the flush hypercall, the missing drain and the violation; a stress
/// run's trace; and that tracing does not change the schedule.
/// </summary>
[Trait("Category", "Scenario")]
public sealed class RunTraceTests : IDisposable
{
    private static readonly string H5 = RepoFiles.Path("config", "scenarios", "h5-drain-wrong.conf");
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"hviommu-trace-{Guid.NewGuid():N}");

    public void Dispose()
    {
        if (Directory.Exists(_dir))
            Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public void A_violation_after_the_trace_filled_up_is_told_not_denied()
    {
        var conf = Path.Combine(Directory.CreateDirectory(_dir).FullName, "small-trace.conf");
        File.WriteAllText(conf, File.ReadAllText(H5) + "\nhviommu.run.trace-capacity = 50\n");
        var traceDir = Path.Combine(_dir, "trace");
        var (exit, stdout, stderr) = RunEndToEndTests.Run(["run", "--config", conf, "--trace", traceDir, "--plain"]);
        Assert.True(exit == 0, $"exit {exit}\n{stdout}\n{stderr}");

        var md = File.ReadAllText(Path.Combine(traceDir, TraceFiles.MermaidFile));
        Assert.DoesNotContain("No violation", md);
        Assert.Matches(@"^# \w+ \(H5\)", md); // the kind depends on the schedule; the point is that it is told
        Assert.Contains("hviommu.run.trace-capacity = 50", md);
        Assert.Contains("run --config", md); // how to get the history
    }

    [Fact]
    public void Explore_then_replay_write_a_causal_trace_of_the_H5_violation()
    {
        var report = Path.Combine(_dir, "h5.json");
        var traceDir = Path.Combine(_dir, "explore-trace");
        var (exit, stdout, stderr) = RunEndToEndTests.Run(["explore", "--config", H5, "--strategy", "pct", "--seeds", "5", "--report", report, "--trace", traceDir]);
        Assert.True(exit == 0, $"exit {exit}\n{stdout}\n{stderr}");
        Assert.Contains("https://ui.perfetto.dev", stdout);
        Assert.Matches(@"trace: [\d,]+ events recorded, 0 dropped", stdout);
        AssertH5Trace(traceDir);
        using (var doc = JsonDocument.Parse(File.ReadAllText(report)))
        {
            var artifacts = doc.RootElement.GetProperty("artifacts").EnumerateArray().Select(a => a.GetString()).ToList();
            Assert.Contains(Path.Combine(traceDir, TraceFiles.PerfettoFile), artifacts);
            Assert.Contains(Path.Combine(traceDir, TraceFiles.MermaidFile), artifacts);
            Assert.Contains(Path.Combine(traceDir, TraceFiles.HistoryFile), artifacts);
        }

        var replayDir = Path.Combine(_dir, "replay-trace");
        var (again, replayOut, replayErr) = RunEndToEndTests.Run(["replay", "--report", report, "--trace", replayDir]);
        Assert.True(again == 0, $"exit {again}\n{replayOut}\n{replayErr}");
        Assert.Contains("REPRODUCED", replayOut);
        AssertH5Trace(replayDir);
        // Same schedule, same trace: the replay's history is the explorer's, event for event.
        Assert.Equal(File.ReadAllText(Path.Combine(traceDir, TraceFiles.HistoryFile)), File.ReadAllText(Path.Combine(replayDir, TraceFiles.HistoryFile)));
    }

    private static void AssertH5Trace(string dir)
    {
        AssertPerfetto(Path.Combine(dir, TraceFiles.PerfettoFile));
        AssertMermaid(File.ReadAllText(Path.Combine(dir, TraceFiles.MermaidFile)));
        AssertHistory(File.ReadAllLines(Path.Combine(dir, TraceFiles.HistoryFile)));
    }

    private static void AssertPerfetto(string path)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        Assert.Equal(0, doc.RootElement.GetProperty("otherData").GetProperty("droppedEvents").GetInt64());
        var events = doc.RootElement.GetProperty("traceEvents").EnumerateArray().ToList();
        var threads = events.Where(e => e.GetProperty("ph").GetString() == "M" && e.GetProperty("name").GetString() == "thread_name")
            .Select(e => e.GetProperty("args").GetProperty("name").GetString()).ToHashSet();
        Assert.Superset(new HashSet<string?> { "vcpu0", "vcpu1", "hypervisor", "flush-handler", "device-rogue" }, threads);
        Assert.Contains(events, e => e.GetProperty("ph").GetString() == "X" && e.GetProperty("name").GetString() == "ExecuteFlush");
        var starts = events.Where(e => e.GetProperty("ph").GetString() == "s").Select(e => e.GetProperty("id").GetInt64()).ToHashSet();
        var finishes = events.Where(e => e.GetProperty("ph").GetString() == "f").Select(e => e.GetProperty("id").GetInt64()).ToList();
        Assert.NotEmpty(finishes);
        Assert.All(finishes, id => Assert.Contains(id, starts));
        // The schedule an explorer finds may show the race more than once before the run stops; each
        // occurrence is a global instant.
        var violations = events.Where(e => e.GetProperty("ph").GetString() == "i" && e.GetProperty("name").GetString()!.StartsWith("VIOLATION DmaToFreedFrame", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(violations);
        Assert.All(violations, v => Assert.Equal("g", v.GetProperty("s").GetString()));
    }

    private static void AssertMermaid(string md)
    {
        Assert.Matches(@"^# \w+ \(H5\)", md); // the kind depends on the schedule; the point is that it is told
        Assert.Contains("```mermaid\nsequenceDiagram", md.ReplaceLineEndings("\n"));
        Assert.Matches(@"vcpu\d->>hypervisor: Hypercall FlushDeviceDomain", md);
        Assert.Contains("hypervisor->>flush_handler: ExecuteFlush", md);
        Assert.Matches(@"flush_handler->>vcpu\d: HypercallCompleted FlushDeviceDomain", md);
        // drain-dma = off and no ATS device: the handler sends the device neither a drain nor an ATC invalidation.
        Assert.DoesNotContain("->>device_rogue: DrainDma", md);
        Assert.DoesNotContain("->>device_rogue: InvalidateAtc", md);
        Assert.Matches(@"Note right of flush_handler: flush no\.\d+ completed", md);
        Assert.Contains("Note over device_rogue: VIOLATION DmaToFreedFrame (H5)", md);
        // The explanation names the mapping, the flush and what came too early.
        Assert.Matches(@"mapping #\d+ IOVA", md);
        Assert.Matches(@"Too early: the completion of flush #\d+ of domain \d+ at step \d+ — the DMA translated at step \d+, before the flush started", md);
    }

    private static void AssertHistory(string[] lines)
    {
        Assert.NotEmpty(lines);
        var seen = new HashSet<long>();
        foreach (var line in lines)
        {
            using var doc = JsonDocument.Parse(line);
            var e = doc.RootElement;
            var seq = e.GetProperty("seq").GetInt64();
            var cause = e.GetProperty("cause").GetInt64();
            Assert.True(cause == 0 || seen.Contains(cause) || cause < seq, $"cause {cause} of event {seq} is neither in the history nor earlier");
            Assert.True(seen.Add(seq));
        }
        var kinds = lines.Select(l => JsonDocument.Parse(l).RootElement.GetProperty("kind").GetString()).ToHashSet();
        Assert.Superset(new HashSet<string?> { "Send", "Deliver", "PteWrite", "Free", "Flush", "DmaTranslate", "Violation" }, kinds);
        Assert.Equal("Violation", JsonDocument.Parse(lines[^1]).RootElement.GetProperty("kind").GetString());
    }

    [Fact]
    public void Tracing_does_not_change_the_schedule()
    {
        var config = SimConfig.Load(H5, []);
        using var system = DeterministicRunner.CreateSystem(config, verbose: false);
        var options = new ScheduleOptions("pct");
        var traced = DeterministicRunner.RunSchedule(system, config, 1, options, "", trace: true);
        var untraced = DeterministicRunner.RunSchedule(system, config, 1, options, "", trace: false);
        Assert.NotNull(traced.Trace);
        Assert.Null(untraced.Trace);
        Assert.Equal(untraced.Report.TraceHash, traced.Report.TraceHash);
        Assert.Equal(untraced.Schedule.Choices, traced.Schedule.Choices);
        Assert.Equal(0, traced.Trace!.Dropped);
    }

    [Fact]
    public void A_full_trace_counts_what_it_drops()
    {
        var config = SimConfig.Load(H5, ["hviommu.run.trace-capacity = 50"]);
        using var system = DeterministicRunner.CreateSystem(config, verbose: false);
        var r = DeterministicRunner.RunSchedule(system, config, 1, new ScheduleOptions("pct"), "");
        Assert.Equal(50, r.Trace!.Snapshot().Count);
        Assert.Equal(r.Trace.Recorder.Recorded - 50, r.Trace.Dropped);
        Assert.True(r.Trace.Dropped > 0);
    }

    [Fact]
    public void A_stress_run_with_trace_writes_the_files_and_says_it_is_not_causal_complete()
    {
        var traceDir = Path.Combine(_dir, "stress");
        var (exit, stdout, stderr) = RunEndToEndTests.Run(["run", "--ops", "100", "--seed", "3", "--plain", "--trace", traceDir]);
        Assert.True(exit == 0, $"exit {exit}\n{stdout}\n{stderr}");
        Assert.Contains("not causal-complete", stdout);
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(traceDir, TraceFiles.PerfettoFile)));
        Assert.NotEmpty(doc.RootElement.GetProperty("traceEvents").EnumerateArray());
        Assert.StartsWith("# No violation", File.ReadAllText(Path.Combine(traceDir, TraceFiles.MermaidFile)));
        var history = File.ReadAllLines(Path.Combine(traceDir, TraceFiles.HistoryFile));
        Assert.Contains(history, l => l.Contains("\"kind\":\"DmaAccess\"", StringComparison.Ordinal));
        Assert.Contains(history, l => l.Contains("\"name\":\"HypercallCompleted FlushDeviceDomain\"", StringComparison.Ordinal));
    }
}
