using HvIommu.Model.Randomness;

namespace HvIommu.Actors.Deterministic;

/// <summary>
/// Each step runs a ready actor (or fires the next timer) chosen uniformly with a seeded generator; each
/// environment choice takes one of its outcomes uniformly (as Coyote's random strategy does for its
/// nondeterministic booleans and integers), and each environment coin follows <see cref="Coins"/>.
/// </summary>
public sealed class UniformRandomStrategy : IScheduleStrategy
{
    private readonly SeededRandom _random;

    public UniformRandomStrategy(ulong seed, CoinPolicy coins = CoinPolicy.Uniform)
    {
        _random = new SeededRandom(seed);
        Coins = coins;
    }

    public CoinPolicy Coins { get; }

    public string Description => StrategySpec.Random + CoinPolicies.Suffix(Coins);

    public int ChooseCoin(double probability, long index) => CoinPolicies.Flip(Coins, probability, _random);

    public int Choose(ReadOnlySpan<int> candidates, long step) =>
        candidates.Length == 1 ? 0 : _random.Next(candidates.Length);

    public int ChooseValue(int options, long index) => _random.Next(options);
}
