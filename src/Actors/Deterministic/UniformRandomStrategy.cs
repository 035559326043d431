using HvIommu.Model.Randomness;

namespace HvIommu.Actors.Deterministic;

/// <summary>Each step runs a ready actor (or fires the next timer) chosen uniformly with a seeded generator.</summary>
public sealed class UniformRandomStrategy : IScheduleStrategy
{
    private readonly SeededRandom _random;

    public UniformRandomStrategy(ulong seed) => _random = new SeededRandom(seed);

    public string Description => "random";

    public int Choose(ReadOnlySpan<int> candidates, long step) =>
        candidates.Length == 1 ? 0 : _random.Next(candidates.Length);
}
