using HvIommu.Actors.Bench;
using HvIommu.Actors.Configuration;
using HvIommu.Actors.Runs;
using Xunit.Abstractions;

namespace HvIommu.Actors.Tests.Soak;

/// <summary>
/// A fact that runs only when <c>HVIOMMU_SOAK_OPS</c> is set (to the operations of the soak run, e.g. 300000 in
/// CI, 5000000 for the full tier), so the plain <c>dotnet test</c> stays fast.
/// </summary>
public sealed class SoakFactAttribute : FactAttribute
{
    public const string OpsVariable = "HVIOMMU_SOAK_OPS";

    public SoakFactAttribute()
    {
        if (Ops is null)
            Skip = $"soak test: set {OpsVariable}=N (e.g. 300000, or 5000000 for the long tier) to run it";
    }

    /// <summary>The operation count from the environment, or null when unset or not a positive number.</summary>
    public static long? Ops =>
        long.TryParse(Environment.GetEnvironmentVariable(OpsVariable), out var n) && n > 0 ? n : null;
}

/// <summary>Runs alone: the soak measures the whole process's managed heap, which other tests would disturb.</summary>
[CollectionDefinition("soak", DisableParallelization = true)]
public sealed class SoakCollection;

/// <summary>
/// The default topology in stress mode for <c>HVIOMMU_SOAK_OPS</c> operations (opt-in): after a warm-up of the
/// first 20 %, the reachable managed heap (after full collections, as the runtime reports it; no timing) must be
/// flat as <c>bench --soak</c> judges it: a least-squares slope under 1 byte per operation, or no sample more than
/// 4 MiB (operations in flight) above the first. Before the oracle stopped indexing every mapping it grew by ~100
/// bytes per operation.
/// </summary>
[Collection("soak")]
public sealed class SoakLongTests(ITestOutputHelper output)
{
    [SoakFact]
    [Trait("Category", "Long")]
    public void A_long_stress_run_keeps_its_managed_heap_flat_after_warm_up()
    {
        var ops = SoakFactAttribute.Ops!.Value;
        var config = SimConfig.Load(null, [$"hviommu.run.ops = {ops}", "hviommu.run.duration = 24h", "hviommu.run.progress-interval = 100ms"]);
        var probe = new SoakProbe(ops / 5);

        var result = StressRunner.Run(config, "hviommu bench --soak", probe, verbose: false);
        var soak = probe.Result();
        output.WriteLine(soak.Describe(config.File, result.Report));

        Assert.Null(result.Failure);
        Assert.Empty(result.Report.Violations);
        Assert.True(soak.Samples.Count >= 2, $"only {soak.Samples.Count} samples after warm-up");
        // The verdict bench --soak gives: retention is the least-squares slope of the samples (a leak raises every
        // later sample), not the highest single sample, which under load can catch more operations in flight.
        Assert.True(soak.Bounded == true,
            $"managed heap retained {soak.BytesPerOperation:0.###} bytes/operation (target < {SoakResult.TargetBytesPerOperation}) and rose by {soak.Growth:N0} bytes (slack {SoakResult.InFlightSlackBytes:N0}) over {soak.MeasuredOperations:N0} operations after warm-up");
        Assert.True(result.Report.Stats.Memory!.OracleRecords < 100_000, $"the oracle held {result.Report.Stats.Memory.OracleRecords:N0} records at the end");
    }
}
