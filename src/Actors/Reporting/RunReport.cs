using System.Text.Json;
using System.Text.Json.Serialization;

namespace HvIommu.Actors.Reporting;

/// <summary>
/// The report of one run (<c>--report FILE.json</c>, docs/design.md §3, <c>schemaVersion: 2</c>): the seed
/// and mode that reproduce it, the resolved configuration, the run's statistics, every IOMMU
/// violation the oracle found, and whether the outcome matched the configuration's expectation.
/// </summary>
public sealed record RunReport(
    ulong Seed,
    RunMode Mode,
    ReportConfig Config,
    RunStats Stats,
    IReadOnlyList<ViolationRecord> Violations,
    ExpectedOutcome Expected,
    string? ExpectedKind,
    bool OutcomeMatched,
    IReadOnlyList<string> Artifacts)
{
    /// <summary>The schema version this simulator writes and reads.</summary>
    /// <remarks>2: stats.maps and stats.unmaps became pagesMapped and pagesUnmapped (they always counted 4 KiB pages),
    /// stats.vmExitsPerUnmap (every exit over pages) went (cost.vmExitsPerUnmap is per dma_unmap call), stats.latencyClock came.</remarks>
    public const int CurrentSchemaVersion = 2;

    [JsonPropertyOrder(-1)]
    public int SchemaVersion { get; init; } = CurrentSchemaVersion;

    /// <summary>The hash of the causal trace; deterministic mode only, omitted from the JSON otherwise.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? TraceHash { get; init; }

    /// <summary>A run expected clean that tested nothing, or less than asked (init failed uninjected, stopped
    /// early), says why here, and its outcome does not match; omitted otherwise.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? DidNotRun { get; init; }

    /// <summary>The run was interrupted (Ctrl-C) before its budget was spent: the figures cover only what ran.
    /// Omitted from the JSON when false.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool Partial { get; init; }
}

/// <summary>How the run scheduled its actors (docs/design.md §2, "Two ways to run the same actors").</summary>
[JsonConverter(typeof(JsonStringEnumConverter<RunMode>))]
public enum RunMode
{
    /// <summary>Default Akka dispatchers on all cores; real, non-deterministic races.</summary>
    [JsonStringEnumMemberName("stress")] Stress,
    /// <summary>One seeded single-threaded dispatcher and virtual time; same seed, same interleaving.</summary>
    [JsonStringEnumMemberName("deterministic")] Deterministic,
}

/// <summary>What the configuration expects the run to find (<c>expect = clean | violation</c>).</summary>
[JsonConverter(typeof(JsonStringEnumConverter<ExpectedOutcome>))]
public enum ExpectedOutcome
{
    [JsonStringEnumMemberName("clean")] Clean,
    [JsonStringEnumMemberName("violation")] Violation,
}

/// <summary>The configuration a run used: the overlay file given and the fully resolved HOCON as JSON.</summary>
public sealed record ReportConfig(string File, JsonElement Resolved);
