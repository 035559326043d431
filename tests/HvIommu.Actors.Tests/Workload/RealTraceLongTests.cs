using HvIommu.Actors.Tests.Simulation;

namespace HvIommu.Actors.Tests.Workload;

/// <summary>A fact that runs only when <c>HVIOMMU_REAL_TRACE</c> is set (to anything but 0): the whole recorded
/// trace takes seconds of CPU per replay, so the plain <c>dotnet test</c> uses the fixture cut from it.</summary>
public sealed class RealTraceFactAttribute : FactAttribute
{
    public const string Variable = "HVIOMMU_REAL_TRACE";

    public RealTraceFactAttribute()
    {
        if (Environment.GetEnvironmentVariable(Variable) is null or "" or "0")
            Skip = $"the whole kernel trace: set {Variable}=1 to replay traces/linux-6.1-nvme-vtd-strict.trace.gz";
    }
}

/// <summary>The repository's whole kernel trace (11,164 maps, 2,981 unmaps, 2 CPUs), opt-in: a stress replay has the
/// file's own counts and is clean, and compare's four flush designs show what the issue asks of them.</summary>
[Trait("Category", "Long")]
public sealed class RealTraceLongTests
{
    [RealTraceFact]
    public void The_whole_trace_replays_clean_in_stress_mode_with_the_files_counts()
    {
        var root = TraceWorkloadTests.RunTraceFile(TraceWorkloadTests.RealTrace, "--mode", "stress");
        var t = root.GetProperty("stats").GetProperty("workloadTrace");
        var (maps, unmaps, bytesMapped, bytesUnmapped, _) = TraceWorkloadTests.CountTrace(TraceWorkloadTests.RealTrace);
        Assert.Equal(maps, t.GetProperty("mapEvents").GetInt64());
        Assert.Equal(unmaps, t.GetProperty("unmapEvents").GetInt64());
        Assert.Equal(bytesMapped, t.GetProperty("bytesMapped").GetInt64());
        Assert.Equal(bytesUnmapped, t.GetProperty("bytesUnmapped").GetInt64());
        Assert.Equal(0, root.GetProperty("violations").GetArrayLength());
    }

    [RealTraceFact]
    public void The_flush_designs_compared_on_the_whole_trace()
    {
        var dir = Directory.CreateTempSubdirectory("hviommu-compare-");
        try
        {
            var (exit, stdout, stderr) = RunEndToEndTests.Run(["compare", "--workload-trace", TraceWorkloadTests.RealTrace, "--out", dir.FullName, "--plain"]);
            Assert.True(exit == 0, $"exit {exit}\n{stdout}\n{stderr}");
            var (maps, unmaps, _, _, _) = TraceWorkloadTests.CountTrace(TraceWorkloadTests.RealTrace);
            CompareCommandTests.AssertFlushDesigns(Path.Combine(dir.FullName, "compare.json"), maps, unmaps);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
