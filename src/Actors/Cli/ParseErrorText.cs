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

    /// <summary>The unmatched tokens that only follow the mistake, each as often as it occurs so: the value after a
    /// misspelt option, and everything after a misspelt command (<paramref name="atRoot"/>: no command was recognized).
    /// The same text elsewhere on the line (a genuine stray argument) is still reported.</summary>
    /// <param name="args">The command line, as given.</param>
    /// <param name="unmatched">The tokens the parser matched to nothing, in order.</param>
    public static Dictionary<string, int> Followers(IReadOnlyList<string> args, IReadOnlyList<string> unmatched, bool atRoot)
    {
        var followers = new Dictionary<string, int>(StringComparer.Ordinal);
        if (unmatched.Count == 0)
            return followers;
        if (atRoot && !unmatched[0].StartsWith('-'))
        {
            foreach (var token in unmatched.Skip(1).Where(t => t != unmatched[0]))
                followers[token] = followers.GetValueOrDefault(token) + 1;
            return followers;
        }
        var unknown = unmatched.ToHashSet(StringComparer.Ordinal);
        for (var i = 0; i + 1 < args.Count; i++)
            if (args[i].StartsWith('-') && !args[i].Contains('=') && unknown.Contains(args[i])
                && !args[i + 1].StartsWith('-') && unknown.Contains(args[i + 1]))
                followers[args[i + 1]] = followers.GetValueOrDefault(args[i + 1]) + 1;
        return followers;
    }

    /// <summary>The error messages to show: all but one about each follower occurrence (<see cref="Followers"/>), and
    /// without "Required command was not provided" when a token was not recognized (<paramref name="anyUnmatched"/>).</summary>
    public static IEnumerable<string> Kept(IEnumerable<string> messages, Dictionary<string, int> followers, bool anyUnmatched)
    {
        var left = new Dictionary<string, int>(followers, StringComparer.Ordinal);
        foreach (var m in messages)
        {
            if (anyUnmatched && m.StartsWith("Required command was not provided", StringComparison.Ordinal))
                continue;
            if (m.StartsWith(Unrecognized, StringComparison.Ordinal) && Take(left, Token(m, Unrecognized.Length, "'.")))
                continue;
            yield return m;
        }
    }

    /// <summary>The suggestion lines to show: each "'X' was not matched. Did you mean …" block but one per follower
    /// occurrence of X.</summary>
    public static IEnumerable<string> Suggestions(IEnumerable<string> lines, Dictionary<string, int> followers)
    {
        var left = new Dictionary<string, int>(followers, StringComparer.Ordinal);
        var skipping = false;
        foreach (var line in lines)
        {
            if (line.StartsWith('\'') && line.Contains(NotMatched, StringComparison.Ordinal))
                skipping = Take(left, Token(line, 1, NotMatched));
            if (!skipping)
                yield return line;
        }
    }

    /// <summary>Uses up one occurrence of <paramref name="token"/>, if any is left.</summary>
    private static bool Take(Dictionary<string, int> left, string token)
    {
        if (left.GetValueOrDefault(token) <= 0)
            return false;
        left[token]--;
        return true;
    }

    private static string Token(string message, int start, string end)
    {
        var stop = message.LastIndexOf(end, StringComparison.Ordinal);
        return stop > start ? message[start..stop] : "";
    }
}
