namespace HvIommu.Actors.Configuration;

/// <summary>One thing wrong with a configuration: where, which key, which value, and what is allowed.</summary>
public sealed record ConfigProblem(string File, string Key, string Value, string Message)
{
    /// <summary>The key of a problem with the file as a whole (its syntax, its name), which names no key.</summary>
    public const string WholeFile = "(file)";

    public override string ToString() => (Key, Value.Length) switch
    {
        (WholeFile, 0) => $"{File}: {Message}",
        (WholeFile, _) => $"{File}: {Shown(Value)}: {Message}",
        (_, 0) => $"{File}: {Key}: {Message}",
        _ => $"{File}: {Key} = {Shown(Value)}: {Message}",
    };

    /// <summary>The value as the message shows it: as written, or quoted with escapes when it holds a control character
    /// (<c>"2\u0001"</c>), which would otherwise print invisibly and make a bad value look valid.</summary>
    public static string Shown(string value) =>
        value.Any(char.IsControl)
            ? "\"" + string.Concat(value.Select(c => char.IsControl(c) ? $"\\u{(int)c:x4}" : c.ToString())) + "\""
            : value;
}

/// <summary>The configuration could not be used; carries every problem found, not just the first.</summary>
public sealed class ConfigException(IReadOnlyList<ConfigProblem> problems)
    : Exception(string.Join(Environment.NewLine, problems))
{
    public IReadOnlyList<ConfigProblem> Problems { get; } = problems;
}
