using System.Diagnostics;
using System.Globalization;
using HvIommu.Actors.Configuration;
using HvIommu.Actors.Deterministic;
using HvIommu.Actors.Logging;
using HvIommu.Actors.Reporting;
using HvIommu.Actors.Simulation;

namespace HvIommu.Actors.Cli;

/// <summary>
/// <c>explore</c>: many deterministic schedules of one scenario, each a seed (and so a workload and a
/// schedule), with a strategy; stops at the first violation unless <c>--all</c>. One ActorSystem per
/// explorer thread is reused across schedules; <c>--parallel N</c> runs N explorers over disjoint seeds.
/// </summary>
public sealed class ExploreCommand : ICommand
{
    public string Name => "explore";

    public string Summary => "many deterministic schedules of a scenario (portfolio, random, PCT, delay bounding); stops at the first violation";

    public string Usage => """
        usage: explore [--config FILE] [--strategy S] [--pct-depth D] [--seeds N | --duration 30s] [--seed START]
                       [--parallel N] [--all] [--ops N] [--max-steps N] [--report FILE.json] [--plain]

          --config FILE     the scenario or topology (default: the embedded default.conf)
          --strategy S      portfolio (default: random, PCT and delay bounding interleaved schedule by schedule),
                            random (uniform choice of the next actor and of every environment choice),
                            pct [depth=D] [length=L] (probabilistic concurrency testing; depths 1-4 in turn unless fixed;
                            change points over the longest schedule seen), delay [bound=B] [length=L] (delay bounding)
          --pct-depth D     fix PCT's depth
          --seeds N         schedules to run (default 1000); --duration stops after a wall-clock time instead
          --seed START      first seed (default: hviommu.seed); schedule i uses seed START + i
          --parallel N      N explorers on N threads over disjoint seeds (default 1; with a cluster: per local worker)
          --all             run every schedule instead of stopping at the first violation
          --ops N           guest operations per schedule (overrides hviommu.run.ops)
          --report FILE     write the report of the first failing schedule, and its schedule beside it
          --cluster-listen HOST:PORT, --min-workers K, --local-workers K: explore on a cluster (worker --help, README)
          --trace DIR       replay the first failing schedule with the causal trace on and write its files to DIR
                            (trace.perfetto.json, violation.md, history.jsonl; see run --help)

        exit codes: as for run — 0 when the outcome matched the expectation (a violation found for an
        expect = violation scenario, none over all schedules for a clean one), 1 when not, 2 bad input, 3 failure
        """;

    public int Run(ArgReader args, TextWriter stdout, TextWriter stderr)
    {
        var configPath = args.Option("--config");
        var options = RunCommand.ReadScheduleOptions(args);
        var seeds = args.Int64("--seeds", 1);
        var durationText = args.Option("--duration");
        var start = args.UInt64("--seed");
        var parallelGiven = args.Int64("--parallel", 1, 64);
        var parallel = (int)(parallelGiven ?? 1);
        var all = args.Flag("--all");
        var ops = args.Int64("--ops", 0);
        var reportPath = args.Option("--report");
        var traceDir = args.Option("--trace");
        args.Flag("--plain");
        var cluster = Cluster.ClusterOptions.Read(args, configPath is not null && File.Exists(configPath) ? SimConfig.Load(configPath).Merged : null);
        args.EnsureAllConsumed();
        TimeSpan? duration = null;
        if (durationText is not null)
            duration = HoconReader.TryParseDuration(durationText, out var d) ? d : throw new UsageException($"--duration '{durationText}' is not a duration (e.g. 30s)");
        var total = seeds ?? (duration is null ? 1000 : long.MaxValue);
        if (cluster.IsCluster)
            return Cluster.ClusterExplore.Run(configPath, options, start, seeds, duration, all, ops, reportPath, traceDir, (int?)parallelGiven, cluster, stdout, stderr);

        var overrides = ops is { } o ? new[] { $"hviommu.run.ops = {o.ToString(CultureInfo.InvariantCulture)}" } : [];
        var config = SimConfig.Load(configPath, overrides);
        var first = start ?? config.Settings.Seed;
        SimLogging.Configure(verbose: false);
        stdout.WriteLine($"explore {config.File}: strategy {options.Strategy}{(options.PctDepth is { } depth ? $" depth {depth}" : "")}, seeds from {first}, {(seeds is null && duration is not null ? $"for {duration.Value.TotalSeconds:0.#} s" : $"{total:N0} schedules")}, {parallel} explorer(s)");

        var search = new Exploration(config, configPath, options, first, total, parallel, stopAtFirst: !all, ops);
        var wall = Stopwatch.StartNew();
        search.Start();
        var lastPrint = TimeSpan.Zero;
        while (!search.Wait(TimeSpan.FromMilliseconds(200)))
        {
            if (duration is { } limit && wall.Elapsed >= limit)
                search.Stop();
            if (wall.Elapsed - lastPrint >= TimeSpan.FromSeconds(1))
            {
                lastPrint = wall.Elapsed;
                stdout.WriteLine(search.Progress(wall.Elapsed));
            }
        }
        wall.Stop();
        stdout.WriteLine(search.Progress(wall.Elapsed));
        return Report(stdout, stderr, search, config, reportPath, traceDir, wall.Elapsed);
    }

    private static int Report(TextWriter stdout, TextWriter stderr, Exploration search, LoadedConfig config, string? reportPath, string? traceDir, TimeSpan elapsed)
    {
        if (search.Failure is { } failure)
        {
            stderr.WriteLine($"error: the simulator failed on seed {failure.Report.Seed}: {failure.Failure}");
            return ExitCodes.SimulatorFailure;
        }
        var found = search.FirstViolation;
        stdout.WriteLine();
        stdout.WriteLine($"schedules {search.Schedules:N0}, steps {search.Steps:N0}, {search.Schedules / elapsed.TotalSeconds:N0} schedules/s, {search.Steps / elapsed.TotalSeconds:N0} steps/s, {search.WithViolations:N0} with violations");
        foreach (var kind in search.KindsSeen)
            stdout.WriteLine($"  {kind.Kind}: {kind.Schedules:N0} schedule(s), first seed {kind.FirstSeed} (schedule {kind.FirstIndex + 1:N0})");
        if (found is null)
        {
            var clean = config.Settings.Expect == Model.Settings.Expectation.Clean;
            var expectedKind = config.Settings.ExpectKind is { } k ? $"a {k} violation" : "a violation";
            stdout.WriteLine(clean
                ? "result: expected clean, every schedule was clean: MATCHED (exit 0)"
                : $"result: expected {expectedKind}, none found in these schedules{(search.KindsSeen.Count > 0 ? " (only other kinds, above)" : "")}: NOT MATCHED (exit 1)");
            return clean ? ExitCodes.Matched : ExitCodes.Mismatched;
        }
        stdout.WriteLine($"first violation: seed {found.Report.Seed} after {search.TimeToFirst!.Value.TotalSeconds:0.000} s and {search.SchedulesToFirst:N0} schedule(s); trace hash {found.Report.TraceHash}");
        var report = found.Report;
        var code = RunCommand.Finish(stdout, stderr, report, found.ExitCode, null, null, reportPath, found.Schedule, TraceOf(config, found, traceDir));
        stdout.WriteLine(reportPath is not null
            ? $"replay: dotnet run --project src/Actors -c Release -- replay --report {reportPath}"
            : $"reproduce: {report.Violations.FirstOrDefault()?.Reproduce}");
        return code;
    }

    /// <summary>
    /// Explorers run untraced (schedules/s matters); the failing schedule is replayed once with the trace on.
    /// Tracing only observes, so the replay is the same run (same trace hash, same violations).
    /// </summary>
    private static RunCommand.TraceRequest? TraceOf(LoadedConfig config, ScheduleResult found, string? traceDir)
    {
        if (traceDir is null)
            return null;
        using var system = DeterministicRunner.CreateSystem(config, verbose: false, name: "explore-trace");
        var options = new ScheduleOptions(Replay: found.Schedule);
        var traced = DeterministicRunner.RunSchedule(system, config, found.Report.Seed, options, found.Report.Violations.FirstOrDefault()?.Reproduce ?? "", trace: true);
        return RunCommand.TraceOutput(traceDir, traced.Trace);
    }
}

/// <summary>The explorer threads of one <c>explore</c>: disjoint seeds, one deterministic system each.</summary>
internal sealed class Exploration(LoadedConfig config, string? configPath, ScheduleOptions options, ulong first, long total, int parallel, bool stopAtFirst, long? ops)
{
    private readonly List<Thread> _threads = new();
    private readonly Stopwatch _clock = new();
    private readonly Lock _lock = new();
    private long _next;
    private long _schedules;
    private long _steps;
    private long _withViolations;
    private readonly Dictionary<string, KindSeen> _kinds = new(StringComparer.Ordinal);
    private volatile bool _stop;
    private int _running;

    /// <summary>The first schedule that answers the exploration: one with the expected violation kind (any kind when
    /// the scenario names none), or any violation for a clean scenario.</summary>
    public ScheduleResult? FirstViolation { get; private set; }
    public ScheduleResult? Failure { get; private set; }
    public TimeSpan? TimeToFirst { get; private set; }
    public long SchedulesToFirst { get; private set; }
    public long Schedules => Interlocked.Read(ref _schedules);
    public long Steps => Interlocked.Read(ref _steps);
    public long WithViolations => Interlocked.Read(ref _withViolations);

    public void Start()
    {
        _clock.Start();
        _running = parallel;
        for (var t = 0; t < parallel; t++)
        {
            var index = t;
            var thread = new Thread(() => Explore(index)) { IsBackground = true, Name = "explorer-" + t };
            _threads.Add(thread);
            thread.Start();
        }
    }

    public void Stop() => _stop = true;

    public bool Wait(TimeSpan timeout) => SpinWait.SpinUntil(() => Volatile.Read(ref _running) == 0, timeout);

    public string Progress(TimeSpan elapsed) =>
        $"  {Schedules:N0} schedules ({Schedules / Math.Max(elapsed.TotalSeconds, 1e-3):N0}/s), {Steps / Math.Max(elapsed.TotalSeconds, 1e-3):N0} steps/s, {WithViolations:N0} with violations, {elapsed.TotalSeconds:0.0} s";

    private void Explore(int index)
    {
        try
        {
            using var system = DeterministicRunner.CreateSystem(config, verbose: false, name: "explore-" + index);
            var expected = Math.Max(1000, config.Settings.Run.Ops * 20);
            // One plan per explorer: it learns the schedule length from this explorer's schedules, and names
            // each schedule's concrete strategy so the reproduce command and the schedule file replay it alone.
            var plan = options.Plan();
            while (!_stop)
            {
                var i = Interlocked.Increment(ref _next) - 1;
                if (i >= total)
                    break;
                var seed = first + (ulong)i;
                var concrete = options.For(plan.Next(seed, i));
                var reproduce = RunCommand.Reproduce(configPath, seed, ops, concrete);
                var result = DeterministicRunner.RunSchedule(system, config, seed, concrete, reproduce, expected, recordLatencies: false, trace: false);
                plan.Observe(result.Decisions);
                Interlocked.Increment(ref _schedules);
                Interlocked.Add(ref _steps, result.Report.Stats.Steps);
                Record(result, i);
            }
        }
        finally
        {
            Interlocked.Decrement(ref _running);
        }
    }

    private void Record(ScheduleResult result, long index)
    {
        if (result.Failure is not null)
        {
            lock (_lock)
                Failure ??= result;
            _stop = true;
            return;
        }
        var report = result.Report;
        if (report.Violations.Count == 0)
            return;
        Interlocked.Increment(ref _withViolations);
        // A scenario that expects one kind is not matched by another: count the others, note the first seed
        // of each, and go on until the expected kind (or the budget).
        var hit = report.Expected == ExpectedOutcome.Clean || report.OutcomeMatched;
        lock (_lock)
        {
            foreach (var kind in report.Violations.Select(v => v.Kind).Distinct())
            {
                if (_kinds.TryGetValue(kind, out var seen))
                    _kinds[kind] = seen with { Schedules = seen.Schedules + 1, FirstSeed = index < seen.FirstIndex ? report.Seed : seen.FirstSeed, FirstIndex = Math.Min(index, seen.FirstIndex) };
                else
                    _kinds[kind] = new KindSeen(kind, 1, report.Seed, index);
            }
            if (hit && (FirstViolation is null || index + 1 < SchedulesToFirst))
            {
                FirstViolation = result;
                TimeToFirst = _clock.Elapsed;
                SchedulesToFirst = index + 1;
            }
        }
        if (hit && stopAtFirst)
            _stop = true;
    }

    /// <summary>Every violation kind seen, in order of first sight (schedule index).</summary>
    public IReadOnlyList<KindSeen> KindsSeen
    {
        get
        {
            lock (_lock)
                return _kinds.Values.OrderBy(k => k.FirstIndex).ToList();
        }
    }

    /// <summary>A violation kind seen by the exploration: in how many schedules, and the first one's seed.</summary>
    public sealed record KindSeen(string Kind, long Schedules, ulong FirstSeed, long FirstIndex);
}
