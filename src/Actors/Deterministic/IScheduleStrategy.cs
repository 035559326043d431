namespace HvIommu.Actors.Deterministic;

/// <summary>
/// Decides each step of a deterministic run, and each choice the simulated environment leaves open.
/// <c>candidates</c> are the ordinals of the ready actors in ascending order (ordinal = order of first sight in
/// this schedule); ordinal 0, when present, is "fire the next virtual timer". The strategy returns an index
/// into <c>candidates</c>, or -1 when it cannot follow (a replayed schedule whose recorded choice is not ready).
/// A strategy instance serves one schedule.
/// </summary>
public interface IScheduleStrategy
{
    /// <summary>
    /// Name and parameters, e.g. <c>pct depth=3 length=120</c>; saved with recorded schedules, and
    /// <see cref="StrategySpec.Create"/> builds the same strategy again from it and the seed.
    /// </summary>
    string Description { get; }

    int Choose(ReadOnlySpan<int> candidates, long step);

    /// <summary>
    /// An environment choice (a data choice): which of <paramref name="options"/> (≥ 2) outcomes a random
    /// event of the simulated environment has — a device replays a descriptor or not, which page, after how
    /// many of its steps. <paramref name="index"/> counts the data choices of the schedule from 0. Returns a
    /// value in [0, <paramref name="options"/>), or -1 when it cannot follow (a replay off its recording).
    /// Option 0 is the environment's quietest outcome (no replay, no delay); the default takes it.
    /// </summary>
    int ChooseValue(int options, long index) => 0;

    /// <summary>
    /// True when this strategy makes the environment's open choices through <see cref="ChooseValue"/> (every
    /// strategy that explores, and the replay of a version 2 schedule). False for the replay of a version 1
    /// schedule, recorded when the environment drew them from the seed: the run draws them from the seed
    /// again, so the old file replays unchanged.
    /// </summary>
    bool ChoosesEnvironment => true;

    /// <summary>The schedule file version this strategy's runs are recorded (or were recorded) as: 3 for every
    /// strategy that explores; a replay follows its file's, so the device times its replays as it did then.</summary>
    int Version => ScheduleFile.CurrentVersion;

    /// <summary>
    /// An environment coin: whether an event of <paramref name="probability"/> (strictly between 0 and 1) happens —
    /// a device replays a descriptor, an injected failure strikes. Recorded as a two-way choice (1 = it happens) like
    /// <see cref="ChooseValue"/>, which the default asks; a strategy may bias it (<see cref="CoinPolicy"/>).
    /// </summary>
    int ChooseCoin(double probability, long index) => ChooseValue(2, index);
}

/// <summary>How an exploring strategy decides the environment's coins.</summary>
public enum CoinPolicy
{
    /// <summary>Each outcome with probability ½, whatever the event's configured probability.</summary>
    Uniform,

    /// <summary>The event happens with probability <see cref="CoinPolicies.Eventful"/> (or its configured probability,
    /// when higher): more replays, more injected failures — more chances for a race, as an adversarial environment.</summary>
    Eventful,
}

/// <summary>The coin policies' draws, shared by the exploring strategies.</summary>
public static class CoinPolicies
{
    /// <summary>The probability an eventful coin comes up "it happens".</summary>
    public const double Eventful = 0.9;

    /// <summary>The text of a policy in a strategy's description (empty for the uniform default).</summary>
    public static string Suffix(CoinPolicy policy) => policy == CoinPolicy.Eventful ? " coins=eventful" : "";

    /// <summary>One coin under <paramref name="policy"/>, drawn from <paramref name="random"/>: 1 = it happens.</summary>
    public static int Flip(CoinPolicy policy, double probability, Model.Randomness.SeededRandom random) => policy switch
    {
        CoinPolicy.Eventful => random.Chance(Math.Max(Eventful, probability)) ? 1 : 0,
        _ => random.Next(2),
    };
}
