namespace HvIommu.Model.Randomness;

/// <summary>
/// Who decides the simulated environment's open choices — a misbehaving device's replays, an injected
/// hypercall failure, which page the host migrates — when something other than the seed does: in
/// deterministic mode, the exploration strategy, which records every decision in the schedule file so a
/// replay makes the same ones. Called on the thread that runs the component.
/// </summary>
public interface IChoiceMaker
{
    /// <summary>One of <paramref name="options"/> (≥ 2) outcomes, in [0, options); 0 is the quietest (no replay, no
    /// delay, no failure).</summary>
    int Choose(int options);

    /// <summary>Whether an event of <paramref name="probability"/> (strictly between 0 and 1) happens: 1 yes, 0 no.
    /// The default is a two-way <see cref="Choose"/>; a maker may weigh it by the probability.</summary>
    int ChooseCoin(double probability) => Choose(2);
}

/// <summary>
/// One component's environment decisions. With no <see cref="IChoiceMaker"/> (stress mode) every decision is
/// drawn from the component's own <see cref="SeededRandom"/>, exactly as a plain draw would be, so a seed's
/// stress run is unchanged. With one (deterministic mode) every decision that is open — a probability
/// strictly between 0 and 1, two or more options — is a choice point the strategy makes, the same way it
/// picks the next actor: a strategy that cannot see a choice cannot explore it. A coin with probability p is
/// a two-way choice (1 = it happens); the strategy, not p, decides how often it comes up.
/// </summary>
public sealed class EnvironmentChoices(SeededRandom random, IChoiceMaker? maker)
{
    /// <summary>True when the strategy makes the decisions (deterministic mode).</summary>
    public bool Scheduled => maker is not null;

    /// <summary>Whether an event of probability <paramref name="probability"/> happens (0 never, 1 always: no choice).</summary>
    public bool Chance(double probability)
    {
        if (maker is null)
            return random.Chance(probability);
        return probability > 0 && (probability >= 1 || maker.ChooseCoin(probability) == 1);
    }

    /// <summary>One of <paramref name="options"/> (≥ 1) outcomes, in [0, options).</summary>
    public int Next(int options)
    {
        if (maker is null)
            return random.Next(options);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options);
        return options == 1 ? 0 : maker.Choose(options);
    }
}
