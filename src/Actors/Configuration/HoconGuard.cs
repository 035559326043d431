namespace HvIommu.Actors.Configuration;

/// <summary>
/// Checks configuration text before Akka's HOCON parser sees it, for the inputs that parser handles badly: it
/// overflows the stack on substitution cycles (<c>a = ${a}</c>) and on very deep nesting, accepts an unclosed
/// or an extra brace, throws a null reference on <c>include</c>, and never returns from a list holding something
/// that is not a value (<c>[ x = 4 ]</c>). A scenario must be self-contained and
/// reproducible, so substitutions (which may read the environment) and includes are refused outright, with the
/// line they are on; braces and brackets must balance; nesting and size are bounded.
/// </summary>
public static class HoconGuard
{
    /// <summary>Deeper than any topology needs (reference.conf nests 4 levels), shallow enough for the parser's stack.</summary>
    public const int MaxDepth = 32;

    /// <summary>A topology is a few kilobytes; the largest shipped file is well under 16 KiB.</summary>
    public const int MaxBytes = 1 << 20;

    /// <summary>
    /// Characters that cannot start a value (HOCON's forbidden unquoted characters, less the brackets, quotes,
    /// commas and comments the parser handles). Directly inside a list Akka's parser does not reject them: its
    /// array loop (Akka.Configuration.Hocon.Parser.ParseArray) neither consumes them nor stops, so it spins
    /// forever, adding empty elements until memory runs out — <c>devices = [ vm.vcpus = 4 ]</c>, a list whose
    /// closing bracket and next key got swapped, hangs <c>validate</c>.
    /// </summary>
    private const string NotAValue = "$:=`^?!@*&\\";

    /// <summary>Every problem of the text's shape, as one-line messages; empty when the parser can take it.</summary>
    public static IReadOnlyList<string> Check(string text)
    {
        if (text.Length > MaxBytes)
            return [$"{text.Length:N0} characters is more than the {MaxBytes:N0} a configuration may have"];
        var problems = new List<string>();
        var open = new Stack<(char Bracket, int Line)>();
        var line = 1;
        var lineStart = true;
        for (var i = 0; i < text.Length && problems.Count < 5; i++)
        {
            var c = text[i];
            if (c == '\n')
            {
                line++;
                lineStart = true;
                continue;
            }
            if (char.IsWhiteSpace(c))
                continue;
            var atStatement = lineStart || (i > 0 && text[i - 1] is '{' or ',');
            lineStart = false;
            if (c == '#' || (c == '/' && i + 1 < text.Length && text[i + 1] == '/'))
            {
                i = SkipTo(text, i, '\n') - 1;
                continue;
            }
            if (c == '"')
            {
                var end = text.AsSpan(i).StartsWith("\"\"\"") ? text.IndexOf("\"\"\"", i + 3, StringComparison.Ordinal) : EndOfString(text, i);
                if (end < 0)
                {
                    problems.Add($"line {line}: a string opened here is never closed");
                    break;
                }
                line += text.AsSpan(i, end - i).Count('\n');
                i = text.AsSpan(i).StartsWith("\"\"\"") ? end + 2 : end;
                continue;
            }
            if (c == '$' && i + 1 < text.Length && text[i + 1] == '{')
            {
                var close = text.IndexOf('}', i);
                var what = close < 0 ? text[i..Math.Min(text.Length, i + 20)] : text[i..(close + 1)];
                problems.Add($"line {line}: substitution {what} is not supported: a configuration must be self-contained; write the value itself");
                i = close < 0 ? text.Length : close;
                continue;
            }
            if (c == '+' && i + 1 < text.Length && text[i + 1] == '=')
            {
                // HOCON's a += v is a = ${?a} [v]: a substitution, refused as one (the parser would read "+" into the key).
                problems.Add($"line {line}: '+=' (append to the value above) is not supported: a configuration must be self-contained; write the whole list");
                i = SkipTo(text, i, '\n') - 1;
                continue;
            }
            if (atStatement && text.AsSpan(i).StartsWith("include") && i + 7 < text.Length && !char.IsLetterOrDigit(text[i + 7]) && text[i + 7] is not '-' and not '=' and not ':' and not '.')
            {
                problems.Add($"line {line}: include is not supported: a configuration must be self-contained; copy the keys in");
                i = SkipTo(text, i, '\n') - 1;
                continue;
            }
            if (open.Count > 0 && open.Peek().Bracket == '[' && NotAValue.Contains(c))
            {
                problems.Add(c is '=' or ':'
                    ? $"line {line}: '{c}' inside the list opened at line {open.Peek().Line}: a list holds values separated by commas, and a key = value belongs inside {{ }} (is a ']' or a '{{' missing?)"
                    : $"line {line}: '{c}' inside the list opened at line {open.Peek().Line} is not a value; quote it (\"…\") if it is text");
                break;
            }
            switch (c)
            {
                case '{' or '[':
                    open.Push((c, line));
                    if (open.Count > MaxDepth)
                    {
                        problems.Add($"line {line}: nesting deeper than {MaxDepth} levels");
                        return problems;
                    }
                    break;
                case '}' or ']':
                    var expected = c == '}' ? '{' : '[';
                    if (open.Count == 0)
                        problems.Add($"line {line}: '{c}' closes nothing (an extra closing bracket)");
                    else if (open.Peek().Bracket != expected)
                        problems.Add($"line {line}: '{c}' closes the '{open.Peek().Bracket}' opened at line {open.Peek().Line}");
                    else
                        open.Pop();
                    break;
            }
        }
        if (problems.Count == 0 && open.Count > 0)
            problems.Add($"line {open.Peek().Line}: '{open.Peek().Bracket}' is never closed (the file ends at line {line})");
        if (problems.Count == 0 && DanglingEnd(text) is { } dangling)
            problems.Add($"line {dangling.Line}: the text ends in the middle of a statement ('{dangling.Text}' with nothing after it): is it cut short?");
        return problems;
    }

    /// <summary>
    /// The last statement when the text ends in a key's dot (<c>hviommu.vm.</c>): a file cut mid-key, which Akka's
    /// parser takes as a key with no value and carries on. (A dangling <c>=</c> is already refused by the reader as
    /// a key with no value, naming the key.)
    /// </summary>
    private static (int Line, string Text)? DanglingEnd(string text)
    {
        var lines = text.ReplaceLineEndings("\n").Split('\n');
        for (var i = lines.Length - 1; i >= 0; i--)
        {
            var s = StripComment(lines[i]).TrimEnd();
            if (s.Length == 0)
                continue;
            return s[^1] == '.' ? (i + 1, s.Trim()) : null;
        }
        return null;
    }

    /// <summary>The line without a trailing <c>#</c> or <c>//</c> comment (outside quotes).</summary>
    private static string StripComment(string line)
    {
        var quoted = false;
        for (var i = 0; i < line.Length; i++)
        {
            if (line[i] == '\\' && quoted)
                i++;
            else if (line[i] == '"')
                quoted = !quoted;
            else if (!quoted && (line[i] == '#' || (line[i] == '/' && i + 1 < line.Length && line[i + 1] == '/')))
                return line[..i];
        }
        return line;
    }

    private static int SkipTo(string text, int from, char stop)
    {
        var n = text.IndexOf(stop, from);
        return n < 0 ? text.Length : n;
    }

    /// <summary>The index of the quote closing the string that opens at <paramref name="start"/>, or -1.</summary>
    private static int EndOfString(string text, int start)
    {
        for (var i = start + 1; i < text.Length; i++)
        {
            if (text[i] == '\\')
                i++;
            else if (text[i] == '"')
                return i;
            else if (text[i] == '\n')
                return -1;
        }
        return -1;
    }
}
