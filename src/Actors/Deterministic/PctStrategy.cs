using HvIommu.Model.Randomness;

namespace HvIommu.Actors.Deterministic;

/// <summary>
/// Probabilistic concurrency testing (Burckhardt, Kothari, Musuvathi, Nagarakatte, ASPLOS 2010) over actors:
/// each actor gets a random priority when first seen (the timer queue is one more pseudo-actor), the highest
/// priority ready actor always runs, and at <c>depth − 1</c> change points drawn uniformly from
/// [1, <c>expectedSteps</c>] the actor about to run is demoted below every other one (the i-th change point
/// gives priority i, so later demotions stay above earlier ones). A bug of depth d is found with probability
/// at least 1 / (n · k^(d−1)) per schedule.
/// </summary>
public sealed class PctStrategy : IScheduleStrategy
{
    // Initial priorities live above this bound; demoted priorities are 1 … depth−1, below it.
    private const ulong InitialFloor = 1UL << 32;

    private readonly SeededRandom _random;
    private readonly long[] _changePoints;
    private readonly List<ulong> _priorities = new(); // by ordinal; 0 = not seen yet
    private int _nextChange;

    public PctStrategy(ulong seed, int depth, long expectedSteps)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(depth, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(expectedSteps, 1);
        Depth = depth;
        ExpectedSteps = expectedSteps;
        _random = new SeededRandom(seed);
        var points = new SortedSet<long>();
        var wanted = (int)Math.Min(depth - 1, expectedSteps);
        while (points.Count < wanted)
            points.Add(_random.NextInRange(1, expectedSteps + 1));
        _changePoints = points.ToArray();
    }

    public int Depth { get; }

    public long ExpectedSteps { get; }

    public string Description => $"pct depth={Depth} steps={ExpectedSteps}";

    public int Choose(ReadOnlySpan<int> candidates, long step)
    {
        var best = Highest(candidates);
        // step is 0-based; change points count steps from 1.
        while (_nextChange < _changePoints.Length && _changePoints[_nextChange] <= step + 1)
        {
            _nextChange++;
            _priorities[candidates[best]] = (ulong)_nextChange;
            best = Highest(candidates);
        }
        return best;
    }

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
