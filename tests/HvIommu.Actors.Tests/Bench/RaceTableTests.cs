using HvIommu.Actors.Bench;
using HvIommu.Actors.Deterministic;
using Xunit;

namespace HvIommu.Actors.Tests.Bench;

/// <summary>
/// The race benchmark's table when another tool's cells (the Coyote anchor's) sit beside the simulator's: they
/// never count as the simulator's best single strategy, and the comparison with the other tool takes its best
/// strategy, with a lower bound when that tool found the race in fewer than half its trials.
/// </summary>
public sealed class RaceTableTests
{
    private static RaceCell Cell(string strategy, long?[] schedules, string? tool = null) =>
        new("h4-devtlb-first", strategy, schedules.Select((s, i) => new RaceTrial(1 + 1000 * (ulong)i, s, 0.1)).ToArray(), Budget: 100, tool);

    [Fact]
    [Trait("Category", "Actors")]
    public void Another_tools_cells_are_not_the_simulators_best_single_strategy()
    {
        IReadOnlyList<RaceCell> cells =
        [
            Cell(StrategySpec.Default, [4, 6, 5]),
            Cell("random", [20, 30, 25]),
            Cell("random", [1, 1, 1], tool: "coyote"),
        ];
        var t = RaceBenchmark.Targets(cells);
        Assert.Equal(5, t.DefaultMedian);
        Assert.Equal("random", t.Best);
        Assert.Equal(25, t.BestMedian);
        Assert.True(RaceBenchmark.HasTargets(cells));
        Assert.False(RaceBenchmark.HasTargets([cells[0], cells[2]]));
    }

    [Fact]
    [Trait("Category", "Actors")]
    public void The_comparison_takes_the_other_tools_best_strategy_and_is_a_lower_bound_past_its_budget()
    {
        var portfolio = Cell(StrategySpec.Default, [4, 6, 5]);
        var o = RaceBenchmark.AgainstOtherTool([portfolio, Cell("random", [80, 90, 70], "coyote"), Cell("pct", [50, 60, 55], "coyote")]);
        Assert.NotNull(o);
        Assert.Equal("coyote pct", o.Value.Best);
        Assert.Equal(11, o.Value.Ratio);
        Assert.False(o.Value.AtLeast);

        var missed = RaceBenchmark.AgainstOtherTool([portfolio, Cell("pct", [null, null, 50], "coyote")]);
        Assert.NotNull(missed);
        Assert.True(missed.Value.AtLeast);
        Assert.Equal(20, missed.Value.Ratio);

        Assert.Null(RaceBenchmark.AgainstOtherTool([portfolio, Cell("random", [3, 3, 3])]));
    }

    [Fact]
    [Trait("Category", "Actors")]
    public void The_table_labels_the_other_tools_rows_and_prints_the_comparison()
    {
        var w = new StringWriter();
        RaceBenchmark.Render([[Cell(StrategySpec.Default, [1, 2, 1]), Cell("random", [2, 2, 2]), Cell("pct", [6, 5, 7], "coyote")]], w);
        var text = w.ToString();
        Assert.Matches(@"h4-devtlb-first\s+coyote pct\s+3/3\s+6 ", text);
        Assert.Contains("fewest schedules of the other tool: coyote pct 6, 6.00 × the default's median", text);
    }

    [Fact]
    [Trait("Category", "Actors")]
    public void Races_rendered_one_by_one_print_one_header_and_line_up_even_with_the_longest_names()
    {
        static RaceCell Named(string race, string strategy) =>
            new(race, strategy, [new RaceTrial(1, 3, 0.1)], Budget: 100);
        var w = new StringWriter();
        RaceBenchmark.Render([[Named("h7-empty", "portfolio")]], w, header: true);
        RaceBenchmark.Render([[Named("h16-init-configure-blocking", "random coins=eventful")]], w, header: false);
        var lines = w.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => !l.TrimStart().StartsWith("default median", StringComparison.Ordinal)).ToList();
        Assert.Single(lines, l => l.StartsWith("race ", StringComparison.Ordinal));
        var found = lines.Select(l => l.IndexOf("/1", StringComparison.Ordinal)).Where(x => x >= 0).Distinct().ToList();
        Assert.Single(found);
    }
}
