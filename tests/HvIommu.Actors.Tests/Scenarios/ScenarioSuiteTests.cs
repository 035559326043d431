using System.Globalization;
using System.Text.Json;
using HvIommu.Actors.Cli;
using HvIommu.Actors.Scenarios;
using HvIommu.Actors.Tests.Simulation;

namespace HvIommu.Actors.Tests.Scenarios;

/// <summary>
/// The hazard catalogue runs as it says (the issue's done-criteria): every scenario file, in its own mode on
/// a few fixed seeds with the scenario's own small budget, ends with exit 0 — a wrong scenario's violation
/// found (a stress-mode one within three runs of the seed), a right scenario clean on its one run. Plus the catalogue's conventions: twins, names, hazards.
/// </summary>
[Trait("Category", "Scenario")]
public sealed class ScenarioSuiteTests
{
    public static TheoryData<string, int> ScenarioSeeds()
    {
        var data = new TheoryData<string, int>();
        foreach (var file in ScenarioFiles.All())
            foreach (var seed in new[] { 1, 2, 3 })
                data.Add(ScenarioFiles.Stem(file), seed);
        return data;
    }

    [Theory]
    [MemberData(nameof(ScenarioSeeds))]
    public void Scenario_outcome_matches_its_expectation(string scenario, int seed)
    {
        var file = Path.Combine(ScenarioFiles.Directory, scenario + ".conf");
        (int Exit, string Stdout, string Stderr) Run() =>
            RunEndToEndTests.Run(["run", "--config", file, "--seed", seed.ToString(CultureInfo.InvariantCulture), "--plain"]);
        // A right twin gets one run; a stress-mode wrong twin up to three draws of the thread schedule (ScenarioFiles.JudgeWrong).
        var ((exit, stdout, stderr), attempts) = ScenarioFiles.IsRight(file)
            ? (Run(), 1)
            : ScenarioFiles.JudgeWrong(file, Run, r => r.Exit == ExitCodes.Matched);
        Assert.True(exit == ExitCodes.Matched, $"{scenario} seed {seed}: exit {exit} after {attempts} run(s)\n{stdout}\n{stderr}");
        Assert.Contains("MATCHED (exit 0)", stdout);
    }

    [Fact]
    public void Every_wrong_scenario_has_its_right_twin_and_vice_versa()
    {
        var stems = ScenarioFiles.All().Select(ScenarioFiles.Stem).ToHashSet(StringComparer.Ordinal);
        Assert.NotEmpty(stems);
        foreach (var stem in stems)
        {
            var twin = ScenarioCatalogue.Twin(stem);
            Assert.True(twin is not null, $"{stem}.conf is named neither …-wrong.conf nor …-right.conf");
            Assert.True(stems.Contains(twin!), $"{stem}.conf has no twin {twin}.conf");
        }
    }

    [Fact]
    public void Every_scenario_names_itself_its_hazard_and_a_matching_expectation()
    {
        var (entries, problems) = ScenarioCatalogue.Load(ScenarioFiles.Directory);
        Assert.True(problems.Count == 0, string.Join("\n", problems));
        Assert.Equal(ScenarioFiles.All().Count, entries.Count);
        foreach (var e in entries)
        {
            Assert.Equal(ScenarioFiles.Stem(e.File), e.Name);
            Assert.Matches("^H[0-9]+$", e.Hazard);
            Assert.StartsWith(e.Hazard.ToLowerInvariant() + "-", e.Name, StringComparison.Ordinal);
            Assert.False(string.IsNullOrWhiteSpace(e.Description), e.Name);
            Assert.Equal(ScenarioFiles.IsRight(e.File) ? Model.Settings.Expectation.Clean : Model.Settings.Expectation.Violation, e.Expect);
            Assert.InRange(e.Ops, 1, 5000);
            Assert.StartsWith("#", File.ReadAllText(e.File));
        }
    }
}

/// <summary>The <c>scenarios</c> command: the catalogue as a table and as JSON; broken files exit 2.</summary>
public sealed class ScenariosCommandTests
{
    [Fact]
    public void Table_lists_every_scenario_sorted_by_hazard_then_name()
    {
        var (exit, stdout, stderr) = RunEndToEndTests.Run(["scenarios", "--dir", ScenarioFiles.Directory]);
        Assert.True(exit == 0, stderr);
        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')).ToList();
        Assert.Matches(@"^name\s+hazard\s+expect\s+description$", lines[0]);
        var rows = lines.Skip(2).Take(ScenarioFiles.All().Count).ToList();
        var names = rows.Select(r => r.Split(' ', 2)[0]).ToList();
        Assert.Equal(ScenarioFiles.All().Select(ScenarioFiles.Stem).OrderBy(s => s, StringComparer.Ordinal).Count(), names.Count);
        var hazards = rows.Select(r => int.Parse(r.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1][1..], CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(hazards.OrderBy(h => h), hazards);
        Assert.Contains(rows, r => r.StartsWith("h5-drain-wrong ", StringComparison.Ordinal) && r.Contains("violation:DmaToFreedFrame"));
        Assert.Contains(rows, r => r.StartsWith("h5-drain-right ", StringComparison.Ordinal) && r.Contains(" clean "));
    }

    [Fact]
    public void Json_lists_every_scenario_with_its_expectation()
    {
        var (exit, stdout, stderr) = RunEndToEndTests.Run(["scenarios", "--dir", ScenarioFiles.Directory, "--json"]);
        Assert.True(exit == 0, stderr);
        using var doc = JsonDocument.Parse(stdout);
        var items = doc.RootElement.EnumerateArray().ToList();
        Assert.Equal(ScenarioFiles.All().Count, items.Count);
        var drain = items.Single(i => i.GetProperty("name").GetString() == "h5-drain-wrong");
        Assert.Equal("H5", drain.GetProperty("hazard").GetString());
        Assert.Equal("violation", drain.GetProperty("expect").GetString());
        Assert.Equal("DmaToFreedFrame", drain.GetProperty("expectKind").GetString());
        Assert.Equal("h5-drain-wrong.conf", drain.GetProperty("file").GetString());
    }

    [Fact]
    public void A_broken_or_twinless_file_is_reported_with_exit_2()
    {
        var dir = Directory.CreateTempSubdirectory("hviommu-scenarios-");
        try
        {
            File.WriteAllText(Path.Combine(dir.FullName, "h5-lonely-wrong.conf"),
                "# lonely\nhviommu { name = \"h5-lonely-wrong\", hazard = \"H5\", description = \"d\", expect = violation, hypervisor.flush.drain-dma = off }");
            File.WriteAllText(Path.Combine(dir.FullName, "h9-broken-right.conf"), "hviommu { vm { vcpus = zero } }");
            var (exit, stdout, stderr) = RunEndToEndTests.Run(["scenarios", "--dir", dir.FullName]);
            Assert.Equal(ExitCodes.BadInput, exit);
            Assert.Contains("h5-lonely-wrong", stdout);
            Assert.Contains("h5-lonely-right.conf is missing", stderr);
            Assert.Contains("hviommu.vm.vcpus", stderr);
            Assert.DoesNotContain("   at ", stderr);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void A_missing_directory_is_a_usage_error()
    {
        var (exit, _, stderr) = RunEndToEndTests.Run(["scenarios", "--dir", Path.Combine(Path.GetTempPath(), "no-such-" + Guid.NewGuid().ToString("N"))]);
        Assert.Equal(ExitCodes.BadInput, exit);
        Assert.Contains("is not a directory", stderr);
    }
}
