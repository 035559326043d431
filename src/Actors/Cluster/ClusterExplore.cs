using System.Globalization;
using HvIommu.Actors.Runs;
using HvIommu.Actors.Cli;
using HvIommu.Actors.Logging;
using HvIommu.Actors.Simulation;
using HvIommu.Actors.Sweep;
using HvIommu.Model.Text;

namespace HvIommu.Actors.Cluster;

/// <summary>
/// <c>explore</c> on a cluster (<c>--cluster-listen</c> or <c>--local-workers</c>): the same search as on one machine —
/// the same seeds give the same schedules — with the seeds leased to the workers. The first violation (of the
/// scenario's <c>expect-kind</c> when it names one: other kinds are counted, listed with their first seed, and the
/// search goes on) stops every worker unless <c>--all</c>; the coordinator then re-runs the found seed itself
/// (checking the worker's trace hash) and writes the report, its schedule and the trace here, so they replay on
/// any machine.
/// </summary>
public static class ClusterExplore
{
    /// <param name="cancel">Ctrl-C, as for explore on one machine: no more leases, the workers are told the run is over
    /// (the schedules they are running are dropped), the summary is printed, the report (of the violation found, else of
    /// the first seed) is written marked partial, and the exit code is 130 — unless the search had already finished.</param>
    public static int Run(string? configPath, ScheduleOptions options, ulong? start, long? seeds, TimeSpan? duration, bool all, long? ops,
        string? reportPath, string? traceDir, int? parallel, ClusterOptions cluster, TextWriter stdout, TextWriter stderr, CancellationToken cancel = default)
    {
        var plan = SweepPlan.Build(configPath, [], start, duration is null ? seeds ?? 1000 : null, duration?.TotalSeconds, options, ops, stress: false);
        var job = plan.Job;
        var config = plan.CellConfigs[0];
        var expectKind = config.Settings.Expect == Model.Settings.Expectation.Violation ? config.Settings.ExpectKind : null;
        SimLogging.Configure(verbose: false);
        using var pool = cluster.CreatePool(parallel, stderr);
        var state = new SweepState(job, stopAtFirst: !all, leaseSeconds: cluster.LeaseSeconds, answers: SweepState.ShowsKind(expectKind));
        var broke = ExplorationDriver.Drive(state, pool, stdout, plain: true, job.SeedsPerCell, () => stdout.WriteLine(
            $"explore {plan.CellConfigs[0].File}: strategy {options.Strategy}{(options.PctDepth is { } depth ? $" depth {depth}" : "")}, seeds from {job.FirstSeed}, {(job.SeedsPerCell is { } n ? $"{Counted.Of(n, "schedule")}" : $"for {duration!.Value.TotalSeconds:0.#} s")}, {pool.Where}"), cancel);
        var interrupted = state.Interrupted;
        var cli = new CliContext(stdout, stderr, false, cancel);
        if (broke is not null)
        {
            stderr.WriteLine($"error: {broke}");
            return ExitCodes.SimulatorFailure;
        }
        var tally = state.Tallies[0];
        var elapsed = state.Elapsed;
        stdout.WriteLine();
        stdout.WriteLine($"{Throughput.Of(tally.Schedules, tally.Steps, elapsed, stress: false)}, {tally.WithViolations:N0} with violations{(interrupted ? " (interrupted)" : "")}");
        foreach (var line in KindsSummary(tally, job.FirstSeed))
            stdout.WriteLine(line);
        stdout.WriteLine(Coordination(state, pool));
        if (tally.FirstFailure is { } failed)
        {
            stderr.WriteLine($"error: the simulator failed on seed {failed.Seed}: {failed.Failure}");
            return ExitCodes.SimulatorFailure;
        }
        var found = all ? (expectKind is null ? tally.FirstViolation : tally.FirstOfKind.GetValueOrDefault(expectKind)) : state.EarliestFound;
        if (found is null)
        {
            var clean = config.Settings.Expect == Model.Settings.Expectation.Clean;
            var expected = expectKind is null ? "a violation" : $"a violation of kind {expectKind}";
            if (reportPath is not null)
                WriteFirstSeedReport(cli, config, configPath, job, ops, reportPath, interrupted);
            if (interrupted)
            {
                // Nothing is concluded from an interrupted search, whatever the expectation (as explore on one machine).
                var ran = Counted.Of(tally.Schedules, "schedule");
                stdout.WriteLine(tally.Kinds.Count == 0
                    ? $"result: INTERRUPTED — every schedule that ran was clean ({ran}) (exit {ExitCodes.Interrupted})"
                    : $"result: INTERRUPTED — no {expected[2..]} in the {ran} that ran, only other kinds (above) (exit {ExitCodes.Interrupted})");
                return ExitCodes.Interrupted;
            }
            stdout.WriteLine(clean
                ? "result: expected clean, every schedule was clean: MATCHED (exit 0)"
                : $"result: expected {expected}, none found in these schedules{(tally.Kinds.Count > 0 ? " (only other kinds, above)" : "")}: NOT MATCHED (exit 1)");
            return clean ? ExitCodes.Matched : ExitCodes.Mismatched;
        }
        if (!all)
            stdout.WriteLine($"first violation: seed {found.Seed} after {state.TimeToFirst!.Value.TotalSeconds:0.000} s and {state.SchedulesToFirst:N0} schedule(s)");

        // The worker sent the seed and its trace hash; the schedule, report and trace are made here.
        using var system = DeterministicRunner.CreateSystem(config, verbose: false, name: "cluster-explore-replay");
        var concrete = job.Strategies().For(system, config, found.Seed);
        var reproduce = Reproduction.Run(configPath, found.Seed, ops, concrete);
        var result = DeterministicRunner.RunSchedule(system, config, found.Seed, concrete, reproduce, ExplorationJob.ExpectedSteps(config), recordLatencies: true, trace: traceDir is not null).AsExplored();
        if (result.Report.TraceHash != found.TraceHash)
        {
            stderr.WriteLine($"error: nondeterminism detected: seed {found.Seed} gave trace hash {found.TraceHash} on the worker and {result.Report.TraceHash} here");
            return ExitCodes.SimulatorFailure;
        }
        stdout.WriteLine($"re-ran seed {found.Seed} here: trace hash {result.Report.TraceHash}, the same as on the worker");
        // Interrupted after a find (with --all): the violation's report, marked partial since the search did not finish; exit 130.
        var code = RunOutput.Finish(cli, result.Report with { Partial = interrupted }, result.Verdict, result.Failure, null, reportPath, result.Schedule, RunOutput.Trace(traceDir, result.Trace));
        stdout.WriteLine(reportPath is not null
            ? $"replay: {Reproduction.Replay(reportPath)}"
            : $"reproduce: {result.Report.Violations.FirstOrDefault()?.Reproduce}");
        return code;
    }

    /// <summary>
    /// No schedule answered: --report still gets a report, of the first seed re-run here (as explore on one machine
    /// writes), so an older failing report is never left behind looking current.
    /// </summary>
    private static void WriteFirstSeedReport(CliContext cli, Configuration.LoadedConfig config, string? configPath, ExplorationJob job, long? ops, string reportPath, bool interrupted)
    {
        using var system = DeterministicRunner.CreateSystem(config, verbose: false, name: "cluster-explore-first");
        var concrete = job.Strategies().For(system, config, job.FirstSeed);
        var first = DeterministicRunner.RunSchedule(system, config, job.FirstSeed, concrete, Reproduction.Run(configPath, job.FirstSeed, ops, concrete), ExplorationJob.ExpectedSteps(config), recordLatencies: true, trace: false);
        var schedulePath = Path.ChangeExtension(reportPath, ".schedule");
        Reporting.AtomicFile.WriteText(schedulePath, first.Schedule.ToText());
        Reporting.ReportWriter.Write(first.Report with { Partial = interrupted, Artifacts = [schedulePath] }, reportPath);
        cli.Out.WriteLine($"report: {reportPath} (no schedule matched the expectation; this is the report of the first schedule, seed {job.FirstSeed}){(interrupted ? " (partial: the run was interrupted)" : "")}");
    }

    /// <summary>One line per violation kind the schedules showed, in order of its first seed: how many schedules, the
    /// first seed and which schedule that was (seed − first seed + 1) — the lines local <c>explore</c> prints.</summary>
    public static IEnumerable<string> KindsSummary(CellTally tally, ulong firstSeed) =>
        tally.FirstOfKind.OrderBy(k => k.Value.Seed).ThenBy(k => k.Key, StringComparer.Ordinal)
            .Select(k => $"  {k.Key}: {tally.Kinds[k.Key]:N0} schedule(s), first seed {k.Value.Seed} (schedule {k.Value.Seed - firstSeed + 1:N0})");

    /// <summary>What coordinating cost: leases, the coordinator's handling time per lease, and the share of the
    /// workers' time spent waiting for a lease (against running schedules).</summary>
    public static string Coordination(SweepState state, IExplorerPool pool)
    {
        var busy = state.BusySeconds;
        var wait = state.WaitSeconds;
        var handling = pool is ClusterPool c ? c.Stats.HandlingSeconds : 0;
        var messages = pool is ClusterPool c2 ? c2.Stats.Messages : 0;
        var each = Math.Round(state.Totals().Schedules / (double)Math.Max(1, state.LeasesGranted), 1);
        var unit = state.Job.Stress ? (each == 1 ? "stress run" : "stress runs") : each == 1 ? "schedule" : "schedules";
        return $"coordination: {Counted.Of(state.LeasesGranted, "lease")} ({each.ToString("#,0.#", CultureInfo.InvariantCulture)} {unit} each), "
            + $"coordinator {handling * 1000 / Math.Max(1, state.LeasesGranted):0.000} ms per lease over {Counted.Of(messages, "message")}, "
            + $"explorers waited {wait:0.00} s for leases against {busy:0.0} s running {(state.Job.Stress ? "stress runs" : "schedules")} ({100 * wait / Math.Max(busy + wait, 1e-9):0.00} %)"
            + (state.SeedsReleased > 0 ? $"; {Counted.Of(state.SeedsReleased, "seed")} of lost workers re-leased, {state.ReportsRefused:N0} late reports refused" : "");
    }
}
