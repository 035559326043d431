namespace HvIommu.Actors.Configuration;

/// <summary>One thing wrong with a configuration: where, which key, which value, and what is allowed.</summary>
public sealed record ConfigProblem(string File, string Key, string Value, string Message)
{
    /// <summary>The key of a problem with the file as a whole (its syntax, its name), which names no key.</summary>
    public const string WholeFile = "(file)";

    public override string ToString() => (Key, Value.Length) switch
    {
        (WholeFile, 0) => $"{File}: {Message}",
        (WholeFile, _) => $"{File}: {Value}: {Message}",
        (_, 0) => $"{File}: {Key}: {Message}",
        _ => $"{File}: {Key} = {Value}: {Message}",
    };
}

/// <summary>The configuration could not be used; carries every problem found, not just the first.</summary>
public sealed class ConfigException(IReadOnlyList<ConfigProblem> problems)
    : Exception(string.Join(Environment.NewLine, problems))
{
    public IReadOnlyList<ConfigProblem> Problems { get; } = problems;
}
