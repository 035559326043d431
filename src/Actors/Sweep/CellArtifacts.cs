using HvIommu.Actors.Runs;
using HvIommu.Actors.Configuration;
using HvIommu.Actors.Reporting;
using HvIommu.Actors.Simulation;
using HvIommu.Actors.Tracing;

namespace HvIommu.Actors.Sweep;

/// <summary>What the coordinator wrote for one violating (or failing) schedule: the report, and the command that replays it.</summary>
/// <param name="Failure">Set when the coordinator's re-run did not give the explorer's trace hash (nondeterminism
/// across processes or machines) or the re-run itself failed.</param>
public sealed record FoundSchedule(string ReportPath, string Replay, RunReport Report, string? Failure);

/// <summary>
/// Writes a found schedule so that <c>replay</c> reproduces it on any machine: the explorer (a thread here or a
/// worker elsewhere) sent only the seed and its trace hash; the coordinator re-runs that seed in this process
/// from a stand-alone config file, with the causal trace on, checks it gets the same trace hash, and writes the
/// config, the report, the schedule beside it and the trace files.
/// </summary>
public static class CellArtifacts
{
    /// <param name="configPath">Where the cell's stand-alone config goes (the report names it, replay loads it).</param>
    /// <param name="configText">Its text (<see cref="ExplorationJob.CellConfigText"/>).</param>
    /// <param name="reportPath">The report; its schedule goes beside it (<c>.schedule</c>).</param>
    /// <param name="traceDir">The trace files' directory, or null for none.</param>
    public static FoundSchedule Write(ExplorationJob job, SeedOutcome found, string configPath, string configText, string reportPath, string? traceDir)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(configPath))!);
        SweepWriter.Write(configPath, configText);
        var config = SimConfig.Load(configPath);
        var replay = Reproduction.Replay(reportPath);
        if (job.Stress)
        {
            var seeded = config with { Settings = config.Settings with { Seed = found.Seed } };
            var reproduce = Reproduction.Run(configPath, found.Seed, null, null);
            var stress = StressRunner.Run(seeded, reproduce, progress: null, verbose: false);
            ReportWriter.Write(stress.Report, reportPath);
            return new FoundSchedule(reportPath, reproduce, stress.Report, stress.Failure);
        }
        using var system = DeterministicRunner.CreateSystem(config, verbose: false, name: "sweep-replay");
        var result = DeterministicRunner.RunSchedule(system, config, found.Seed, job.Strategies().For(system, config, found.Seed), replay, ExplorationJob.ExpectedSteps(config), recordLatencies: true, trace: true).AsExplored();
        var report = result.Report;
        var artifacts = new List<string>();
        if (traceDir is not null && result.Trace is not null)
            artifacts.AddRange(TraceFiles.Write(traceDir, result.Trace, report));
        var schedulePath = Path.ChangeExtension(reportPath, ".schedule");
        result.Schedule.Save(schedulePath);
        artifacts.Add(schedulePath);
        report = report with { Artifacts = [.. report.Artifacts, .. artifacts] };
        ReportWriter.Write(report, reportPath);
        string? failure = result.Failure;
        if (failure is null && found.TraceHash.Length > 0 && report.TraceHash != found.TraceHash)
            failure = $"nondeterminism detected: seed {found.Seed} gave trace hash {found.TraceHash} in the explorer and {report.TraceHash} when re-run here";
        return new FoundSchedule(reportPath, replay, report, failure);
    }
}
