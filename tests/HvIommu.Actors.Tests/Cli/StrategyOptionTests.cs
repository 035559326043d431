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
    public void A_strategy_text_that_does_not_parse_is_bad_input(string strategy, string mention) =>
        BadInput(Run("explore", "--strategy", strategy, "--seeds", "1"), "--strategy", mention);

    [Fact]
    public void A_pct_depth_needs_a_pct_strategy() =>
        BadInput(Run("explore", "--strategy", "portfolio", "--pct-depth", "2", "--seeds", "1"), "--pct-depth", "needs --strategy pct");

    [Fact]
    public void Race_benchmark_options_need_races_and_stress_options_do_not_apply_to_it()
    {
        BadInput(Run("bench", "--race-seeds", "2"), "--race-seeds", "needs --races");
        BadInput(Run("bench", "--races", "--ops", "5"), "--ops", "does not apply to --races");
        BadInput(Run("bench", "--races", "--strategies", "random,pct depth=0"), "--strategies");
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
    }
}
