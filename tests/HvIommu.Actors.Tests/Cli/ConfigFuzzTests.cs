using HvIommu.Actors.Cli;
using HvIommu.Actors.Tests.Scenarios;
using HvIommu.Actors.Tests.Simulation;
using Xunit.Abstractions;

namespace HvIommu.Actors.Tests.Cli;

/// <summary>
/// Config fuzzing: every shipped config (default.conf, the topologies, scenarios, races and regressions) mutated at
/// random — values swapped for hostile ones (negative, huge, fractional, words, empty, unicode, lists, objects, deep
/// nesting, substitutions), any key of reference.conf set to such a value, lines deleted, duplicated (duplicate
/// keys) or swapped, keys misspelt, the text cut short, stray braces, quotes and includes inserted — then validated,
/// and run briefly when valid. Every case must end in exit 0, 1 or 2 with no exception text and no stack trace on
/// either stream. Time is bounded by work, not by a clock: validate bounds every size and count, and the run gets a
/// few operations and a step budget whatever the mutated file says (a value too large to simulate must be refused by
/// validate — a case that hangs here is a defect of the kind "accepted input the simulator cannot finish").
/// Deterministic: case N is the same mutation on every machine; a failure prints the case, its config and the text.
/// A few dozen cases by default; the Long tier runs <c>HVIOMMU_LONG_SEEDS</c> × <see cref="LongCasesPerSeed"/>
/// others (<c>HVIOMMU_FUZZ_CASES=N</c> overrides the count of either).
/// </summary>
[Trait("Category", "Actors")]
public sealed class ConfigFuzzTests(ITestOutputHelper output) : FuzzHarness(output, "hviommu-fuzz-")
{
    private const int DefaultCases = 36;

    private static readonly string[] Configs = ShippedConfigs();

    private static string[] ShippedConfigs()
    {
        var root = Path.Combine(RunEndToEndTests.RepoRoot(), "config");
        return [Path.Combine(root, "default.conf"),
            .. new[] { "topologies", "scenarios", "races", "regressions" }
                .SelectMany(d => Directory.GetFiles(Path.Combine(root, d), "*.conf").Order(StringComparer.Ordinal))];
    }

    /// <summary>Every leaf key reference.conf documents (hviommu.vm.vcpus, …), for mutations that set any of them.</summary>
    private static readonly string[] ReferenceKeys = LeafKeys(
        Akka.Configuration.ConfigurationFactory.ParseString(File.ReadAllText(Path.Combine(RunEndToEndTests.RepoRoot(), "config", "reference.conf"))).Root, "")
        .Order(StringComparer.Ordinal).ToArray();

    private static IEnumerable<string> LeafKeys(Akka.Configuration.Hocon.HoconValue value, string path) =>
        value.IsObject()
            ? value.GetObject().Items.SelectMany(kv => LeafKeys(kv.Value, path.Length == 0 ? kv.Key : path + "." + kv.Key))
            : [path];

    /// <summary>Values a user (or a careless edit) might put where a value belongs.</summary>
    private static readonly string[] HostileValues =
    [
        "0", "-1", "1", "2", "-9223372036854775808", "9223372036854775807", "18446744073709551616", "99999999999999999999",
        "0.5", "1e400", "NaN", "maybe", "on", "off", "\"\"", "\"x\"", "[]", "{}", "[1, 2]", "null", "1ms", "-5s", "1000000d",
        "${hviommu.vm.vcpus}", "${?NOPE}", "0x10", "4096", "65536", "1048576", "\"stale-replay\"", "identity", "\"\\u0000\"",
        "", "1e3", "+5", "-0", "1_000", "0.0000001", "1ns", "1us", "9999999999999d", "2147483648", "4294967296", "1000000",
        "\"дом\"", "ü", "\"😀\"", "\"\\u200b\"", "\"a\\\"b\"", "\"\"\"x\"\"\"", "[[]]", "[{}]", "[{ name = \"x\" }]", "{ a = 1 }",
        "true", "false", "yes", "no", "[present]", "[s1, s1, s1]", "\"\\n\"", "\" \"",
        new string('[', 40) + new string(']', 40), "{ a { b { c { d { e = 1 } } } } }",
    ];

    private static readonly string[] Stray = ["{", "}", "[", "]", "\"", "=", ":", ",", "$", "${", "\\", "#", "//", "\n", "include \"x\"\n", "^", "@", "*", "&", "?", "!", "`", "+=", "\"\"\""];

    /// <summary>One mutation of <paramref name="text"/>, chosen by <paramref name="random"/>; also says what it did.</summary>
    public static (string Text, string What) Mutate(string text, Random random)
    {
        var lines = text.Split('\n').ToList();
        var valued = lines.Select((l, i) => (l, i)).Where(x => x.l.Contains('=') && !x.l.TrimStart().StartsWith('#')).Select(x => x.i).ToList();
        switch (random.Next(10))
        {
            case 7 or 8:
            {
                // Any documented key, written where the file leaves off (HOCON merges it into the hviommu block).
                var key = ReferenceKeys[random.Next(ReferenceKeys.Length)];
                var value = HostileValues[random.Next(HostileValues.Length)];
                return (text + $"\n{key} = {value}\n", $"appended '{key} = {value}'");
            }
            case 0 or 1 when valued.Count > 0:
            {
                var i = valued[random.Next(valued.Count)];
                var eq = lines[i].IndexOf('=');
                var value = HostileValues[random.Next(HostileValues.Length)];
                var old = lines[i];
                // The whole value to the end of the line, or only up to the next comma of an inline object.
                var end = lines[i].IndexOfAny([',', '}'], eq);
                lines[i] = lines[i][..(eq + 1)] + " " + value + (end < 0 ? "" : lines[i][end..]);
                return (string.Join('\n', lines), $"line {i + 1}: '{old.Trim()}' → '{lines[i].Trim()}'");
            }
            case 2 when lines.Count > 1:
            {
                var i = random.Next(lines.Count);
                var old = lines[i];
                lines.RemoveAt(i);
                return (string.Join('\n', lines), $"line {i + 1} deleted: '{old.Trim()}'");
            }
            case 3:
            {
                var i = random.Next(lines.Count);
                lines.Insert(i, lines[i]);
                return (string.Join('\n', lines), $"line {i + 1} duplicated: '{lines[i].Trim()}'");
            }
            case 4 when lines.Count > 1:
            {
                var i = random.Next(lines.Count);
                var j = random.Next(lines.Count);
                (lines[i], lines[j]) = (lines[j], lines[i]);
                return (string.Join('\n', lines), $"lines {i + 1} and {j + 1} swapped");
            }
            case 5 when valued.Count > 0:
            {
                var i = valued[random.Next(valued.Count)];
                var eq = lines[i].IndexOf('=');
                var start = lines[i].Length - lines[i].TrimStart().Length;
                if (eq - start < 2)
                    goto default;
                var at = start + random.Next(eq - start - 1);
                var old = lines[i];
                lines[i] = lines[i][..at] + (char)('a' + random.Next(26)) + lines[i][(at + 1)..];
                return (string.Join('\n', lines), $"line {i + 1}: key misspelt '{old.Trim()}' → '{lines[i].Trim()}'");
            }
            case 6:
            {
                var at = random.Next(text.Length + 1);
                return (text[..at], $"cut after {at} of {text.Length} characters");
            }
            default:
            {
                var at = random.Next(text.Length + 1);
                var s = Stray[random.Next(Stray.Length)];
                return (text[..at] + s + text[at..], $"'{s.Replace("\n", "\\n", StringComparison.Ordinal)}' inserted at character {at}");
            }
        }
    }

    private static (int Code, string Out, string Err) Run(params string[] args) => HostileInputTests.Run(args);

    [Fact]
    public void Mutated_configs_are_accepted_run_or_refused_in_one_line_never_crash() => Fuzz(0, DefaultTier(DefaultCases));

    [LongFact]
    [Trait("Category", "Long")]
    public void Hundreds_of_mutated_configs_are_accepted_run_or_refused_in_one_line_never_crash() => Fuzz(LongFirstCase, LongTier());

    private void Fuzz(int first, int cases)
    {
        for (var n = first; n < first + cases; n++)
        {
            var source = Configs[n % Configs.Length];
            var random = new Random(n);
            var (text, what) = Mutate(File.ReadAllText(source), random);
            // A second mutation now and then: defects that need two edits.
            if (random.Next(4) == 0)
            {
                var (twice, second) = Mutate(text, random);
                (text, what) = (twice, what + "; " + second);
            }
            var path = Path.Combine(Dir, $"case{n}.conf");
            File.WriteAllText(path, text);

            var results = new List<(string Command, (int Code, string Out, string Err) R)> { ("validate", Run("validate", "--config", path)) };
            // The work is bounded here, whatever the file says: a few operations, a step budget.
            if (results[0].R.Code == ExitCodes.Matched)
                results.Add(("run", Run("run", "--config", path, "--mode", "deterministic", "--ops", "2", "--max-steps", "200000", "--plain")));
            foreach (var (command, r) in results)
                Judge(r, strict: false, () => $"case {n} ({Path.GetFileName(source)}; {what}): {command} exit {r.Code}\n{r.Err}\n--- mutated config ---\n{text}\n");
        }
        var tally = Verdict($"{cases} cases over {Configs.Length} shipped configs");
        // The fuzz must reach both sides: mutations that still load and run, and mutations that are refused.
        Assert.True(tally[0] > 0 && tally[2] > 0, $"exit 0 ×{tally[0]}, 2 ×{tally[2]}: the mutations no longer exercise both paths");
    }

    [Fact]
    public void The_mutations_are_the_same_on_every_machine()
    {
        var text = File.ReadAllText(Configs[0]);
        Assert.Equal(Mutate(text, new Random(7)), Mutate(text, new Random(7)));
        Assert.NotEqual(text, Mutate(text, new Random(7)).Text);
    }
}
