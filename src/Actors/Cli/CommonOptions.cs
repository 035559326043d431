using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using HvIommu.Actors.Configuration;
using HvIommu.Actors.Deterministic;
using HvIommu.Actors.Runs;

namespace HvIommu.Actors.Cli;

/// <summary>
/// The options several commands share, each declared once here: name, value syntax, description and
/// validation. A command asks for its own instance (defaults may differ per command) and reads it back with
/// <c>parse.GetValue(option)</c>. Validation errors name the option, the value and what is allowed.
/// </summary>
public static class CommonOptions
{
    public static Option<string?> Config(string description = "a topology or scenario (an overlay on reference.conf); default: the embedded default.conf") =>
        new("--config") { Description = description, HelpName = "FILE" };

    public static Option<ulong?> Seed(string description = "the master seed (overrides hviommu.seed); decimal or 0x hex") =>
        new("--seed") { Description = description, HelpName = "N", CustomParser = r => UInt64Of(r) };

    public static Option<long?> Ops(string description = "guest DMA operations to run (overrides hviommu.run.ops)") =>
        Int64("--ops", description, 0, 1_000_000_000_000);

    public static Option<string?> Mode() => OneOf("--mode",
        "stress: Akka's dispatchers on all cores, real races, the seed fixes the workload; deterministic: one mailbox step at a time under a seeded scheduler with virtual time (default: hviommu.mode)",
        "stress", "deterministic");

    /// <summary>An option that takes one of <paramref name="values"/> (exactly as written: a typo is refused, not
    /// guessed); the error names the option, the value and the values allowed. Completion offers the values.</summary>
    public static Option<string?> OneOf(string name, string description, params string[] values)
    {
        var option = new Option<string?>(name)
        {
            Description = description,
            HelpName = string.Join('|', values),
            CustomParser = r =>
            {
                var text = r.Tokens.Count > 0 ? r.Tokens[0].Value : "";
                if (values.Contains(text, StringComparer.Ordinal))
                    return text;
                r.AddError($"{name} '{text}' is not one of: {string.Join(", ", values)}");
                return null;
            },
        };
        option.CompletionSources.Add(_ => values.Select(v => new System.CommandLine.Completions.CompletionItem(v)));
        return option;
    }

    public static Option<TimeSpan?> Duration(string description, string name = "--duration") =>
        new(name) { Description = description, HelpName = "T", CustomParser = r => DurationOf(r) };

    public static Option<string?> Report(string description = "write the report JSON (schemaVersion 2) to FILE; a deterministic run also writes its schedule beside it (FILE with .schedule)") =>
        new("--report") { Description = description, HelpName = "FILE.json" };

    public static Option<string?> Trace(string description = "write the causal trace into DIR: trace.perfetto.json (open in https://ui.perfetto.dev), violation.md (the first violation in words and a Mermaid diagram), history.jsonl") =>
        new("--trace") { Description = description, HelpName = "DIR" };

    /// <summary>--plain, on every command (like --verbose), so a flag copied from one command line is never refused by another:
    /// plain progress lines even on a terminal; commands without live progress print plain text anyway.</summary>
    public static Option<bool> Plain() => new("--plain")
    {
        Description = "plain progress lines even on a terminal (commands without live progress print plain text anyway)",
        Recursive = true,
    };

    public static Option<bool> Json(string description) => new("--json") { Description = description };

    /// <summary>--verbose, on every command: debug-level simulation logs and stack traces of failures.</summary>
    public static Option<bool> Verbose() => new("--verbose")
    {
        Description = "log simulation events at debug level; print the stack trace of a failure",
        Recursive = true,
    };

    /// <summary>A whole-number option in [min, max] whose error names the option, the value and the range.</summary>
    public static Option<long?> Int64(string name, string description, long min, long max, string helpName = "N") =>
        new(name)
        {
            Description = description,
            HelpName = helpName,
            CustomParser = r =>
            {
                var text = r.Tokens.Count > 0 ? r.Tokens[0].Value : "";
                if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v) && v >= min && v <= max)
                    return v;
                r.AddError($"{name} '{text}' is not a whole number in [{min.ToString("N0", CultureInfo.InvariantCulture)}, {max.ToString("N0", CultureInfo.InvariantCulture)}]");
                return null;
            },
        };

    /// <summary>A decimal or 0x-prefixed hexadecimal unsigned number; throws <see cref="UsageException"/> naming <paramref name="what"/>.</summary>
    /// <summary>
    /// The items of a comma-separated option (<c>--strategies portfolio,random</c>), trimmed. An empty item (<c>a,,b</c>,
    /// a trailing comma), an empty list or an item named twice is a mistake, not something to drop silently:
    /// <see cref="UsageException"/> naming the option, its value and the item.
    /// </summary>
    /// <param name="what">What one item is, for the messages ("strategy", "variant").</param>
    public static IReadOnlyList<string> CommaList(string option, string text, string what)
    {
        var items = text.Split(',').Select(s => s.Trim()).ToList();
        if (items.All(s => s.Length == 0))
            throw new UsageException($"{option} '{text}' names no {what}; name at least one");
        var empty = items.FindIndex(s => s.Length == 0);
        if (empty >= 0)
            throw new UsageException($"{option} '{text}': item {empty + 1} is empty (two commas, or one at an end); name a {what} there or drop the comma");
        var twice = items.GroupBy(s => s, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (twice is not null)
            throw new UsageException($"{option} '{text}': {what} '{twice.Key}' is named twice");
        return items;
    }

    public static ulong ParseUInt64(string what, string s) =>
        TryParseUInt64(s, out var v) ? v : throw new UsageException($"{what} '{s}' is not a number (decimal, or hex with 0x)");

    public static bool TryParseUInt64(string s, out ulong value) =>
        s.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            ? ulong.TryParse(s.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value)
            : ulong.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out value);

    private static ulong? UInt64Of(ArgumentResult r)
    {
        var text = r.Tokens.Count > 0 ? r.Tokens[0].Value : "";
        if (TryParseUInt64(text, out var v))
            return v;
        r.AddError($"{OptionName(r)} '{text}' is not a whole number in [0, {ulong.MaxValue.ToString(CultureInfo.InvariantCulture)}] (decimal, or hex with 0x)");
        return null;
    }

    /// <summary>The longest duration an option takes: a week, as hviommu.run.duration (a longer wait is a typo, and
    /// would overflow the timers).</summary>
    public static readonly TimeSpan MaxDuration = TimeSpan.FromDays(7);

    private static TimeSpan? DurationOf(ArgumentResult r)
    {
        var text = r.Tokens.Count > 0 ? r.Tokens[0].Value : "";
        var name = OptionName(r);
        var trimmed = text.Trim();
        // HOCON reads a bare number as milliseconds; on a command line "--duration 5" means seconds as often as not: ask.
        if (trimmed.Length > 0 && trimmed.All(c => char.IsAsciiDigit(c) || c == '.'))
        {
            r.AddError($"{name} '{text}' has no unit: write {trimmed}ms, {trimmed}s, {trimmed}m or {trimmed}h");
            return null;
        }
        if (HoconReader.TryParseDuration(text, out var d) && d >= TimeSpan.FromMilliseconds(1) && d <= MaxDuration)
            return d;
        r.AddError($"{name} '{text}' is not a duration from 1ms to {MaxDuration.TotalHours:0}h with a unit: ms, s, m or h (e.g. 500ms, 30s, 2m)");
        return null;
    }

    private static string OptionName(ArgumentResult r) => r.Parent is OptionResult o ? o.Option.Name : r.Argument.Name;
}

/// <summary>
/// --strategy, --pct-depth and --max-steps: how a deterministic run chooses its schedule, declared once for
/// <c>run</c> and <c>explore</c>.
/// </summary>
public sealed class ScheduleOptionSet(long defaultMaxSteps = ScheduleOptions.DefaultMaxSteps)
{
    public Option<string?> Strategy { get; } = new Option<string?>("--strategy")
    {
        Description = "deterministic mode's scheduler: portfolio (default: random on every other schedule, and between them delay bounding and PCT in turn), "
            + "random (uniform choice of the next actor and of every environment choice), "
            + "'pct [depth=D] [length=L]' (probabilistic concurrency testing, Burckhardt et al.; depths 1-4 in turn unless fixed, change points over the longest schedule seen), "
            + "'delay [bound=B] [length=L]' (delay bounding; bounds 1-3 in turn unless fixed); quote a text with spaces",
        HelpName = "S",
    };

    public Option<long?> PctDepth { get; } = CommonOptions.Int64("--pct-depth", "fix PCT's depth D (D - 1 priority change points; default: depths 1-4 in turn); needs --strategy pct", 1, 100, "D");

    public Option<long?> MaxSteps { get; } = CommonOptions.Int64("--max-steps",
        $"a deterministic schedule not finished after N steps is a hang (default {defaultMaxSteps.ToString("N0", CultureInfo.InvariantCulture)})", 1, long.MaxValue);

    public IEnumerable<Symbol> All => [Strategy, PctDepth, MaxSteps];

    /// <summary>True when any of the three was given (they only mean something in deterministic mode).</summary>
    public bool AnyGiven(ParseResult parse) => All.Any(o => parse.GetResult(o) is OptionResult { Implicit: false });

    public ScheduleOptions Read(ParseResult parse)
    {
        var strategy = parse.GetValue(Strategy) ?? StrategySpec.Default;
        var depth = (int?)parse.GetValue(PctDepth);
        StrategyPlan plan;
        try
        {
            plan = StrategySpec.Parse(strategy, depth);
        }
        catch (FormatException e)
        {
            throw new UsageException("--strategy: " + e.Message);
        }
        if (depth is not null && plan.Kind != StrategyKind.Pct)
            throw new UsageException($"--pct-depth is PCT's depth; it needs --strategy pct (got --strategy {strategy})");
        return new ScheduleOptions(strategy, depth, parse.GetValue(MaxSteps) ?? defaultMaxSteps);
    }
}
