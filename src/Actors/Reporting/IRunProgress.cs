namespace HvIommu.Actors.Reporting;

/// <summary>Where a run is: operations done (of the target, if the run has one), DMA rate, violations so far, time
/// elapsed, and the process's memory (RSS and managed heap) when the runner measured it.</summary>
public sealed record ProgressSnapshot(
    long Operations,
    long? TargetOperations,
    double DmaPerSecond,
    int Violations,
    double ElapsedSeconds,
    Metrics.MemorySample? Memory = null);

/// <summary>
/// Shows a running simulation's progress to the user. The caller decides how often to update (the
/// implementations draw or print whatever they are given). Output goes to the terminal or to the
/// error stream, never into the JSON on standard output.
/// </summary>
public interface IRunProgress
{
    void Start(string title);

    void Update(ProgressSnapshot snapshot);

    void Stop();
}
