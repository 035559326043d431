using System.Text.Json;
using HvIommu.Actors.Sweep;
using HvIommu.Actors.Tests.Simulation;

namespace HvIommu.Actors.Tests.Sweep;

/// <summary>sweep end to end: the table, its files, replay of a failing cell, and input checking.</summary>
[Trait("Category", "Scenario")]
public sealed class SweepCommandTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"hviommu-sweep-{Guid.NewGuid():N}");

    public void Dispose()
    {
        if (Directory.Exists(_dir))
            Directory.Delete(_dir, recursive: true);
    }

    internal static string Topology => Path.Combine(RunEndToEndTests.RepoRoot(), "config", "topologies", "domain-switch.conf");

    internal static string[] SweepArgs(string outDir, params string[] more) =>
    [
        "sweep", "--config", Topology, "--vary", "hviommu.hypervisor.behaviour.detached-translation=blocked,last-domain",
        "--vary", "hypervisor.behaviour.flush-covers-departed-devices=on,off", "--ops", "60", "--seeds", "3", "--out", outDir, "--plain", .. more,
    ];

    /// <summary>Cell settings → (schedules, violations by kind, first seed) from a sweep.json.</summary>
    internal static List<string> Cells(string dir)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "sweep.json")));
        return doc.RootElement.GetProperty("cells").EnumerateArray().Select(c =>
            $"{c.GetProperty("settings").GetRawText()} {c.GetProperty("schedules").GetInt64()} {c.GetProperty("violations").GetRawText()} " +
            (c.GetProperty("firstViolation").ValueKind == JsonValueKind.Null ? "safe" : $"{c.GetProperty("firstViolation").GetProperty("seed").GetUInt64()} {c.GetProperty("firstViolation").GetProperty("kind").GetString()}"))
            .ToList();
    }

    [Fact]
    public void A_two_key_sweep_writes_the_contract_table_and_each_failing_cell_replays()
    {
        var (exit, stdout, stderr) = RunEndToEndTests.Run(SweepArgs(_dir, "--parallel", "2"));
        Assert.True(exit == 1, $"a last-domain host breaks isolation, so not every cell is clean: exit {exit}\n{stdout}\n{stderr}");
        var cells = Cells(_dir);
        Assert.Equal(4, cells.Count);
        Assert.All(cells.Take(2), c => Assert.EndsWith("safe", c));
        Assert.All(cells.Skip(2), c => Assert.Contains("IsolationBreach", c));
        Assert.All(cells, c => Assert.Contains(" 3 ", c));
        foreach (var f in new[] { "sweep.json", "sweep.csv", "sweep.md", "heatmap.png", "heatmap.svg" })
            Assert.True(new FileInfo(Path.Combine(_dir, f)).Length > 0, f);
        var md = File.ReadAllText(Path.Combine(_dir, "sweep.md"));
        Assert.Contains("| blocked | on | 3 | safe |", md);
        Assert.Contains("| last-domain | off | 3 | IsolationBreach", md);
        Assert.Equal(5, File.ReadAllLines(Path.Combine(_dir, "sweep.csv")).Length);

        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(_dir, "sweep.json")));
        foreach (var cell in doc.RootElement.GetProperty("cells").EnumerateArray().Where(c => c.GetProperty("firstViolation").ValueKind != JsonValueKind.Null))
        {
            var report = cell.GetProperty("firstViolation").GetProperty("report").GetString()!;
            var (replayed, output, errors) = RunEndToEndTests.Run(["replay", "--report", report]);
            Assert.True(replayed == 0, $"{report}: exit {replayed}\n{output}\n{errors}");
            Assert.Contains("REPRODUCED", output);
        }
    }

    [Fact]
    public void The_cells_do_not_depend_on_how_many_explorers_ran_them()
    {
        var one = Path.Combine(_dir, "one");
        var two = Path.Combine(_dir, "two");
        RunEndToEndTests.Run(SweepArgs(one, "--parallel", "1"));
        RunEndToEndTests.Run(SweepArgs(two, "--parallel", "2"));
        Assert.Equal(Cells(one), Cells(two));
    }

    [Theory]
    [InlineData("hviommu.hypervisor.behaviour.detached-translaton=blocked", "detached-translaton")]
    [InlineData("hviommu.hypervisor.behaviour.detached-translation=blocked,sideways", "sideways")]
    [InlineData("hviommu.run.ops=10,many", "many")]
    [InlineData("hviommu.seed=1,2", "--seed")]
    [InlineData("no-equals-sign", "KEY=V1,V2")]
    public void A_bad_key_or_value_is_exit_2_naming_it_before_anything_runs(string vary, string named)
    {
        var (exit, stdout, stderr) = RunEndToEndTests.Run(["sweep", "--config", Topology, "--vary", vary, "--seeds", "2", "--out", _dir]);
        Assert.True(exit == 2, $"exit {exit}\n{stdout}\n{stderr}");
        Assert.Contains(named, stderr);
        Assert.False(File.Exists(Path.Combine(_dir, "sweep.json")));
    }

    // A sweep that stops on a simulator failure (here its step budget, its hang detector) writes a cell it never
    // reached as "not run", never as safe or matched.
    [Fact]
    public void A_cell_the_sweep_never_reached_is_not_run_not_safe()
    {
        var config = Path.Combine(RunEndToEndTests.RepoRoot(), "config", "scenarios", "h5-drain-right.conf");
        var (exit, stdout, stderr) = RunEndToEndTests.Run(["sweep", "--config", config, "--vary", "hviommu.hypervisor.flush.drain-dma=on,off",
            "--max-steps", "20", "--seeds", "3", "--parallel", "1", "--out", _dir, "--plain"]);
        Assert.True(exit == 3, stdout + stderr);
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(_dir, "sweep.json")));
        var unrun = doc.RootElement.GetProperty("cells").EnumerateArray().Where(c => c.GetProperty("schedules").GetInt64() == 0).ToList();
        Assert.NotEmpty(unrun);
        Assert.All(unrun, c => Assert.False(c.GetProperty("outcomeMatched").GetBoolean(), c.GetRawText()));
        var table = File.ReadAllText(Path.Combine(_dir, "sweep.md"));
        Assert.Contains("not run (the sweep stopped first)", table);
        Assert.DoesNotContain("| safe |", table);
    }

    [Fact]
    public void Axis_values_parse_with_or_without_the_hviommu_prefix()
    {
        Assert.Equal("hviommu.driver.dma-mode", SweepAxis.Parse("driver.dma-mode=strict,lazy").Key);
        Assert.Equal(["strict", "lazy"], SweepAxis.Parse("hviommu.driver.dma-mode = strict , lazy").Values);
        Assert.Throws<FormatException>(() => SweepAxis.Parse("driver.dma-mode=strict,,lazy"));
        Assert.Throws<FormatException>(() => SweepAxis.Parse("driver.dma-mode=lazy,lazy"));
    }
}
