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
            var (exit, stdout, stderr) = RunEndToEndTests.Run(["explore", "--config", config, "--seeds", "12", "--seed", "1", "--plain"]);
            Assert.True(exit == 1, stdout + stderr);
            Assert.Contains("schedules 12,", stdout);
            Assert.Matches(@"  LostMapping: \d+ schedule\(s\), first seed \d+ \(schedule \d+\)", stdout);
            Assert.Matches(@"  LeakedTablePage: \d+ schedule\(s\), first seed \d+", stdout);
            Assert.Contains("expected a WalkThroughFreedTable violation, none found in these schedules (only other kinds, above): NOT MATCHED (exit 1)", stdout);
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
        Assert.Matches(@"--mode deterministic --strategy (random|""pct depth=\d+ length=\d+""|""delay bound=\d+ length=\d+"")", stdout);
    }
}
