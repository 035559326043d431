using HvIommu.Model.Randomness;

namespace HvIommu.Actors.Deterministic;

/// <summary>
/// Delay-bounded scheduling (Emmi, Qadeer, Rakamarić, POPL 2011), randomized as Coyote's delay-bounding
/// strategy does (Source/Core/Testing/Interleaving/DelayBoundingStrategy.cs): a deterministic scheduler runs
/// the first ready actor of a list kept in order of first sight (the timer queue joins after the actors seen
/// with it), and at up to <c>bound</c> delay points drawn over the decision steps of the longest schedule seen
/// so far it delays that actor — moves it to the end of the list — so the next one runs instead. A bug
/// reachable with b delays is found with probability at least 1 / k^b per schedule, k decision steps.
/// Environment choices are uniform; environment coins follow <see cref="Coins"/>.
/// </summary>
public sealed class DelayBoundingStrategy : IScheduleStrategy
{
    private readonly SeededRandom _random;
    private readonly long[] _delayPoints;
    private readonly List<int> _order = new(); // ordinals, first sight first; delayed ones move to the end
    private readonly HashSet<int> _seen = new();
    private int _nextDelay;
    private long _decisions;

    /// <param name="seed">The strategy's own seed (derived from the schedule's seed).</param>
    /// <param name="bound">Delays in this schedule (≥ 0).</param>
    /// <param name="length">Decision steps to draw the delay points over; 0 = no delay.</param>
    /// <param name="coins">How the environment's coins are decided.</param>
    public DelayBoundingStrategy(ulong seed, int bound, long length, CoinPolicy coins = CoinPolicy.Uniform)
    {
        Coins = coins;
        ArgumentOutOfRangeException.ThrowIfNegative(bound);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        Bound = bound;
        Length = length;
        _random = new SeededRandom(seed);
        var points = new long[length > 0 ? bound : 0];
        for (var i = 0; i < points.Length; i++)
            points[i] = _random.NextInRange(1, length + 1);
        Array.Sort(points);
        _delayPoints = points;
    }

    public int Bound { get; }

    public long Length { get; }

    public CoinPolicy Coins { get; }

    public string Description => StrategySpec.Delay(Bound, Length) + CoinPolicies.Suffix(Coins);

    public int ChooseCoin(double probability, long index) => CoinPolicies.Flip(Coins, probability, _random);

    public int Choose(ReadOnlySpan<int> candidates, long step)
    {
        Register(candidates);
        if (candidates.Length < 2)
            return 0;
        _decisions++;
        while (_nextDelay < _delayPoints.Length && _delayPoints[_nextDelay] <= _decisions)
        {
            _nextDelay++;
            var delayed = First(candidates);
            _order.Remove(candidates[delayed]);
            _order.Add(candidates[delayed]);
        }
        return First(candidates);
    }

    public int ChooseValue(int options, long index) => _random.Next(options);

    private void Register(ReadOnlySpan<int> candidates)
    {
        var timer = false;
        foreach (var ordinal in candidates)
        {
            if (_seen.Contains(ordinal))
                continue;
            if (ordinal == 0)
            {
                timer = true;
                continue;
            }
            _seen.Add(ordinal);
            _order.Add(ordinal);
        }
        if (timer)
        {
            _seen.Add(0);
            _order.Add(0);
        }
    }

    private int First(ReadOnlySpan<int> candidates)
    {
        foreach (var ordinal in _order)
        {
            var index = candidates.BinarySearch(ordinal);
            if (index >= 0)
                return index;
        }
        return 0;
    }
}
