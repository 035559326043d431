namespace HvIommu.Actors.Cli;

/// <summary>
/// Which of System.CommandLine's parse errors and typo suggestions name the user's mistake. A misspelt option's value
/// (`run --sede 3`: the 3) and the arguments after a misspelt command (`rnu --seed 3`) are not mistakes of their own,
/// and "Required command was not provided" only repeats that the command was misspelt.
/// </summary>
internal static class ParseErrorText
{
    private const string Unrecognized = "Unrecognized command or argument '";
    private const string NotMatched = "' was not matched.";

    /// <summary>The unmatched tokens that only follow the mistake: the value after a misspelt option, and everything
    /// after a misspelt command (<paramref name="atRoot"/>: no command was recognized).</summary>
    /// <param name="args">The command line, as given.</param>
    /// <param name="unmatched">The tokens the parser matched to nothing, in order.</param>
    public static HashSet<string> Followers(IReadOnlyList<string> args, IReadOnlyList<string> unmatched, bool atRoot)
    {
        var followers = new HashSet<string>(StringComparer.Ordinal);
        if (unmatched.Count == 0)
            return followers;
        if (atRoot && !unmatched[0].StartsWith('-'))
        {
            followers.UnionWith(unmatched.Skip(1));
            followers.Remove(unmatched[0]);
            return followers;
        }
        var unknown = unmatched.ToHashSet(StringComparer.Ordinal);
        for (var i = 0; i + 1 < args.Count; i++)
            if (args[i].StartsWith('-') && !args[i].Contains('=') && unknown.Contains(args[i])
                && !args[i + 1].StartsWith('-') && unknown.Contains(args[i + 1]))
                followers.Add(args[i + 1]);
        followers.ExceptWith(unmatched.Where(t => t.StartsWith('-')));
        return followers;
    }

    /// <summary>The error messages to show: all but those about <paramref name="followers"/>, and without "Required
    /// command was not provided" when a token was not recognized (<paramref name="anyUnmatched"/>).</summary>
    public static IEnumerable<string> Kept(IEnumerable<string> messages, HashSet<string> followers, bool anyUnmatched) =>
        messages.Where(m => !(anyUnmatched && m.StartsWith("Required command was not provided", StringComparison.Ordinal))
            && !(m.StartsWith(Unrecognized, StringComparison.Ordinal) && followers.Contains(Token(m, Unrecognized.Length, "'."))));

    /// <summary>The suggestion lines to show: each "'X' was not matched. Did you mean …" block but those whose X is
    /// one of <paramref name="followers"/>.</summary>
    public static IEnumerable<string> Suggestions(IEnumerable<string> lines, HashSet<string> followers)
    {
        var skipping = false;
        foreach (var line in lines)
        {
            var header = line.StartsWith('\'') && line.Contains(NotMatched, StringComparison.Ordinal);
            if (header)
                skipping = followers.Contains(Token(line, 1, NotMatched));
            if (!skipping)
                yield return line;
        }
    }

    private static string Token(string message, int start, string end)
    {
        var stop = message.LastIndexOf(end, StringComparison.Ordinal);
        return stop > start ? message[start..stop] : "";
    }
}
