using HvIommu.Actors.Bench;
using HvIommu.Actors.Configuration;
using HvIommu.Actors.Deterministic;
using HvIommu.Actors.Runs;
using HvIommu.Actors.Tests.Configuration;
using HvIommu.Model.Settings;

namespace HvIommu.Actors.Tests.Deterministic;

/// <summary>
/// Every minimal race of config/races/ has a right twin in config/races/right/ (the same shape, the hazard's knob
/// at its correct value), and the portfolio finds nothing in it: a race is only a benchmark of exploration power
/// if the violation it counts comes from its knob, not from its shape. (h9-attach-atc once moved its device into
/// the other device's populated domain, so its IsolationBreach was Xen XSA-302's shape whatever the ATC did; its
/// right twin, explored as here, showed it first at schedule 49.)
/// </summary>
[Trait("Category", "Scenario")]
public sealed class RaceRightTwinTests
{
    private static string RacesDirectory => RepoFiles.Path("config", "races");

    public static TheoryData<string> Races()
    {
        var data = new TheoryData<string>();
        foreach (var file in RaceBenchmark.RaceFiles(RacesDirectory))
            data.Add(Path.GetFileNameWithoutExtension(file));
        return data;
    }

    [Fact]
    public void Every_race_has_a_clean_right_twin_of_the_same_hazard_and_no_twin_is_orphaned()
    {
        var races = RaceBenchmark.RaceFiles(RacesDirectory).Select(Path.GetFileNameWithoutExtension).ToHashSet();
        var twins = Directory.GetFiles(Path.Combine(RacesDirectory, "right"), "*.conf").Select(Path.GetFileNameWithoutExtension).ToHashSet();
        Assert.Equal(races.Select(r => r + "-right").Order(), twins.Order());
        foreach (var race in races)
        {
            var wrong = SimConfig.Load(Path.Combine(RacesDirectory, race + ".conf"), []).Settings;
            var right = SimConfig.Load(Path.Combine(RacesDirectory, "right", race + "-right.conf"), []).Settings;
            Assert.Equal(Expectation.Violation, wrong.Expect);
            Assert.Equal(Expectation.Clean, right.Expect);
            Assert.Equal(wrong.Hazard, right.Hazard);
            Assert.Equal(wrong.Run.Ops, right.Run.Ops);
        }
    }

    [Theory]
    [MemberData(nameof(Races))]
    public void The_portfolio_finds_no_violation_in_the_right_twin(string race)
    {
        var config = SimConfig.Load(Path.Combine(RacesDirectory, "right", race + "-right.conf"), []);
        using var system = DeterministicRunner.CreateSystem(config, verbose: false, name: "race-right");
        var seed = 1UL;
        foreach (var result in RaceBenchmark.Schedules(system, config, StrategySpec.Default, start: 1, budget: 50))
        {
            if (result.Report.Violations.Count > 0)
                Assert.Fail($"{race}-right seed {seed} ({result.Schedule.Strategy}): {result.Report.Violations[0].Kind} — {result.Report.Violations[0].Explanation}");
            seed++;
        }
    }
}
