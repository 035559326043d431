using HvIommu.Actors.Deterministic;

namespace HvIommu.Actors.Tests.Deterministic;

/// <summary>
/// The exploration strategies without an actor system: every concrete strategy's text builds the same strategy
/// again (what the portfolio chose replays by itself), PCT's change points fall on decision steps of the
/// observed length, delay bounding without delays is the first-sight order, the portfolio interleaves its
/// members schedule by schedule and each member tries its parameters in turn.
/// </summary>
[Trait("Category", "Actors")]
public sealed class StrategyTests
{
    /// <summary>Drives a strategy over a fixed pattern of candidate sets and data choices; returns what it picked.</summary>
    private static List<int> Drive(IScheduleStrategy strategy, int steps = 300)
    {
        var picks = new List<int>();
        for (var step = 0; step < steps; step++)
        {
            var width = 1 + step % 4;
            var candidates = Enumerable.Range(step % 3 == 0 ? 0 : 1, width).ToArray();
            picks.Add(candidates[strategy.Choose(candidates, step)]);
            if (step % 5 == 0)
                picks.Add(1000 + strategy.ChooseValue(2 + step % 3, step / 5));
        }
        return picks;
    }

    [Theory]
    [InlineData("random")]
    [InlineData("pct depth=3 length=57")]
    [InlineData("pct depth=1 length=0")]
    [InlineData("delay bound=2 length=57")]
    [InlineData("delay bound=0 length=10")]
    public void A_concrete_strategy_text_builds_the_same_strategy_again(string text)
    {
        var first = StrategySpec.Create(text, 42);
        Assert.Equal(text, first.Description);
        Assert.Equal(Drive(first), Drive(StrategySpec.Create(first.Description, 42)));
        Assert.NotEqual(Drive(StrategySpec.Create(text, 42), 2000), Drive(StrategySpec.Create(text, 43), 2000));
    }

    [Fact]
    public void The_portfolio_interleaves_random_with_a_member_alternating_delay_bounding_and_pct_each_trying_its_parameters_in_turn()
    {
        var plan = StrategySpec.Parse(StrategySpec.Default);
        plan.Observe(80);
        plan.Observe(50);
        Assert.Equal(80, plan.ObservedLength);
        var names = Enumerable.Range(0, 12).Select(i => plan.Next(100 + (ulong)i, i).Description).ToList();
        Assert.Equal(
            ["random", "delay bound=1 length=80", "random", "pct depth=1 length=80",
             "random", "delay bound=2 length=80", "random", "pct depth=2 length=80",
             "random", "delay bound=3 length=80", "random", "pct depth=3 length=80"],
            names.Select(n => n.Replace(" coins=eventful", "", StringComparison.Ordinal)));
        // Every schedule the portfolio hands out replays from its own text and seed.
        for (var i = 0; i < 12; i++)
            Assert.Equal(Drive(plan.Next(100 + (ulong)i, i)), Drive(StrategySpec.Create(names[i], 100 + (ulong)i)));
    }

    [Fact]
    public void About_two_portfolio_schedules_in_three_take_eventful_coins_drawn_from_their_seed()
    {
        var plan = StrategySpec.Parse(StrategySpec.Default);
        var eventful = Enumerable.Range(0, 300).Count(i => plan.Next(1 + (ulong)i, i).Description.EndsWith(" coins=eventful", StringComparison.Ordinal));
        Assert.InRange(eventful, 170, 230);
        // The same seed and index give the same policy (a function of the schedule's seed).
        Assert.Equal(plan.Next(42, 5).Description, StrategySpec.Parse(StrategySpec.Default).Next(42, 5).Description);
    }

    [Fact]
    public void An_eventful_coin_comes_up_far_more_often_than_a_uniform_one_and_respects_a_higher_probability()
    {
        var eventful = new UniformRandomStrategy(5, CoinPolicy.Eventful);
        var uniform = new UniformRandomStrategy(5);
        IScheduleStrategy e = eventful, u = uniform;
        var eventfulHits = Enumerable.Range(0, 1000).Sum(i => e.ChooseCoin(0.3, i));
        var uniformHits = Enumerable.Range(0, 1000).Sum(i => u.ChooseCoin(0.3, i));
        Assert.InRange(eventfulHits, 860, 940);
        Assert.InRange(uniformHits, 440, 560);
        IScheduleStrategy certain = new PctStrategy(5, 2, 10, CoinPolicy.Eventful);
        Assert.InRange(Enumerable.Range(0, 1000).Sum(i => certain.ChooseCoin(0.99, i)), 975, 1000);
        Assert.Equal("delay bound=2 length=10 coins=eventful", new DelayBoundingStrategy(5, 2, 10, CoinPolicy.Eventful).Description);
        Assert.Equal("pct depth=2 length=10 coins=eventful", StrategySpec.Create("pct depth=2 length=10 coins=eventful", 5).Description);
        Assert.Equal("random", StrategySpec.Create("random coins=uniform", 5).Description);
        Assert.Throws<FormatException>(() => StrategySpec.Parse("random coins=loud"));
    }

    [Fact]
    public void Pct_without_a_depth_tries_the_depths_in_turn_and_a_fixed_depth_stays()
    {
        var cycling = StrategySpec.Parse("pct");
        Assert.Equal(["pct depth=1 length=0", "pct depth=2 length=0", "pct depth=3 length=0", "pct depth=4 length=0", "pct depth=1 length=0"],
            Enumerable.Range(0, 5).Select(i => cycling.Next(1, i).Description));
        Assert.All(Enumerable.Range(0, 5), i => Assert.Equal("pct depth=5 length=0", StrategySpec.Parse("pct", pctDepth: 5).Next(1, i).Description));
        Assert.Equal("pct depth=2 length=9", StrategySpec.Parse("pct depth=2 length=9").Next(1, 3).Description);
    }

    [Fact]
    public void Pct_demotes_only_on_decision_steps_within_the_observed_length()
    {
        // Two actors always ready: every step is a decision. Depth 2 over length 5: one change point within the
        // first five decisions, after which one actor runs to the end (a change point on the first decision
        // demotes the first choice before it runs: no visible switch).
        var switched = 0;
        for (ulong seed = 1; seed <= 20; seed++)
        {
            var pct = new PctStrategy(seed, 2, 5);
            int[] both = [1, 2];
            var picks = Enumerable.Range(0, 20).Select(step => both[pct.Choose(both, step)]).ToList();
            var switches = picks.Zip(picks.Skip(1)).Count(p => p.First != p.Second);
            Assert.InRange(switches, 0, 1);
            Assert.Single(picks.Skip(4).Distinct());
            switched += switches;
        }
        Assert.InRange(switched, 10, 20);
        // Steps with one candidate are not decisions: after ten of them the change point drawn at decision 1
        // still falls on the first step with two candidates, as it does in a strategy that sees that step first.
        var lone = new PctStrategy(3, 2, 1);
        int[] one = [1];
        for (var step = 0; step < 10; step++)
            Assert.Equal(0, lone.Choose(one, step));
        int[] pair = [1, 2];
        Assert.Equal(new PctStrategy(3, 2, 1).Choose(pair, 0), lone.Choose(pair, 10));
    }

    [Fact]
    public void Length_zero_means_no_change_point_and_delay_bounding_without_delays_runs_in_first_sight_order()
    {
        int[] both = [1, 2];
        var pct = new PctStrategy(9, 4, 0);
        var first = pct.Choose(both, 0);
        Assert.All(Enumerable.Range(1, 50), step => Assert.Equal(first, pct.Choose(both, step)));

        var delay = new DelayBoundingStrategy(9, 0, 100);
        // The timer (ordinal 0) joins the order after the actors seen with it: actor 2, then 5, then the timer.
        Assert.Equal(1, delay.Choose([0, 2, 5], 0));
        Assert.Equal(1, delay.Choose([0, 2, 5], 1));
        Assert.Equal(1, delay.Choose([0, 5], 2));
        Assert.Equal(0, delay.Choose([0, 7], 3));
    }

    [Fact]
    public void Delay_bounding_delays_the_first_actor_at_its_delay_point()
    {
        // Two actors always ready, one delay within the first four decisions: actor 1 (seen first) runs until
        // the delay point, actor 2 from then on; a delay on the first decision leaves actor 2 alone.
        int[] both = [1, 2];
        var switched = 0;
        for (ulong seed = 1; seed <= 20; seed++)
        {
            var delay = new DelayBoundingStrategy(seed, 1, 4);
            var picks = Enumerable.Range(0, 10).Select(step => both[delay.Choose(both, step)]).ToList();
            Assert.Equal(2, picks[^1]);
            Assert.All(picks.Skip(3), p => Assert.Equal(2, p));
            Assert.True(picks.SkipWhile(p => p == 1).All(p => p == 2), string.Join(",", picks));
            switched += picks[0] == 1 ? 1 : 0;
        }
        Assert.InRange(switched, 10, 19);
    }

    [Theory]
    [InlineData("pct depth=0")]
    [InlineData("pct width=3")]
    [InlineData("delay bound=x")]
    [InlineData("dfs")]
    [InlineData("random depth=2")]
    public void A_bad_strategy_text_is_rejected_with_what_is_allowed(string text)
    {
        var e = Assert.Throws<FormatException>(() => StrategySpec.Parse(text));
        Assert.Contains(text, e.Message);
    }
}
