using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using HvIommu.Actors.Cli;
using HvIommu.Actors.Tests.Simulation;
using HvIommu.Actors.Tests.Sweep;

namespace HvIommu.Actors.Tests.Cluster;

/// <summary>
/// Exploration on a real Akka.Cluster on 127.0.0.1: the coordinator runs in this process, the workers are real
/// `worker` processes (started by --local-workers, or by the test when it must kill one).
/// </summary>
[Trait("Category", "Scenario")]
public sealed class ClusterRunTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"hviommu-cluster-{Guid.NewGuid():N}");

    public void Dispose()
    {
        if (Directory.Exists(_dir))
            Directory.Delete(_dir, recursive: true);
    }

    private static string Scenario(string name) => Path.Combine(RunEndToEndTests.RepoRoot(), "config", "scenarios", name + ".conf");

    [Fact]
    public void A_coordinator_and_two_workers_find_the_race_and_its_schedule_replays_in_one_process()
    {
        var report = Path.Combine(_dir, "h5.json");
        var (exit, stdout, stderr) = RunEndToEndTests.Run(["explore", "--config", Scenario("h5-drain-wrong"), "--strategy", "pct", "--seeds", "40", "--local-workers", "2", "--report", report, "--plain"]);
        Assert.True(exit == 0, $"exit {exit}\n{stdout}\n{stderr}");
        Assert.Equal(2, Regex.Matches(stderr, "coordinator: worker .* joined").Count);
        Assert.Contains("the same as on the worker", stdout);
        // h5-drain-wrong expects DmaToFreedFrame: the summary lists the kinds seen with their first seed.
        Assert.Matches(@"  DmaToFreedFrame: \d+ schedule\(s\), first seed \d+ \(schedule \d+\)", stdout);
        var (replayed, output, errors) = RunEndToEndTests.Run(["replay", "--report", report]);
        Assert.True(replayed == 0, $"exit {replayed}\n{output}\n{errors}");
        Assert.Contains("REPRODUCED", output);
    }

    [Fact]
    public void A_sweeps_cells_on_two_local_workers_agree_with_the_single_machine_sweep()
    {
        var here = Path.Combine(_dir, "here");
        var there = Path.Combine(_dir, "cluster");
        var (e1, o1, r1) = RunEndToEndTests.Run(SweepCommandTests.SweepArgs(here, "--parallel", "2"));
        var (e2, o2, r2) = RunEndToEndTests.Run(SweepCommandTests.SweepArgs(there, "--local-workers", "2"));
        Assert.True(e1 == 1 && e2 == 1, $"exits {e1} {e2}\n{o1}\n{r1}\n{o2}\n{r2}");
        Assert.Equal(SweepCommandTests.Cells(here), SweepCommandTests.Cells(there));
        Assert.Equal(File.ReadAllText(Path.Combine(here, "sweep.md")).Split('\n').Where(l => l.StartsWith("| ", StringComparison.Ordinal)).Select(l => l.Replace(here, "DIR", StringComparison.Ordinal)),
            File.ReadAllText(Path.Combine(there, "sweep.md")).Split('\n').Where(l => l.StartsWith("| ", StringComparison.Ordinal)).Select(l => l.Replace(there, "DIR", StringComparison.Ordinal)));
    }

    [Fact]
    public void A_worker_killed_mid_run_leaves_the_totals_exact_and_the_run_complete()
    {
        const int seeds = 60;
        var port = FreePort();
        var stdout = new LockedWriter();
        var stderr = new LockedWriter();
        var code = -1;
        var coordinator = new Thread(() => code = CommandLine.Run(
            ["explore", "--config", Scenario("h5-drain-right"), "--strategy", "pct", "--seeds", seeds.ToString(System.Globalization.CultureInfo.InvariantCulture), "--all",
             "--cluster-listen", $"127.0.0.1:{port}", "--min-workers", "2", "--plain"], stdout, stderr)) { IsBackground = true };
        coordinator.Start();
        using var victim = StartWorker(port);
        using var survivor = StartWorker(port);
        try
        {
            // Kill the victim once it has run schedules and holds a lease (it always keeps one more queued than it runs).
            Assert.True(SpinWait.SpinUntil(() => Regex.IsMatch(victim.Output, "job of") && Progress(stdout.Text) >= 4 || !coordinator.IsAlive, TimeSpan.FromMinutes(3)),
                $"the workers never started\n{stdout.Text}\n{stderr.Text}\n{victim.Output}");
            Assert.True(coordinator.IsAlive, $"the run ended before a worker could be killed\n{stdout.Text}\n{stderr.Text}");
            victim.Process.Kill(entireProcessTree: true);
            Assert.True(coordinator.Join(TimeSpan.FromMinutes(3)), $"the run did not complete after a worker died\n{stdout.Text}\n{stderr.Text}");
        }
        finally
        {
            survivor.Stop();
            victim.Stop();
        }
        var text = stdout.Text;
        Assert.True(code == 0, $"exit {code}\n{text}\n{stderr.Text}\n{survivor.Output}");
        Assert.Matches("coordinator: worker .* lost: ", stderr.Text);
        Assert.Contains($"schedules {seeds:N0}, ", text);
        Assert.Contains("every schedule was clean", text);
    }

    /// <summary>
    /// Ctrl-C on a cluster exploration stops it as on one machine: no more leases, the worker is told the run is over,
    /// the summary says interrupted, the report (of the first seed, none having failed) is written marked partial, and
    /// the exit is 130. The interrupt comes when the banner is printed — after the worker joined, before any answer
    /// could end the search — so the test waits on no clock.
    /// </summary>
    [Fact]
    public void An_interrupted_cluster_exploration_stops_its_workers_writes_a_partial_report_and_exits_130()
    {
        var report = Path.Combine(_dir, "cut short.json");
        Directory.CreateDirectory(_dir);
        File.WriteAllText(report, "an older report that must not be left looking current");
        using var interrupt = new CancellationTokenSource();
        var stdout = new InterruptingWriter(interrupt, line => line.StartsWith("explore ", StringComparison.Ordinal));
        var stderr = new LockedWriter();
        var code = CommandLine.Run(["explore", "--config", Scenario("h5-drain-right"), "--seeds", "1000000", "--local-workers", "1", "--report", report, "--plain"], stdout, stderr, interrupt.Token);
        var text = stdout.Text;
        Assert.True(code == ExitCodes.Interrupted, $"exit {code}\n{text}\n{stderr.Text}");
        Assert.True(interrupt.IsCancellationRequested);
        Assert.Contains("with violations (interrupted)", text);
        Assert.Contains("result: INTERRUPTED — every schedule that ran was clean", text);
        // One count everywhere: a lease a worker finished after the stop is not added between the two lines.
        var summary = System.Text.RegularExpressions.Regex.Match(text, @"^schedules ([\d,]+), ", System.Text.RegularExpressions.RegexOptions.Multiline);
        var result = System.Text.RegularExpressions.Regex.Match(text, @"was clean \(([\d,]+) schedules?\)");
        Assert.True(summary.Success && result.Success, text);
        Assert.Equal(summary.Groups[1].Value, result.Groups[1].Value);
        Assert.DoesNotContain("Unable to REMOVE channel", stderr.Text);
        using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(report));
        Assert.True(doc.RootElement.GetProperty("partial").GetBoolean());
        Assert.True(File.Exists(Path.ChangeExtension(report, ".schedule")));
    }

    /// <summary>A writer that cancels <paramref name="interrupt"/> (Ctrl-C) once a line it is given matches.</summary>
    private sealed class InterruptingWriter(CancellationTokenSource interrupt, Func<string, bool> when) : LockedWriter
    {
        public override void WriteLine(string? value)
        {
            base.WriteLine(value);
            if (value is not null && when(value))
                interrupt.Cancel();
        }
    }

    [Theory]
    [InlineData("worker", "--join", "no-port-here")]
    [InlineData("worker", "--join", "127.0.0.1:99999")]
    [InlineData("explore", "--cluster-listen", "host.invalid:4053")]
    [InlineData("sweep", "--min-workers", "2")]
    public void Bad_addresses_are_exit_2_with_a_clear_message(params string[] args)
    {
        var (exit, stdout, stderr) = RunEndToEndTests.Run([.. args, .. args[0] == "sweep" ? new[] { "--out", _dir } : []]);
        Assert.True(exit == 2, $"exit {exit}\n{stdout}\n{stderr}");
        Assert.StartsWith("error: ", stderr);
    }

    [Fact]
    public void A_worker_whose_coordinator_is_not_there_gives_up_with_exit_2_instead_of_hanging()
    {
        var (exit, stdout, stderr) = RunEndToEndTests.Run(["worker", "--join", $"127.0.0.1:{FreePort()}", "--join-timeout", "3s"]);
        Assert.True(exit == 2, $"exit {exit}\n{stdout}\n{stderr}");
        Assert.Contains("could not join", stderr);
    }

    [Fact]
    public void A_listen_port_already_in_use_is_exit_2()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port;
        var (exit, stdout, stderr) = RunEndToEndTests.Run(["explore", "--config", Scenario("h5-drain-right"), "--seeds", "1", "--cluster-listen", $"127.0.0.1:{port}"]);
        Assert.True(exit == 2, $"exit {exit}\n{stdout}\n{stderr}");
        Assert.Contains("cannot listen", stderr);
    }

    private static long Progress(string text) =>
        Regex.Matches(text, @"cells \d+/\d+, ([\d,]+)(/[\d,]+)? schedules").Select(m => long.Parse(m.Groups[1].Value.Replace(",", "", StringComparison.Ordinal), System.Globalization.CultureInfo.InvariantCulture)).DefaultIfEmpty(0).Max();

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    private sealed class WorkerProcess(Process process) : IDisposable
    {
        private readonly LockedWriter _output = new();

        public Process Process => process;

        public string Output => _output.Text;

        public void Attach()
        {
            process.OutputDataReceived += (_, e) => { if (e.Data is not null) _output.WriteLine(e.Data); };
            process.ErrorDataReceived += (_, e) => { if (e.Data is not null) _output.WriteLine(e.Data); };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
        }

        public void Stop()
        {
            if (!process.HasExited && !process.WaitForExit(30_000))
                process.Kill(entireProcessTree: true);
        }

        public void Dispose() => process.Dispose();
    }

    private static WorkerProcess StartWorker(int port)
    {
        var dll = typeof(HvIommu.Actors.Cluster.WorkerCommand).Assembly.Location;
        var host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } h && File.Exists(h) ? h : "dotnet";
        var info = new ProcessStartInfo(host) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "exec", dll, "worker", "--join", $"127.0.0.1:{port}", "--listen", "127.0.0.1:0", "--parallel", "1" })
            info.ArgumentList.Add(a);
        var worker = new WorkerProcess(Process.Start(info)!);
        worker.Attach();
        return worker;
    }

    /// <summary>A text writer several threads write to and the test reads while the run goes on.</summary>
    private class LockedWriter : StringWriter
    {
        private readonly Lock _lock = new();

        public string Text
        {
            get
            {
                lock (_lock)
                    return ToString();
            }
        }

        public override void Write(char value)
        {
            lock (_lock)
                base.Write(value);
        }

        public override void Write(string? value)
        {
            lock (_lock)
                base.Write(value);
        }

        public override void WriteLine(string? value)
        {
            lock (_lock)
                base.WriteLine(value);
        }
    }
}
