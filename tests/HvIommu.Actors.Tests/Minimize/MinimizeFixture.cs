using HvIommu.Actors.Minimize;
using System.Text.Json;
using HvIommu.Actors.Tests.Simulation;

namespace HvIommu.Actors.Tests.Minimize;

/// <summary>Produces a failing report with explore, minimizes it, and reads back what both wrote.</summary>
internal static class MinimizeFixture
{
    public sealed record Outcome(int Exit, string Output, string Dir, string Kind, long OriginalMessages, long OriginalSteps, long MinimalMessages, long MinimalSteps)
    {
        /// <summary>The search time minimize reports ("N runs in X s").</summary>
        public double Seconds => System.Text.RegularExpressions.Regex.Match(Output, @"runs in ([0-9.]+) s") is { Success: true } m
            ? double.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)
            : double.NaN;
    }

    public static string Scenario(string name) => Path.Combine(RunEndToEndTests.RepoRoot(), "config", "scenarios", name + ".conf");

    /// <summary>explore --strategy pct --report, then minimize into <paramref name="dir"/>.</summary>
    public static Outcome ExploreAndMinimize(string scenario, string dir, string budget)
    {
        var report = Path.Combine(dir, "original.json");
        var (found, exploreOut, exploreErr) = RunEndToEndTests.Run(["explore", "--config", Scenario(scenario), "--strategy", "pct", "--seeds", "20", "--report", report, "--plain"]);
        if (found != 0)
            throw new InvalidOperationException($"explore did not find the violation of {scenario}: {exploreOut}{exploreErr}");
        var outDir = Path.Combine(dir, "minimal");
        var (exit, stdout, stderr) = RunEndToEndTests.Run(["minimize", "--report", report, "--out", outDir, "--budget", budget]);
        var (kind, messages, steps) = Read(report);
        if (exit != 0)
            return new Outcome(exit, stdout + stderr, outDir, kind, messages, steps, -1, -1);
        var (_, minMessages, minSteps) = Read(Path.Combine(outDir, "report.json"));
        return new Outcome(exit, stdout + stderr, outDir, kind, messages, steps, minMessages, minSteps);
    }

    /// <summary>The first violation's kind, delivered messages and steps of a report.</summary>
    public static (string Kind, long Messages, long Steps) Read(string report)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(report));
        var root = doc.RootElement;
        var violations = root.GetProperty("violations");
        var kind = violations.GetArrayLength() > 0 ? violations[0].GetProperty("kind").GetString()! : "";
        var stats = root.GetProperty("stats");
        return (kind, stats.GetProperty("messagesDelivered").GetInt64(), stats.GetProperty("steps").GetInt64());
    }
}
