using HvIommu.Actors.Deterministic;
using HvIommu.Actors.Tests.Simulation;

namespace HvIommu.Actors.Tests.Deterministic;

/// <summary>
/// Exploration of minimal races (config/races/) from the command line: the default strategy (the portfolio)
/// finds the two-vCPU H6 race within 10 schedules from each of five starting seeds; with an expected kind,
/// explore counts the other kinds it meets, goes on, and lists every kind with its first seed; the table page
/// the racing install leaks is explained as H6; the reproduce command names the concrete strategy.
/// </summary>
[Trait("Category", "Scenario")]
public sealed class RaceExplorationTests
{
    internal static string Race(string name) => Path.Combine(RunEndToEndTests.RepoRoot(), "config", "races", name + ".conf");

    [Theory]
    [InlineData(1)]
    [InlineData(1001)]
    [InlineData(2001)]
    [InlineData(3001)]
    [InlineData(4001)]
    public void The_default_strategy_finds_the_minimal_h6_race_within_10_schedules(int seed)
    {
        var (exit, stdout, stderr) = RunEndToEndTests.Run(["explore", "--config", Race("h6-racy-install"), "--seeds", "10", "--seed", seed.ToString(), "--plain"]);
        Assert.True(exit == 0, stdout + stderr);
        Assert.Contains("strategy portfolio", stdout);
        Assert.Contains("first violation: seed", stdout);
        Assert.Contains("  LostMapping: ", stdout);
        Assert.Contains("MATCHED (exit 0)", stdout);
    }

    [Fact]
    public void An_expected_kind_not_met_lists_the_kinds_seen_with_their_first_seed_and_does_not_match()
    {
        // Expecting a kind H6 never produces: explore goes through the whole budget, listing what it met.
        var dir = Directory.CreateTempSubdirectory("hviommu-race-").FullName;
        try
        {
            var config = Path.Combine(dir, "h6-expect-other.conf");
            File.WriteAllText(config, File.ReadAllText(Race("h6-racy-install")) + "\nhviommu.expect-kind = WalkThroughFreedTable\n");
            var (exit, stdout, stderr) = RunEndToEndTests.Run(["explore", "--config", config, "--seeds", "12", "--seed", "1", "--plain", "--report", Path.Combine(dir, "r.json")]);
            Assert.True(exit == 1, stdout + stderr);
            Assert.Contains("schedules 12,", stdout);
            Assert.Contains("(no schedule found a violation of kind WalkThroughFreedTable; this is the report of the first schedule, seed 1)", stdout);
            Assert.Matches(@"  LostMapping: \d+ schedule\(s\), first seed \d+ \(schedule \d+\)", stdout);
            Assert.Matches(@"  LeakedTablePage: \d+ schedule\(s\), first seed \d+", stdout);
            Assert.Contains("expected a violation of kind WalkThroughFreedTable, none found in 12 schedules (only other kinds, above): NOT MATCHED (exit 1)", stdout);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void The_table_page_a_racing_install_leaks_is_explained_as_h6_and_the_reproduce_command_names_the_strategy()
    {
        var (exit, stdout, stderr) = RunEndToEndTests.Run(["explore", "--config", Race("h6-racy-install"), "--seeds", "10", "--seed", "1", "--plain"]);
        Assert.True(exit == 0, stdout + stderr);
        Assert.Contains("LeakedTablePage [H6]", stdout);
        Assert.DoesNotContain("[H16]", stdout);
        Assert.Contains("overwritten by a racing install", stdout);
        Assert.Matches(@"--mode deterministic --strategy (random|""pct depth=\d+ length=\d+( coins=\w+)?""|""delay bound=\d+ length=\d+( coins=\w+)?"")", stdout);
    }
}

/// <summary>
/// Environment choices in deterministic mode, end to end: the device's replays of the minimal H5 race are
/// choices the strategy makes; the schedule file records them; replay follows them (same trace hash); a
/// changed environment choice makes the replay diverge. And the default strategy finds a few minimal races
/// within a small budget from several starting seeds (typed results of the race benchmark).
/// </summary>
[Trait("Category", "Scenario")]
public sealed class RaceEnvironmentChoiceTests
{
    [Fact]
    public void A_race_decided_by_a_devices_replays_records_them_and_replays_exactly()
    {
        var dir = Directory.CreateTempSubdirectory("hviommu-race-values-").FullName;
        try
        {
            var report = Path.Combine(dir, "h5.json");
            var (exit, stdout, stderr) = RunEndToEndTests.Run(["explore", "--config", RaceExplorationTests.Race("h5-drain"), "--seeds", "30", "--report", report, "--plain"]);
            Assert.True(exit == 0, stdout + stderr);
            var schedule = Path.ChangeExtension(report, ".schedule");
            var lines = File.ReadAllLines(schedule).ToList();
            Assert.Equal("hviommu-schedule 3", lines[0]);
            var values = lines.FindIndex(l => l.StartsWith("values ", StringComparison.Ordinal));
            Assert.True(values > 0, string.Join('\n', lines));
            Assert.Contains("/2", lines[values]); // a replay coin: one of two outcomes

            var (again, replayOut, replayErr) = RunEndToEndTests.Run(["replay", "--report", report]);
            Assert.True(again == 0, replayOut + replayErr);
            Assert.Contains("REPRODUCED", replayOut);

            // Record a different outcome for the first environment choice: the run leaves its recording.
            var words = lines[values].Split(' ').ToArray();
            var parts = words[1].Split('/');
            words[1] = $"{(int.Parse(parts[0]) + 1) % int.Parse(parts[1])}/{parts[1]}";
            lines[values] = string.Join(' ', words);
            File.WriteAllLines(schedule, lines);
            var (changed, changedOut, changedErr) = RunEndToEndTests.Run(["replay", "--report", report]);
            Assert.True(changed != 0, changedOut + changedErr);
            Assert.DoesNotContain("REPRODUCED", changedOut);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>Chooses actors as the uniform random strategy does but leaves the environment to the seed, as every
    /// strategy did before environment choices: its recordings are version 1 schedules.</summary>
    private sealed class SeededEnvironmentStrategy(ulong seed) : IScheduleStrategy
    {
        private readonly UniformRandomStrategy _inner = new(seed);

        public string Description => StrategySpec.Random;

        public bool ChoosesEnvironment => false;

        public int Choose(ReadOnlySpan<int> candidates, long step) => _inner.Choose(candidates, step);
    }

    [Fact]
    public void A_version_1_schedule_recorded_when_the_seed_drew_the_environment_replays_unchanged()
    {
        // A schedule recorded with the environment drawn from the seed (as before environment choices) is written as
        // version 1; replayed from its text, it draws the environment from the seed again: same trace hash, same violations.
        var config = HvIommu.Actors.Configuration.SimConfig.Load(RaceExplorationTests.Race("h5-drain"), []);
        using var system = Runs.DeterministicRunner.CreateSystem(config, verbose: false, name: "v1-test");
        for (var seed = 1UL; seed <= 8; seed++)
        {
            var recorded = Runs.DeterministicRunner.RunSchedule(system, config, seed, new Runs.ScheduleOptions(Custom: (s, _) => new SeededEnvironmentStrategy(StrategySpec.StrategySeed(s))), "", trace: false);
            var text = recorded.Schedule.ToText();
            Assert.StartsWith("hviommu-schedule 1\n", text);
            Assert.DoesNotContain("values", text);
            var replayed = Runs.DeterministicRunner.RunSchedule(system, config, seed, new Runs.ScheduleOptions(Replay: ScheduleFile.Parse(text)), "", trace: false);
            Assert.Null(replayed.Drive.DivergedAtStep);
            Assert.Equal(recorded.Report.TraceHash, replayed.Report.TraceHash);
            Assert.Equal(recorded.Report.Violations.Select(v => v.Kind), replayed.Report.Violations.Select(v => v.Kind));
            // The same seed with the strategy making the environment's choices records them (the race has some).
            var chosen = Runs.DeterministicRunner.RunSchedule(system, config, seed, new Runs.ScheduleOptions(StrategySpec.Random), "", trace: false);
            Assert.NotEmpty(chosen.Schedule.EnvironmentChoices);
        }
    }

    /// <summary>An exploring strategy as it was before the replay engine: its runs time the device's replays in device
    /// steps and are recorded as version 2.</summary>
    private sealed class VersionTwoStrategy(ulong seed) : IScheduleStrategy
    {
        private readonly UniformRandomStrategy _inner = new(seed);

        public string Description => StrategySpec.Random;

        public int Version => 2;

        public int Choose(ReadOnlySpan<int> candidates, long step) => _inner.Choose(candidates, step);

        public int ChooseValue(int options, long index) => ((IScheduleStrategy)_inner).ChooseValue(options, index);
    }

    [Fact]
    public void Version_2_and_version_3_schedules_each_replay_with_the_replay_timing_they_were_recorded_with()
    {
        var config = HvIommu.Actors.Configuration.SimConfig.Load(RaceExplorationTests.Race("h4-devtlb-first"), []);
        using var system = Runs.DeterministicRunner.CreateSystem(config, verbose: false, name: "v2-test");
        var engineSteps = 0;
        system.Driver.DeliveryObserver = (path, _) => engineSteps += path.EndsWith("/replays", StringComparison.Ordinal) ? 1 : 0;
        try
        {
            for (var seed = 1UL; seed <= 6; seed++)
            {
                engineSteps = 0;
                var v2 = Runs.DeterministicRunner.RunSchedule(system, config, seed, new Runs.ScheduleOptions(Custom: (s, _) => new VersionTwoStrategy(StrategySpec.StrategySeed(s))), "", trace: false);
                Assert.Equal(0, engineSteps); // version 2: no replay engine; delays drawn as values
                var v2Text = v2.Schedule.ToText();
                Assert.StartsWith("hviommu-schedule 2\n", v2Text);
                var v2Again = Runs.DeterministicRunner.RunSchedule(system, config, seed, new Runs.ScheduleOptions(Replay: ScheduleFile.Parse(v2Text)), "", trace: false);
                Assert.Null(v2Again.Drive.DivergedAtStep);
                Assert.Equal(v2.Report.TraceHash, v2Again.Report.TraceHash);
                Assert.Equal(0, engineSteps);

                var v3 = Runs.DeterministicRunner.RunSchedule(system, config, seed, new Runs.ScheduleOptions(StrategySpec.Random), "", trace: false);
                var v3Text = v3.Schedule.ToText();
                Assert.StartsWith("hviommu-schedule 3\n", v3Text);
                var v3Again = Runs.DeterministicRunner.RunSchedule(system, config, seed, new Runs.ScheduleOptions(Replay: ScheduleFile.Parse(v3Text)), "", trace: false);
                Assert.Null(v3Again.Drive.DivergedAtStep);
                Assert.Equal(v3.Report.TraceHash, v3Again.Report.TraceHash);
                Assert.Equal(v3.Report.Violations.Select(v => v.Kind), v3Again.Report.Violations.Select(v => v.Kind));
            }
            Assert.True(engineSteps > 0, "a version 3 run of a replaying device runs its replay engine");
        }
        finally
        {
            system.Driver.DeliveryObserver = null;
        }
    }

    [Fact]
    public void A_version_1_schedule_with_environment_choices_is_refused_naming_the_line()
    {
        var dir = Directory.CreateTempSubdirectory("hviommu-race-v1-").FullName;
        try
        {
            var schedule = Path.Combine(dir, "bad.schedule");
            File.WriteAllText(schedule, "hviommu-schedule 1\nseed 5\nstrategy random\nsteps 1\nvalues 1/2\nchoices 1\n");
            var (exit, stdout, stderr) = RunEndToEndTests.Run(["replay", "--schedule", schedule, "--config", RaceExplorationTests.Race("h5-drain")]);
            Assert.True(exit == 2, stdout + stderr);
            Assert.Contains("line 5", stderr);
            Assert.Contains("version 1", stderr);
            Assert.DoesNotContain("   at ", stderr);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Theory]
    [InlineData("h2-free-iova")]
    [InlineData("h5-drain")]
    [InlineData("h9-ats-block")]
    [InlineData("h6-racy-install")]
    [InlineData("h1-free-tables")]
    [InlineData("h4-devtlb-first")]
    [InlineData("h14-s2-change")]
    public void The_default_strategy_finds_a_minimal_race_within_a_small_budget_from_each_start(string race)
    {
        var config = HvIommu.Actors.Configuration.SimConfig.Load(RaceExplorationTests.Race(race), []);
        // Ten starts, as the benchmark of minimal races takes (a median over three starts is one unlucky start away).
        var cells = HvIommu.Actors.Bench.RaceBenchmark.Measure(config, [StrategySpec.Default], HvIommu.Actors.Bench.RaceBenchmark.Starts(10), budget: 30);
        var cell = Assert.Single(cells);
        Assert.Equal(10, cell.Found);
        Assert.True(cell.MedianSchedules <= 10, $"{race}: median {cell.MedianSchedules}");
    }
}
