using HvIommu.Actors.Cli;
using HvIommu.Actors.Tests.Simulation;

namespace HvIommu.Actors.Tests.Cli;

/// <summary>
/// The strategy options on the command line: a strategy text that does not parse, a PCT depth given to a
/// strategy that is not PCT, and the race benchmark's options outside <c>bench --races</c> (or the stress
/// bench's inside it) are exit 2 naming the option; <c>bench --races</c> on a one-race directory prints its table.
/// </summary>
[Trait("Category", "Actors")]
public sealed class StrategyOptionTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("hviommu-strategy-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Code, string Out, string Err) Run(params string[] args) => HostileInputTests.Run(args);

    private static void BadInput((int Code, string Out, string Err) r, params string[] mentions) => HostileInputTests.BadInput(r, mentions);

    [Theory]
    [InlineData("pct depth=0", "depth must be")]
    [InlineData("pct bound=2", "takes no 'bound'")]
    [InlineData("bogus", "is not a strategy")]
    // Every parameter of every strategy: out of range, not a number, unknown, or given twice — each named with its range.
    [InlineData("pct depth=-1", "depth=-1: depth must be a whole number from 1 to 100")]
    [InlineData("pct depth=101", "depth=101: depth must be a whole number from 1 to 100")]
    [InlineData("pct depth=０", "depth=０: depth must be a whole number from 1 to 100")]
    [InlineData("pct length=-5", "length=-5: length must be a whole number from 0 to 9,223,372,036,854,775,807")]
    [InlineData("pct steps=x", "steps=x: steps must be a whole number from 0")]
    [InlineData("pct length=5 steps=6", "steps is another name for length")]
    [InlineData("delay bound=-1", "bound=-1: bound must be a whole number from 0 to 100")]
    [InlineData("delay bound=99999999999999999999", "bound must be a whole number from 0 to 100")]
    [InlineData("delay length=1e3", "length=1e3: length must be a whole number")]
    [InlineData("pct depth=2 depth=3", "depth is given twice")]
    [InlineData("random coins=loud", "coins=loud: coins must be uniform or eventful")]
    [InlineData("random coins=uniform coins=eventful", "coins is given twice")]
    [InlineData("random depth=2", "random takes no 'depth'; random takes coins=uniform|eventful")]
    [InlineData("portfolio coins=eventful", "portfolio takes no 'coins'; portfolio takes no parameters")]
    [InlineData("pct 3", "'3' is not name=value; pct takes depth=N (1 to 100), length=N (0 to ")]
    public void A_strategy_text_that_does_not_parse_is_bad_input(string strategy, string mention) =>
        BadInput(Run("explore", "--strategy", strategy, "--seeds", "1"), "--strategy", mention);

    [Theory]
    [InlineData("pct depth=100 length=0")]
    [InlineData("pct depth=1 steps=9223372036854775807 coins=eventful")]
    [InlineData("delay bound=0 length=7")]
    [InlineData("delay bound=100")]
    [InlineData("random coins=eventful")]
    [InlineData("portfolio")]
    public void Every_strategy_parameter_takes_the_ends_of_its_range(string strategy) =>
        Assert.Equal(strategy, global::HvIommu.Actors.Deterministic.StrategySpec.Parse(strategy).Text);

    [Fact]
    public void A_pct_depth_needs_a_pct_strategy() =>
        BadInput(Run("explore", "--strategy", "portfolio", "--pct-depth", "2", "--seeds", "1"), "--pct-depth", "needs --strategy pct");

    [Fact]
    public void Race_benchmark_options_need_races_and_stress_options_do_not_apply_to_it()
    {
        BadInput(Run("bench", "--race-seeds", "2"), "--race-seeds", "needs --races");
        BadInput(Run("bench", "--races", "--ops", "5"), "--ops", "does not apply to --races");
        BadInput(Run("bench", "--races", "--strategies", "random,pct depth=0"), "--strategies");
        // A list option never drops what it cannot read: an empty list, an empty item, an item twice.
        BadInput(Run("bench", "--races", "--strategies", ""), "--strategies '' names no strategy");
        BadInput(Run("bench", "--races", "--strategies", "portfolio,,random"), "--strategies 'portfolio,,random': item 2 is empty");
        BadInput(Run("bench", "--races", "--strategies", "random,"), "item 2 is empty");
        BadInput(Run("bench", "--races", "--strategies", "random,random"), "strategy 'random' is named twice");
        var config = Path.Combine(RunEndToEndTests.RepoRoot(), "config", "default.conf");
        BadInput(Run("compare", "--config", config, "--out", Path.Combine(_dir, "cmp"), "--variants", "strict-domain,,lazy-list"), "--variants 'strict-domain,,lazy-list': item 2 is empty");
        BadInput(Run("bench", "--races", "--races-dir", Path.Combine(_dir, "absent")), "--races-dir");
    }

    [Fact]
    public void The_race_benchmark_prints_one_row_per_strategy_and_the_targets()
    {
        var races = Path.Combine(RunEndToEndTests.RepoRoot(), "config", "races");
        File.Copy(Path.Combine(races, "h5-drain.conf"), Path.Combine(_dir, "h5-drain.conf"));
        var r = Run("bench", "--races", "--races-dir", _dir, "--race-seeds", "2", "--budget", "40", "--strategies", "portfolio,random");
        Assert.True(r.Code == ExitCodes.Matched, r.Out + r.Err);
        Assert.Matches(@"h5-drain\s+portfolio\s+\d+/2 ", r.Out);
        Assert.Matches(@"h5-drain\s+random\s+\d+/2 ", r.Out);
        Assert.Contains("default median", r.Out);
        Assert.Contains("targets met on", r.Out);

        // --json carries the same verdict, per race and in total, and standard output is nothing but the JSON.
        var j = Run("bench", "--races", "--races-dir", _dir, "--race-seeds", "2", "--budget", "40", "--strategies", "portfolio,random", "--json");
        Assert.True(j.Code == ExitCodes.Matched, j.Out + j.Err);
        using var doc = System.Text.Json.JsonDocument.Parse(j.Out);
        var target = Assert.Single(doc.RootElement.GetProperty("targets").EnumerateArray());
        Assert.Equal("h5-drain", target.GetProperty("race").GetString());
        Assert.Equal("random", target.GetProperty("best").GetString());
        var met = target.GetProperty("medianMet").GetBoolean() && target.GetProperty("ratioMet").GetBoolean();
        Assert.Equal(met ? 1 : 0, doc.RootElement.GetProperty("targetsMet").GetInt32());
        Assert.Equal(1, doc.RootElement.GetProperty("racesJudged").GetInt32());
        var help = string.Concat(Run("bench", "--help").Out.Where(c => !char.IsWhiteSpace(c)));
        foreach (var field in doc.RootElement.EnumerateObject().Concat(target.EnumerateObject()))
            Assert.Contains($"\"{field.Name}\"", help);
    }
}
