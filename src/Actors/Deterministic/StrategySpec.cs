using System.Globalization;
using HvIommu.Model.Randomness;

namespace HvIommu.Actors.Deterministic;

/// <summary>
/// The exploration strategies by name, as the command line (<c>--strategy</c>), recorded schedules and
/// reproduce commands spell them:
/// <list type="bullet">
/// <item><c>random</c> — uniform choice at every step (<see cref="UniformRandomStrategy"/>).</item>
/// <item><c>pct [depth=D] [length=L]</c> — PCT (<see cref="PctStrategy"/>); without a depth the depths
/// <see cref="PctDepths"/> are tried in turn, schedule by schedule; without a length the change points are drawn
/// over the longest schedule (in decision steps) the explorer has seen so far.</item>
/// <item><c>delay [bound=B] [length=L]</c> — delay bounding (<see cref="DelayBoundingStrategy"/>); without a
/// bound the bounds <see cref="DelayBounds"/> are tried in turn.</item>
/// <item><c>portfolio</c> — the default (Coyote's default is a portfolio too: no single strategy wins): two members
/// interleaved schedule by schedule — random on schedules 0, 2, 4, …, and on 1, 3, 5, … a systematic member that
/// alternates delay bounding (bounds <see cref="DelayBounds"/> in turn) and PCT (depths
/// <see cref="PctDepths"/> in turn): delay bound=1, pct depth=1, delay bound=2, pct depth=2, …. With two
/// members, a race only one of them finds quickly costs the portfolio at most about twice that member's schedules
/// (with three, up to three times); PCT and delay bounding find the same races in the benchmark of minimal races, so
/// they share one member. About two schedules in three (drawn from the schedule's seed) decide the environment's
/// coins eventfully.</item>
/// </list>
/// Every strategy but the portfolio takes <c>coins=uniform</c> (the default: each outcome of an environment coin
/// with probability ½) or <c>coins=eventful</c> (the event — a replay, an injected failure — happens with
/// probability 0.9, or its configured probability when higher): an adversarial environment.
/// Every schedule's strategy is concrete — <c>random</c>, <c>pct depth=3 length=57</c>,
/// <c>delay bound=2 length=57</c> — and that text (recorded in the schedule file and the reproduce command)
/// with the schedule's seed builds the same strategy again: what the portfolio chose is replayable by itself.
/// </summary>
public static class StrategySpec
{
    public const string Random = "random";
    public const string Portfolio = "portfolio";

    /// <summary>The strategy <c>explore</c>, <c>run --mode deterministic</c>, <c>sweep</c> and <c>minimize</c>
    /// use when none is given: one setting, shared.</summary>
    public const string Default = Portfolio;

    /// <summary>PCT depths tried in turn when none is fixed.</summary>
    public static IReadOnlyList<int> PctDepths { get; } = [1, 2, 3, 4];

    /// <summary>Delay bounds tried in turn when none is fixed.</summary>
    public static IReadOnlyList<int> DelayBounds { get; } = [1, 2, 3];

    /// <summary>The allowed forms, for error messages and usage text.</summary>
    public const string Allowed = "portfolio, random, pct [depth=D] [length=L], delay [bound=B] [length=L], each but portfolio with [coins=uniform|eventful]";

    /// <summary>Two in three portfolio schedules take eventful coins.</summary>
    public const double PortfolioEventfulShare = 2.0 / 3;

    public static string Pct(int depth, long length) =>
        string.Create(CultureInfo.InvariantCulture, $"pct depth={depth} length={length}");

    public static string Delay(int bound, long length) =>
        string.Create(CultureInfo.InvariantCulture, $"delay bound={bound} length={length}");

    /// <summary>Parses a strategy text; <paramref name="pctDepth"/> (from <c>--pct-depth</c>) fixes PCT's depth
    /// when the text does not. Throws <see cref="FormatException"/> naming the text and what is allowed.</summary>
    public static StrategyPlan Parse(string text, int? pctDepth = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        var words = text.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (words.Length == 0)
            throw new FormatException($"strategy '{text}' is empty; allowed: {Allowed}");
        var name = words[0];
        string[] allowedParameters = name switch
        {
            Portfolio => [],
            Random => ["coins"],
            "pct" => ["depth", "length", "steps", "coins"],
            "delay" => ["bound", "length", "coins"],
            _ => throw new FormatException($"strategy '{text}' is not a strategy; allowed: {Allowed}"),
        };
        var parameters = new Dictionary<string, long>(StringComparer.Ordinal);
        var coins = CoinPolicy.Uniform;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var word in words.Skip(1))
        {
            var eq = word.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
                throw new FormatException($"strategy '{text}': '{word}' is not name=value; {Takes(name, allowedParameters)}");
            var key = word[..eq];
            var raw = word[(eq + 1)..];
            if (!allowedParameters.Contains(key))
                throw new FormatException($"strategy '{text}': {name} takes no '{key}'; {Takes(name, allowedParameters)}");
            if (!seen.Add(key))
                throw new FormatException($"strategy '{text}': {key} is given twice");
            if (key == "coins")
            {
                coins = raw switch
                {
                    "uniform" => CoinPolicy.Uniform,
                    "eventful" => CoinPolicy.Eventful,
                    _ => throw new FormatException($"strategy '{text}': coins={raw}: coins must be uniform or eventful"),
                };
                continue;
            }
            var (min, max) = Range(key);
            // NumberStyles.AllowLeadingSign with the invariant culture: ASCII digits only, so "-1" is out of range, "０" is not a number.
            if (!long.TryParse(raw, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value) || value < min || value > max)
                throw new FormatException($"strategy '{text}': {key}={raw}: {key} must be a whole number from {min} to {max.ToString("N0", CultureInfo.InvariantCulture)}");
            parameters[key] = value;
        }
        if (parameters.ContainsKey("length") && parameters.ContainsKey("steps"))
            throw new FormatException($"strategy '{text}': steps is another name for length; give one of them");
        long? length = parameters.TryGetValue("length", out var l) ? l : parameters.TryGetValue("steps", out var s) ? s : null;
        switch (name)
        {
            case "pct":
                long? depth = parameters.TryGetValue("depth", out var d) ? d : pctDepth;
                if (depth is < MinDepth or > MaxDepth)
                    throw new FormatException($"strategy '{text}': depth {depth} (--pct-depth) must be a whole number from {MinDepth} to {MaxDepth}");
                return new StrategyPlan(text, StrategyKind.Pct, depth is { } fixedDepth ? [(int)fixedDepth] : PctDepths, length, coins);
            case "delay":
                var bound = parameters.TryGetValue("bound", out var b) ? b : (long?)null;
                return new StrategyPlan(text, StrategyKind.Delay, bound is { } fixedBound ? [(int)fixedBound] : DelayBounds, length, coins);
            case Random:
                return new StrategyPlan(text, StrategyKind.Random, [], null, coins);
            default:
                return new StrategyPlan(text, StrategyKind.Portfolio, [], null);
        }
    }

    /// <summary>PCT's depth (<c>depth=D</c>, <c>--pct-depth</c>): the number of priority change points + 1.</summary>
    public const int MinDepth = 1, MaxDepth = 100;

    /// <summary>The delay-bounded strategy's bound (<c>bound=B</c>): delays per schedule.</summary>
    public const int MaxBound = 100;

    /// <summary>The whole numbers a strategy parameter takes, both ends inclusive.</summary>
    private static (long Min, long Max) Range(string parameter) => parameter switch
    {
        "depth" => (MinDepth, MaxDepth),
        "bound" => (0, MaxBound),
        _ => (0, long.MaxValue), // length, steps: scheduling steps the strategy spreads its choices over
    };

    /// <summary>"pct takes depth (1 to 100), length (0 to …), …": what a strategy's parameters are and their ranges.</summary>
    private static string Takes(string name, string[] parameters) =>
        parameters.Length == 0
            ? $"{name} takes no parameters"
            : $"{name} takes " + string.Join(", ", parameters.Select(p => p == "coins" ? "coins=uniform|eventful"
                : $"{p}=N ({Range(p).Min} to {Range(p).Max.ToString("N0", CultureInfo.InvariantCulture)})"));

    /// <summary>The strategy <paramref name="description"/> names, for the schedule with this seed: the inverse
    /// of <see cref="IScheduleStrategy.Description"/> for concrete strategies.</summary>
    public static IScheduleStrategy Create(string description, ulong seed) => Parse(description).Next(seed, 0);

    /// <summary>The strategy's own seed for a schedule: derived from the schedule's seed, apart from the workload's.</summary>
    public static ulong StrategySeed(ulong scheduleSeed) => SeededRandom.DeriveSeed(scheduleSeed, "schedule");
}

public enum StrategyKind
{
    Random,
    Pct,
    Delay,
    Portfolio,
}

/// <summary>
/// A strategy across the schedules of one explorer: hands out the concrete strategy of each schedule
/// (<see cref="Next"/>) and learns from each finished one (<see cref="Observe"/>) the schedule length over
/// which PCT's change points and delay bounding's delays are drawn. Not thread-safe: one per explorer.
/// </summary>
public sealed class StrategyPlan
{
    private readonly IReadOnlyList<int> _parameters;
    private readonly long? _length;
    private long _observed;

    private readonly CoinPolicy _coins;

    internal StrategyPlan(string text, StrategyKind kind, IReadOnlyList<int> parameters, long? length, CoinPolicy coins = CoinPolicy.Uniform)
    {
        _coins = coins;
        Text = text;
        Kind = kind;
        _parameters = parameters;
        _length = length;
    }

    /// <summary>The text this plan was parsed from.</summary>
    public string Text { get; }

    public StrategyKind Kind { get; }

    /// <summary>True when some schedule of this plan draws change points or delays over a length it is not given:
    /// learnt from earlier schedules (<see cref="Observe"/>) or passed to <see cref="Next"/>.</summary>
    public bool NeedsLength => Kind != StrategyKind.Random && _length is null;

    /// <summary>The longest schedule seen so far, in decision steps (steps with two or more ready candidates).</summary>
    public long ObservedLength => _observed;

    /// <summary>The strategy of the <paramref name="index"/>-th schedule (0-based) of this exploration, seeded from
    /// the schedule's <paramref name="seed"/>; with no length given and none observed yet, change points and
    /// delays are drawn over <paramref name="unobservedLength"/> decision steps (0: none, as Coyote's first iteration).</summary>
    public IScheduleStrategy Next(ulong seed, long index, long unobservedLength = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        var strategySeed = StrategySpec.StrategySeed(seed);
        var length = _length ?? (_observed > 0 ? _observed : Math.Max(0, unobservedLength));
        switch (Kind)
        {
            case StrategyKind.Random:
                return new UniformRandomStrategy(strategySeed, _coins);
            case StrategyKind.Pct:
                return new PctStrategy(strategySeed, _parameters[(int)(index % _parameters.Count)], length, _coins);
            case StrategyKind.Delay:
                return new DelayBoundingStrategy(strategySeed, _parameters[(int)(index % _parameters.Count)], length, _coins);
            default:
                // Two members in turn: random on even indexes, the systematic member on odd ones. The systematic member
                // alternates delay bounding and PCT, each trying its parameters in turn over its own turns. The coin
                // policy is drawn from the schedule's seed (not the index), so it varies independently of them.
                var coins = new SeededRandom(SeededRandom.DeriveSeed(seed, "coins")).Chance(StrategySpec.PortfolioEventfulShare)
                    ? CoinPolicy.Eventful
                    : CoinPolicy.Uniform;
                if (index % 2 == 0)
                    return new UniformRandomStrategy(strategySeed, coins);
                var turn = index / 2;
                return turn % 2 == 0
                    ? new DelayBoundingStrategy(strategySeed, StrategySpec.DelayBounds[(int)(turn / 2 % StrategySpec.DelayBounds.Count)], length, coins)
                    : new PctStrategy(strategySeed, StrategySpec.PctDepths[(int)(turn / 2 % StrategySpec.PctDepths.Count)], length, coins);
        }
    }

    /// <summary>A schedule of this plan finished after <paramref name="decisions"/> decision steps.</summary>
    public void Observe(long decisions) => _observed = Math.Max(_observed, decisions);
}
