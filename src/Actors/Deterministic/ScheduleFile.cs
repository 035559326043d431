using System.Globalization;
using System.Text;

namespace HvIommu.Actors.Deterministic;

/// <summary>One environment choice of a schedule: the outcome taken, of how many.</summary>
public readonly record struct ScheduleValue(int Value, int Options)
{
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Value}/{Options}");
}

/// <summary>
/// A recorded schedule: the seed, the strategy that made it (concrete: <see cref="StrategySpec.Create"/> builds
/// it again), the ordinal chosen at every step (0 = fire the next virtual timer) and every environment choice
/// (which outcome of how many: a device's replay, its page and delay, an injected failure), in order. Saved as
/// short text:
/// <code>
/// hviommu-schedule 3
/// seed 42
/// strategy pct depth=3 length=200
/// steps 7
/// values 1/2 0/3 4/6
/// choices 1 2 2 3 0 1 2
/// </code>
/// Choices and values are wrapped at 32 per line; every following line starting with a digit continues the
/// list above it. Version 1 files (no <c>values</c> line: recorded when the environment drew its choices from
/// the seed) still load with <see cref="Version"/> 1, and their replay draws the environment from the seed
/// again (<see cref="ReplayStrategy.ChoosesEnvironment"/>), so they replay unchanged. Version 2 files were recorded
/// when a misbehaving device timed its replays in its own steps (a drawn delay); version 3 files when the device's
/// replay engine is an actor the schedule runs (<see cref="Simulation.SimWorld.ScheduledReplays"/>). Each replays
/// with the mechanism it was recorded with.
/// </summary>
public sealed record ScheduleFile(ulong Seed, string Strategy, IReadOnlyList<int> Choices, IReadOnlyList<ScheduleValue>? Values = null)
{
    private const string Magic = "hviommu-schedule 3";
    private const string MagicV2 = "hviommu-schedule 2";
    private const string MagicV1 = "hviommu-schedule 1";

    /// <summary>The version this simulator records.</summary>
    public const int CurrentVersion = 3;
    private const int PerLine = 32;

    /// <summary>The environment choices (empty for a version 1 file).</summary>
    public IReadOnlyList<ScheduleValue> EnvironmentChoices => Values ?? [];

    /// <summary>3: the strategy made the environment's choices (recorded in <c>values</c>) and the schedule timed the
    /// device's replays; 2: the same, with replays timed by a drawn number of device steps; 1: the seed drew the
    /// environment's choices.</summary>
    public int Version { get; init; } = CurrentVersion;

    public string ToText()
    {
        if (Version == 1 && EnvironmentChoices.Count > 0)
            throw new InvalidOperationException("a version 1 schedule has no environment choices");
        var text = new StringBuilder();
        text.Append(Version switch { 1 => MagicV1, 2 => MagicV2, _ => Magic }).Append('\n');
        text.Append("seed ").Append(Seed.ToString(CultureInfo.InvariantCulture)).Append('\n');
        text.Append("strategy ").Append(Strategy).Append('\n');
        text.Append("steps ").Append(Choices.Count.ToString(CultureInfo.InvariantCulture)).Append('\n');
        AppendList(text, "values", EnvironmentChoices.Select(v => v.ToString()).ToList());
        AppendList(text, "choices", Choices.Select(c => c.ToString(CultureInfo.InvariantCulture)).ToList());
        return text.ToString();
    }

    public static ScheduleFile Parse(string text)
    {
        var lines = text.Replace("\r", "", StringComparison.Ordinal).Split('\n');
        if (lines.Length == 0 || lines[0].Trim() is not (Magic or MagicV2 or MagicV1))
            throw new FormatException($"not a schedule file: the first line must be \"{Magic}\" (or \"{MagicV2}\", \"{MagicV1}\")");
        var version = lines[0].Trim() switch { MagicV1 => 1, MagicV2 => 2, _ => 3 };
        ulong? seed = null;
        string? strategy = null;
        int? steps = null;
        var choices = new List<int>();
        var values = new List<ScheduleValue>();
        string? list = null;
        var given = new HashSet<string>(StringComparer.Ordinal);
        for (var n = 1; n < lines.Length; n++)
        {
            var line = lines[n].Trim();
            if (line.Length == 0)
                continue;
            var space = line.IndexOf(' ', StringComparison.Ordinal);
            var key = space < 0 ? line : line[..space];
            var value = space < 0 ? "" : line[(space + 1)..].Trim();
            if (list is not null && char.IsAsciiDigit(line[0]))
            {
                AddTo(list, line, choices, values, n);
                continue;
            }
            list = null;
            if (key is "seed" or "strategy" or "steps" or "choices" or "values" && !given.Add(key))
                throw new FormatException($"schedule file line {n + 1}: {key} is given twice (a hand edit?); each key appears once");
            switch (key)
            {
                case "seed":
                    seed = ulong.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var sd)
                        ? sd
                        : throw new FormatException($"schedule file line {n + 1}: seed \"{value}\" is not a whole number in [0, {ulong.MaxValue}]");
                    break;
                case "strategy":
                    strategy = value;
                    break;
                case "steps":
                    steps = int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var st) && st >= 1
                        ? st
                        : throw new FormatException($"schedule file line {n + 1}: steps \"{value}\" is not a whole number in [1, {int.MaxValue}] (a schedule has at least one step)");
                    break;
                case "values" when version == 1:
                    throw new FormatException($"schedule file line {n + 1}: \"values\" needs \"{Magic}\" on the first line (a version 1 file has no environment choices)");
                case "choices":
                case "values":
                    list = key;
                    AddTo(list, value, choices, values, n);
                    break;
                default:
                    throw new FormatException($"schedule file line {n + 1}: unknown key \"{key}\"");
            }
        }
        if (seed is null || strategy is null || steps is null)
        {
            var missing = new[] { ("seed", seed is null), ("strategy", strategy is null), ("steps", steps is null) }.Where(k => k.Item2).Select(k => k.Item1);
            throw new FormatException($"schedule file: {string.Join(", ", missing)} missing (every schedule has seed, strategy and steps; cut short?)");
        }
        if (steps != choices.Count)
            throw new FormatException($"schedule file: steps says {steps} but {choices.Count} choices follow");
        return new ScheduleFile(seed.Value, strategy, choices, values) { Version = version };
    }

    public void Save(string path) => File.WriteAllText(path, ToText());

    public static ScheduleFile Load(string path) => Parse(File.ReadAllText(path));

    private static void AppendList(StringBuilder text, string key, IReadOnlyList<string> items)
    {
        if (key == "values" && items.Count == 0)
            return;
        text.Append(key);
        for (var i = 0; i < items.Count; i++)
        {
            text.Append(i > 0 && i % PerLine == 0 ? '\n' : ' ');
            text.Append(items[i]);
        }
        text.Append('\n');
    }

    private static void AddTo(string list, string text, List<int> choices, List<ScheduleValue> values, int lineIndex)
    {
        foreach (var word in text.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (list == "choices")
            {
                if (!int.TryParse(word, NumberStyles.None, CultureInfo.InvariantCulture, out var choice))
                    throw new FormatException($"schedule file line {lineIndex + 1}: \"{word}\" is not a choice (a whole number in [0, {int.MaxValue}])");
                choices.Add(choice);
                continue;
            }
            var slash = word.IndexOf('/', StringComparison.Ordinal);
            if (slash <= 0
                || !int.TryParse(word.AsSpan(0, slash), NumberStyles.None, CultureInfo.InvariantCulture, out var taken)
                || !int.TryParse(word.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var options)
                || options < 2 || taken >= options)
                throw new FormatException($"schedule file line {lineIndex + 1}: \"{word}\" is not an environment choice (VALUE/OPTIONS, 0 ≤ VALUE < OPTIONS, OPTIONS ≥ 2)");
            values.Add(new ScheduleValue(taken, options));
        }
    }
}
