namespace HvIommu.Actors.Configuration;

/// <summary>One thing wrong with a configuration: where, which key, which value, and what is allowed.</summary>
public sealed record ConfigProblem(string File, string Key, string Value, string Message)
{
    public override string ToString() => Value.Length == 0
        ? $"{File}: {Key}: {Message}"
        : $"{File}: {Key} = {Value}: {Message}";
}

/// <summary>The configuration could not be used; carries every problem found, not just the first.</summary>
public sealed class ConfigException(IReadOnlyList<ConfigProblem> problems)
    : Exception(string.Join(Environment.NewLine, problems))
{
    public IReadOnlyList<ConfigProblem> Problems { get; } = problems;
}
