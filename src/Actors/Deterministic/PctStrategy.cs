using HvIommu.Model.Randomness;

namespace HvIommu.Actors.Deterministic;

/// <summary>
/// Probabilistic concurrency testing (Burckhardt, Kothari, Musuvathi, Nagarakatte, ASPLOS 2010) over actors:
/// each actor gets a random priority when first seen (the timer queue is one more pseudo-actor), the highest
/// priority ready actor always runs, and at <c>depth − 1</c> change points the actor about to run is demoted
/// below every other one (the i-th change point gives priority i, so later demotions stay above earlier ones).
/// As Coyote's prioritization strategy does (Source/Core/Testing/Interleaving/PrioritizationStrategy.cs), the
/// change points are drawn over the decision steps only — steps with at least two ready candidates, where
/// a demotion can change anything — and over the length observed in earlier schedules
/// (<paramref name="length"/>), not over a guess: a change point past the end of the run is a change point
/// lost. With no observation yet (length 0) the schedule has no change point, as Coyote's first iteration.
/// A bug of depth d is found with probability at least 1 / (n · k^(d−1)) per schedule, n actors, k decision
/// steps. Environment choices are uniform (Coyote's prioritization draws its booleans and integers at random);
/// environment coins follow <see cref="Coins"/>.
/// </summary>
public sealed class PctStrategy : IScheduleStrategy
{
    // Initial priorities live above this bound; demoted priorities are 1 … depth−1, below it.
    private const ulong InitialFloor = 1UL << 32;

    private readonly SeededRandom _random;
    private readonly long[] _changePoints;
    private readonly List<ulong> _priorities = new(); // by ordinal; 0 = not seen yet
    private int _nextChange;
    private long _decisions;

    /// <param name="seed">The strategy's own seed (derived from the schedule's seed).</param>
    /// <param name="depth">The bug depth d ≥ 1: d − 1 priority change points.</param>
    /// <param name="length">Decision steps to draw the change points over (the longest schedule seen so far); 0 = none.</param>
    /// <param name="coins">How the environment's coins are decided.</param>
    public PctStrategy(ulong seed, int depth, long length, CoinPolicy coins = CoinPolicy.Uniform)
    {
        Coins = coins;
        ArgumentOutOfRangeException.ThrowIfLessThan(depth, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        Depth = depth;
        Length = length;
        _random = new SeededRandom(seed);
        var points = new SortedSet<long>();
        var wanted = (int)Math.Min(depth - 1, length);
        while (points.Count < wanted)
            points.Add(_random.NextInRange(1, length + 1));
        _changePoints = points.ToArray();
    }

    public int Depth { get; }

    /// <summary>The decision steps the change points were drawn over.</summary>
    public long Length { get; }

    public CoinPolicy Coins { get; }

    public string Description => StrategySpec.Pct(Depth, Length) + CoinPolicies.Suffix(Coins);

    public int ChooseCoin(double probability, long index) => CoinPolicies.Flip(Coins, probability, _random);

    public int Choose(ReadOnlySpan<int> candidates, long step)
    {
        var best = Highest(candidates);
        if (candidates.Length < 2)
            return best;
        _decisions++;
        // Change points count decision steps from 1.
        while (_nextChange < _changePoints.Length && _changePoints[_nextChange] <= _decisions)
        {
            _nextChange++;
            _priorities[candidates[best]] = (ulong)_nextChange;
            best = Highest(candidates);
        }
        return best;
    }

    public int ChooseValue(int options, long index) => _random.Next(options);

    private int Highest(ReadOnlySpan<int> candidates)
    {
        var best = 0;
        var bestPriority = 0UL;
        for (var i = 0; i < candidates.Length; i++)
        {
            var priority = PriorityOf(candidates[i]);
            if (priority > bestPriority)
            {
                bestPriority = priority;
                best = i;
            }
        }
        return best;
    }

    private ulong PriorityOf(int ordinal)
    {
        while (_priorities.Count <= ordinal)
            _priorities.Add(0);
        var priority = _priorities[ordinal];
        if (priority == 0)
        {
            // Independent uniform draws give a uniformly random order; a collision is astronomically rare and
            // is broken by ordinal (the earlier candidate wins), which stays deterministic.
            priority = InitialFloor + _random.NextUInt64(ulong.MaxValue - InitialFloor);
            _priorities[ordinal] = priority;
        }
        return priority;
    }
}
