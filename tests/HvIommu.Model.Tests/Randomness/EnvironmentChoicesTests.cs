using HvIommu.Model.Randomness;

namespace HvIommu.Model.Tests.Randomness;

/// <summary>
/// Environment choices: without a choice maker (stress mode) every decision is the same draw the seeded
/// generator would make; with one (deterministic mode) every open decision is asked of it, and decided ones
/// (probability 0 or 1, a single option) are not.
/// </summary>
[Trait("Category", "Model")]
public sealed class EnvironmentChoicesTests
{
    private sealed class Recorder(params int[] answers) : IChoiceMaker
    {
        public List<int> Asked { get; } = new();

        public int Choose(int options)
        {
            Asked.Add(options);
            return answers[(Asked.Count - 1) % answers.Length];
        }
    }

    [Fact]
    public void Without_a_choice_maker_decisions_are_the_seeded_generators_own_draws()
    {
        var plain = new SeededRandom(77);
        var env = new EnvironmentChoices(new SeededRandom(77), null);
        Assert.False(env.Scheduled);
        for (var i = 0; i < 500; i++)
        {
            Assert.Equal(plain.Chance(0.3), env.Chance(0.3));
            Assert.Equal(plain.Next(1 + i % 7), env.Next(1 + i % 7));
            Assert.Equal(plain.Chance(1.0), env.Chance(1.0));
        }
    }

    [Fact]
    public void With_a_choice_maker_every_open_decision_is_a_choice_point_and_decided_ones_are_not()
    {
        var maker = new Recorder(1, 0, 3);
        var env = new EnvironmentChoices(new SeededRandom(1), maker);
        Assert.True(env.Scheduled);
        Assert.False(env.Chance(0));
        Assert.True(env.Chance(1));
        Assert.Equal(0, env.Next(1));
        Assert.Empty(maker.Asked);

        Assert.True(env.Chance(0.01));   // answer 1: it happens, however unlikely the seed would make it
        Assert.False(env.Chance(0.99));  // answer 0: it does not
        Assert.Equal(3, env.Next(5));
        Assert.Equal([2, 2, 5], maker.Asked);
    }
}
