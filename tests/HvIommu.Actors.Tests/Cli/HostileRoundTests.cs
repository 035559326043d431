using System.CommandLine;
using System.Text;
using System.Text.Json.Nodes;
using HvIommu.Actors.Cli;
using HvIommu.Actors.Tests.Simulation;

namespace HvIommu.Actors.Tests.Cli;

/// <summary>
/// The hostile round of issue 14 (session 5): every typed option of every command given hostile values, reports and
/// schedules edited by hand or cut short, paths with spaces and non-ASCII characters. Each bad input is exit 2 with
/// one line naming the option, file or field, the value and what is allowed; no stack trace, no serializer type names.
/// </summary>
[Trait("Category", "Actors")]
public sealed class HostileRoundTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("hviommu hostile é ").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Values no whole-number or duration option takes: negative, beyond any range, non-ASCII digits,
    /// exponent, empty, words.</summary>
    public static readonly string[] HostileNumbers = ["-1", "99999999999999999999999", "１２", "٣", "1e3", "", "NaN", "0x", "5 5"];

    /// <summary>Every option of every command whose value is a number, a duration or one of a list — found from the
    /// command tree, so an option added later is covered without touching this test.</summary>
    public static TheoryData<string, string> TypedOptions()
    {
        var data = new TheoryData<string, string>();
        foreach (var command in CommandLine.Commands())
            foreach (var option in command.Build().Options)
                if (IsTyped(option))
                    data.Add(command.Name, option.Name);
        return data;
    }

    private static bool IsTyped(Option option) =>
        option.ValueType == typeof(long?) || option.ValueType == typeof(ulong?) || option.ValueType == typeof(int?) || option.ValueType == typeof(TimeSpan?)
        || option.ValueType == typeof(long) || option.ValueType == typeof(int) || option.ValueType == typeof(double?) || option.ValueType == typeof(double)
        || option.HelpName is { } h && h.Contains('|', StringComparison.Ordinal) && !h.Contains(' ', StringComparison.Ordinal);

    [Theory]
    [MemberData(nameof(TypedOptions))]
    public void Every_typed_option_refuses_hostile_values_naming_itself_the_value_and_what_is_allowed(string command, string option)
    {
        Assert.NotEmpty(TypedOptions());
        foreach (var value in HostileNumbers.Append("ünïcødé").Append("STRESS"))
        {
            var r = HostileInputTests.Run(command, option, value);
            HostileInputTests.BadInput(r, option, $"'{value}'");
            var line = r.Err.Split('\n').First(l => l.Contains(option, StringComparison.Ordinal) && l.Contains($"'{value}'", StringComparison.Ordinal));
            Assert.Matches(@"whole number in \[|duration from|has no unit: write|one of:|not a number|not a whole number", line);
        }
    }

    [Theory]
    [InlineData("5", "has no unit: write 5ms, 5s, 5m or 5h")]
    [InlineData("30000h", "is not a duration from 1ms to 168h")]
    [InlineData("1ns", "is not a duration from 1ms to 168h")]
    [InlineData("-5s", "is not a duration from 1ms to 168h")]
    public void A_duration_needs_a_unit_and_lies_between_a_millisecond_and_a_week(string value, string problem)
    {
        var r = HostileInputTests.Run("run", "--duration", value);
        HostileInputTests.BadInput(r, $"--duration '{value}' {problem}");
        Assert.DoesNotContain("default.conf", r.Err);
    }

    [Theory]
    [InlineData("run")]
    [InlineData("sweep")]
    [InlineData("compare")]
    public void A_mode_in_the_wrong_case_is_refused_naming_the_option_and_the_modes(string command)
    {
        var r = HostileInputTests.Run(command, "--mode", "Stress");
        HostileInputTests.BadInput(r, "--mode 'Stress' is not one of: ", "stress", "deterministic");
    }

    private string Recorded(string name = "r.json")
    {
        var report = Path.Combine(_dir, name);
        var (exit, stdout, stderr) = RunEndToEndTests.Run(["run", "--mode", "deterministic", "--ops", "8", "--seed", "5", "--report", report]);
        Assert.True(exit == 0, $"exit {exit}\n{stdout}\n{stderr}");
        return report;
    }

    public static TheoryData<string, string> ReportEdits() => new()
    {
        { "seed -1", "$.seed = -1" },
        { "seed \"7\"", "$.seed = \"7\"" },
        { "seed 1e30", "$.seed = 1e30" },
        { "seed 1.5", "allowed: a whole number in [0, 18446744073709551615]" },
        { "mode quantum", "$.mode = \"quantum\"" },
        { "expected maybe", "allowed: \"clean\" or \"violation\"" },
        { "artifacts null", "$.artifacts is null" },
        { "config null", "$.config is null" },
        { "stats removed", "lacks required field" },
        { "violation kind 3", "$.violations[0].kind = 3" },
        { "cut in half", "is not complete JSON" },
        { "empty", "is not complete JSON" },
        { "NUL in a key", "is not valid JSON (line" },
        { "traceHash zz", "$.traceHash = \"zz\" is not a value this field takes; allowed: the trace hash the run wrote, a string of 16 hex digits" },
        { "traceHash 12", "$.traceHash = 12" },
        { "outcomeMatched yes", "allowed: true or false" },
    };

    [Theory]
    [MemberData(nameof(ReportEdits))]
    public void A_hand_edited_or_truncated_report_is_bad_input_naming_the_field_its_value_and_what_is_allowed(string edit, string mention)
    {
        var report = Recorded();
        var text = File.ReadAllText(report);
        var json = JsonNode.Parse(text)!.AsObject();
        text = edit switch
        {
            "seed -1" => Set(json, "seed", JsonValue.Create(-1)),
            "seed \"7\"" => Set(json, "seed", JsonValue.Create("7")),
            "seed 1e30" => text.Replace("\"seed\": 5,", "\"seed\": 1e30,", StringComparison.Ordinal),
            "seed 1.5" => Set(json, "seed", JsonValue.Create(1.5)),
            "mode quantum" => Set(json, "mode", JsonValue.Create("quantum")),
            "expected maybe" => Set(json, "expected", JsonValue.Create("maybe")),
            "artifacts null" => Set(json, "artifacts", null),
            "config null" => Set(json, "config", null),
            "stats removed" => Remove(json, "stats"),
            "violation kind 3" => Set(json, "violations", JsonNode.Parse("""[{ "kind": 3 }]""")),
            "cut in half" => text[..(text.Length / 2)],
            "empty" => "",
            "traceHash zz" => Set(json, "traceHash", JsonValue.Create("zz")),
            "traceHash 12" => Set(json, "traceHash", JsonValue.Create(12)),
            "outcomeMatched yes" => Set(json, "outcomeMatched", JsonValue.Create("yes")),
            "NUL in a key" => text.Replace("\"seed\"", "\"se\u0000ed\"", StringComparison.Ordinal),
            _ => throw new ArgumentException(edit),
        };
        File.WriteAllText(report, text);
        foreach (var command in new[] { new[] { "replay", "--report", report }, ["minimize", "--report", report, "--out", Path.Combine(_dir, "min out")] })
        {
            var r = HostileInputTests.Run(command);
            HostileInputTests.BadInput(r, $"--report {report}: not a readable report: ", mention);
            Assert.DoesNotContain("HvIommu.", r.Err);
            Assert.DoesNotContain("Consider updating", r.Err);
            Assert.Single(r.Err.Split('\n'), l => l.StartsWith("error:", StringComparison.Ordinal));
        }
    }

    private static string Set(JsonObject json, string key, JsonNode? value)
    {
        json[key] = value;
        return json.ToJsonString();
    }

    private static string Remove(JsonObject json, string key)
    {
        json.Remove(key);
        return json.ToJsonString();
    }

    [Fact]
    public void A_report_saved_by_an_editor_with_a_byte_order_mark_still_replays()
    {
        var report = Recorded();
        File.WriteAllText(report, File.ReadAllText(report), new UTF8Encoding(encoderShouldEmitUTF8Identifier: true));
        Assert.Equal(0xEF, File.ReadAllBytes(report)[0]);
        var r = HostileInputTests.Run("replay", "--report", report);
        Assert.True(r.Code == 0, $"exit {r.Code}\n{r.Out}\n{r.Err}");
        Assert.Contains("REPRODUCED", r.Out);
    }

    [Fact]
    public void A_report_and_its_schedule_renamed_together_still_replay()
    {
        var report = Recorded();
        var moved = Path.Combine(_dir, "renamed dir ü", "the run é.json");
        Directory.CreateDirectory(Path.GetDirectoryName(moved)!);
        File.Move(report, moved);
        File.Move(Path.ChangeExtension(report, ".schedule"), Path.ChangeExtension(moved, ".schedule"));
        var r = HostileInputTests.Run("replay", "--report", moved);
        Assert.True(r.Code == 0, $"exit {r.Code}\n{r.Out}\n{r.Err}");
        Assert.Contains("REPRODUCED", r.Out);
    }

    public static TheoryData<string, string> ScheduleEdits() => new()
    {
        { "seed twice", "seed is given twice" },
        { "cut after the strategy", "steps missing" },
        { "a negative choice", "\"-1\" is not a choice (a whole number in [0, 2147483647])" },
        { "a huge step count", "steps \"99999999999999999999\" is not a whole number in [1, 2147483647]" },
        { "an unknown key", "unknown key \"flavour\"" },
        { "binary", "not a schedule file: the first line must be" },
    };

    [Theory]
    [MemberData(nameof(ScheduleEdits))]
    public void A_hand_edited_schedule_is_bad_input_naming_the_file_once_the_line_and_the_key(string edit, string mention)
    {
        var report = Recorded();
        var schedulePath = Path.ChangeExtension(report, ".schedule");
        var lines = File.ReadAllLines(schedulePath).ToList();
        var text = edit switch
        {
            "seed twice" => string.Join('\n', lines.Take(2).Append(lines[1]).Concat(lines.Skip(2))),
            "cut after the strategy" => string.Join('\n', lines.Take(3)),
            "a negative choice" => string.Join('\n', lines).Replace("choices ", "choices -1 ", StringComparison.Ordinal),
            "a huge step count" => string.Join('\n', lines.Select(l => l.StartsWith("steps ", StringComparison.Ordinal) ? "steps 99999999999999999999" : l)),
            "an unknown key" => string.Join('\n', lines.Take(2).Append("flavour vanilla").Concat(lines.Skip(2))),
            "binary" => "\u0000\u0001\u0002",
            _ => throw new ArgumentException(edit),
        };
        File.WriteAllText(schedulePath, text);
        foreach (var r in new[] { HostileInputTests.Run("replay", "--report", report), HostileInputTests.Run("replay", "--schedule", schedulePath) })
        {
            HostileInputTests.BadInput(r, schedulePath, mention);
            Assert.Single(r.Err.Split('\n'), l => l.StartsWith("error:", StringComparison.Ordinal));
            Assert.Equal(1, CountOf(r.Err, schedulePath));
        }
    }

    [Fact]
    public void A_schedule_with_windows_line_ends_replays()
    {
        var report = Recorded();
        var schedulePath = Path.ChangeExtension(report, ".schedule");
        File.WriteAllText(schedulePath, File.ReadAllText(schedulePath).Replace("\n", "\r\n", StringComparison.Ordinal));
        var r = HostileInputTests.Run("replay", "--report", report);
        Assert.True(r.Code == 0, $"exit {r.Code}\n{r.Out}\n{r.Err}");
    }

    /// <summary>A config and report in directories with spaces and non-ASCII names: the run works, and the reproduce
    /// command it prints runs as printed (POSIX-quoted), giving the same verdict.</summary>
    [Fact]
    public void Paths_with_spaces_and_unicode_work_and_the_printed_reproduce_line_runs_as_printed()
    {
        var configDir = Path.Combine(_dir, "my configs ñ");
        Directory.CreateDirectory(configDir);
        var config = Path.Combine(configDir, "h5 drain wrong — copy's.conf");
        File.Copy(Path.Combine(RunEndToEndTests.RepoRoot(), "config", "scenarios", "h5-drain-wrong.conf"), config);
        var report = Path.Combine(_dir, "out dir", "r é.json");
        var (exit, stdout, stderr) = RunEndToEndTests.Run(["run", "--config", config, "--mode", "deterministic", "--seed", "1", "--report", report]);
        Assert.True(exit is 0 or 1, $"exit {exit}\n{stdout}\n{stderr}");
        var reproduce = stdout.Split('\n').Select(l => l.Trim()).First(l => l.StartsWith("reproduce: ", StringComparison.Ordinal))["reproduce: ".Length..];
        var words = ShellWords(reproduce);
        var at = words.IndexOf("--") + 1;
        Assert.True(at > 0, reproduce);
        var again = HostileInputTests.Run([.. words.Skip(at)]);
        Assert.True(again.Code == exit, $"{reproduce}\nexit {again.Code}, first run {exit}\n{again.Out}\n{again.Err}");
        var replay = HostileInputTests.Run("replay", "--report", report);
        Assert.True(replay.Code == 0, $"exit {replay.Code}\n{replay.Out}\n{replay.Err}");
    }

    /// <summary>Splits a POSIX shell command line of plain words and single-quoted words (with '\'' inside).</summary>
    private static List<string> ShellWords(string line)
    {
        var words = new List<string>();
        var word = new StringBuilder();
        var inWord = false;
        for (var i = 0; i < line.Length; i++)
        {
            var c = line[i];
            if (c == '\'')
            {
                var end = line.IndexOf('\'', i + 1);
                word.Append(line, i + 1, end - i - 1);
                i = end;
                inWord = true;
            }
            else if (c == '\\' && i + 1 < line.Length)
            {
                word.Append(line[++i]);
                inWord = true;
            }
            else if (c == ' ')
            {
                if (inWord)
                    words.Add(word.ToString());
                word.Clear();
                inWord = false;
            }
            else
            {
                word.Append(c);
                inWord = true;
            }
        }
        if (inWord)
            words.Add(word.ToString());
        return words;
    }

    private static int CountOf(string text, string part)
    {
        var n = 0;
        for (var i = text.IndexOf(part, StringComparison.Ordinal); i >= 0; i = text.IndexOf(part, i + part.Length, StringComparison.Ordinal))
            n++;
        return n;
    }
}
