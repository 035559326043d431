using System.Globalization;
using System.Text;

namespace HvIommu.Actors.Deterministic;

/// <summary>
/// A recorded schedule: the seed, the strategy that made it and the ordinal chosen at every step
/// (0 = fire the next virtual timer). Saved as short text:
/// <code>
/// hviommu-schedule 1
/// seed 42
/// strategy pct depth=3 steps=200
/// steps 7
/// choices 1 2 2 3 0 1 2
/// </code>
/// Choices are wrapped at 32 per line; every following line starting with a digit continues them.
/// </summary>
public sealed record ScheduleFile(ulong Seed, string Strategy, IReadOnlyList<int> Choices)
{
    private const string Magic = "hviommu-schedule 1";
    private const int PerLine = 32;

    public string ToText()
    {
        var text = new StringBuilder();
        text.Append(Magic).Append('\n');
        text.Append("seed ").Append(Seed.ToString(CultureInfo.InvariantCulture)).Append('\n');
        text.Append("strategy ").Append(Strategy).Append('\n');
        text.Append("steps ").Append(Choices.Count.ToString(CultureInfo.InvariantCulture)).Append('\n');
        text.Append("choices");
        for (var i = 0; i < Choices.Count; i++)
        {
            text.Append(i > 0 && i % PerLine == 0 ? '\n' : ' ');
            text.Append(Choices[i].ToString(CultureInfo.InvariantCulture));
        }
        return text.Append('\n').ToString();
    }

    public static ScheduleFile Parse(string text)
    {
        var lines = text.Replace("\r", "", StringComparison.Ordinal).Split('\n');
        if (lines.Length == 0 || lines[0].Trim() != Magic)
            throw new FormatException($"not a schedule file: the first line must be \"{Magic}\"");
        ulong? seed = null;
        string? strategy = null;
        int? steps = null;
        var choices = new List<int>();
        var inChoices = false;
        for (var n = 1; n < lines.Length; n++)
        {
            var line = lines[n].Trim();
            if (line.Length == 0)
                continue;
            var space = line.IndexOf(' ', StringComparison.Ordinal);
            var key = space < 0 ? line : line[..space];
            var value = space < 0 ? "" : line[(space + 1)..].Trim();
            if (inChoices && char.IsAsciiDigit(line[0]))
            {
                AddChoices(line, choices, n);
                continue;
            }
            inChoices = false;
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
                case "choices":
                    inChoices = true;
                    AddChoices(value, choices, n);
                    break;
                default:
                    throw new FormatException($"schedule file line {n + 1}: unknown key \"{key}\"");
            }
        }
        if (seed is null || strategy is null || steps is null)
            throw new FormatException("schedule file: seed, strategy and steps are required");
        if (steps != choices.Count)
            throw new FormatException($"schedule file: steps says {steps} but {choices.Count} choices follow");
        return new ScheduleFile(seed.Value, strategy, choices);
    }

    public void Save(string path) => File.WriteAllText(path, ToText());

    public static ScheduleFile Load(string path) => Parse(File.ReadAllText(path));

    private static void AddChoices(string text, List<int> choices, int lineIndex)
    {
        foreach (var word in text.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (!int.TryParse(word, NumberStyles.None, CultureInfo.InvariantCulture, out var choice))
                throw new FormatException($"schedule file line {lineIndex + 1}: \"{word}\" is not a choice (a whole number in [0, {int.MaxValue}])");
            choices.Add(choice);
        }
    }
}
