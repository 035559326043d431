using System.Text.Json.Nodes;
using HvIommu.Actors.Tests.Scenarios;
using HvIommu.Actors.Tests.Simulation;
using Xunit.Abstractions;

namespace HvIommu.Actors.Tests.Cli;

/// <summary>
/// Report and schedule fuzzing, beside <see cref="ConfigFuzzTests"/>: a real deterministic report and its schedule,
/// mutated at random as a hand edit or a bad copy would — a field set to a hostile value (negative, huge, fractional,
/// unicode, null, a list or an object where a number belongs), a field deleted, the text cut short, a byte inserted;
/// schedule lines cut, duplicated, deleted or with a token replaced — then replayed. Every case must end in exit 0, 1 or
/// 2 with no exception text, no stack trace and no serializer type name. The config the report stores is left alone
/// (the config fuzz covers configs), so each replay is the recorded 8-operation run: time is bounded by work.
/// A dozen cases by default; the Long tier runs as many as the config fuzz's (HVIOMMU_LONG_SEEDS ×
/// <see cref="FuzzHarness.LongCasesPerSeed"/>; <c>HVIOMMU_FUZZ_CASES=N</c> overrides either count).
/// </summary>
[Trait("Category", "Actors")]
public sealed class RecordFuzzTests(ITestOutputHelper output) : FuzzHarness(output, "hviommu-record-fuzz-")
{
    private const int DefaultCases = 12;

    private static readonly string[] HostileJson =
    [
        "-1", "0", "1.5", "1e400", "18446744073709551616", "-9223372036854775809", "\"\"", "\"дом 😀\"", "\"\\u0000\"", "null",
        "true", "[]", "{}", "[1, \"x\"]", "{ \"a\": 1 }", "\"stress\"", "\"deterministic\"", "\"../../etc/passwd\"", "\"" + new string('x', 5000) + "\"",
    ];

    private static readonly string[] HostileTokens = ["-1", "0", "99999999999999999999", "١", "1.5", "x", "", "seed", "steps", "choices", "values", "0/0", "3/2", "hviommu-schedule 9"];

    [Fact]
    public void Mutated_reports_and_schedules_replay_or_are_refused_in_one_line_never_crash() => Fuzz(0, DefaultTier(DefaultCases));

    [LongFact]
    [Trait("Category", "Long")]
    public void Hundreds_of_mutated_reports_and_schedules_replay_or_are_refused_in_one_line_never_crash() => Fuzz(LongFirstCase, LongTier());

    private void Fuzz(int first, int cases)
    {
        var original = Path.Combine(Dir, "original.json");
        var (exit, stdout, stderr) = RunEndToEndTests.Run(["run", "--mode", "deterministic", "--ops", "8", "--seed", "5", "--report", original]);
        Assert.True(exit == 0, $"exit {exit}\n{stdout}\n{stderr}");
        var reportText = File.ReadAllText(original);
        var scheduleText = File.ReadAllText(Path.ChangeExtension(original, ".schedule"));
        for (var n = first; n < first + cases; n++)
        {
            var random = new Random(n);
            var report = reportText;
            var schedule = scheduleText;
            string what;
            if (random.Next(2) == 0)
                (report, what) = MutateReport(report, random);
            else
                (schedule, what) = MutateSchedule(schedule, random);
            var path = Path.Combine(Dir, $"case {n}.json");
            File.WriteAllText(path, report.Replace("original.schedule", $"case {n}.schedule", StringComparison.Ordinal));
            File.WriteAllText(Path.ChangeExtension(path, ".schedule"), schedule);
            var r = HostileInputTests.Run("replay", "--report", path);
            Judge(r, strict: true, () => $"case {n} ({what}): replay exit {r.Code}\n{r.Err}\n{r.Out[..Math.Min(r.Out.Length, 2000)]}\n");
        }
        var tally = Verdict($"{cases} cases");
        Assert.True(tally[2] > 0, "no mutation was refused: the fuzz no longer exercises bad input");
    }

    /// <summary>One mutation of the report's JSON text (outside config.resolved); also says what it did.</summary>
    public static (string Text, string What) MutateReport(string text, Random random)
    {
        switch (random.Next(5))
        {
            case 0:
            {
                var at = random.Next(text.Length + 1);
                return (text[..at], $"report cut after {at} of {text.Length} characters");
            }
            case 1:
            {
                var at = random.Next(text.Length + 1);
                const string Inserted = "{}[]\",:\u0000\\ü9-";
                var c = Inserted[random.Next(Inserted.Length)];
                return (text[..at] + c + text[at..], $"report: '{c}' inserted at {at}");
            }
            default:
            {
                var root = JsonNode.Parse(text)!;
                var leaves = Leaves(root, "$").Where(l => !l.Path.StartsWith("$.config.resolved", StringComparison.Ordinal)).ToList();
                var (path, node) = leaves[random.Next(leaves.Count)];
                var parent = node.Parent!;
                if (random.Next(4) == 0 && parent is JsonObject o)
                {
                    o.Remove(node.GetPropertyName());
                    return (root.ToJsonString(), $"report: {path} deleted");
                }
                var value = HostileJson[random.Next(HostileJson.Length)];
                node.ReplaceWith(JsonNode.Parse(value));
                return (root.ToJsonString(), $"report: {path} = {(value.Length > 40 ? value[..40] + "…" : value)}");
            }
        }
    }

    private static IEnumerable<(string Path, JsonNode Node)> Leaves(JsonNode? node, string path) => node switch
    {
        JsonObject o => o.SelectMany(kv => kv.Value is null ? [] : Leaves(kv.Value, $"{path}.{kv.Key}").Prepend((Path: $"{path}.{kv.Key}", Node: kv.Value))),
        JsonArray a => a.SelectMany((v, i) => v is null ? [] : Leaves(v, $"{path}[{i}]").Prepend((Path: $"{path}[{i}]", Node: v))),
        _ => [],
    };

    /// <summary>One mutation of the schedule text; also says what it did.</summary>
    public static (string Text, string What) MutateSchedule(string text, Random random)
    {
        var lines = text.Split('\n').ToList();
        switch (random.Next(4))
        {
            case 0:
            {
                var at = random.Next(text.Length + 1);
                return (text[..at], $"schedule cut after {at} of {text.Length} characters");
            }
            case 1:
            {
                var i = random.Next(lines.Count);
                lines.Insert(i, lines[i]);
                return (string.Join('\n', lines), $"schedule line {i + 1} duplicated");
            }
            case 2 when lines.Count > 1:
            {
                var i = random.Next(lines.Count);
                lines.RemoveAt(i);
                return (string.Join('\n', lines), $"schedule line {i + 1} deleted");
            }
            default:
            {
                var i = random.Next(lines.Count);
                var words = lines[i].Split(' ');
                var w = random.Next(words.Length);
                var token = HostileTokens[random.Next(HostileTokens.Length)];
                var old = words[w];
                words[w] = token;
                lines[i] = string.Join(' ', words);
                return (string.Join('\n', lines), $"schedule line {i + 1}: '{old}' → '{token}'");
            }
        }
    }
}
