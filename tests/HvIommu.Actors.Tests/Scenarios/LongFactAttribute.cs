namespace HvIommu.Actors.Tests.Scenarios;

/// <summary>
/// A fact that runs only when <c>HVIOMMU_LONG_SEEDS</c> is set (to the number of seeds), so the plain
/// <c>dotnet test</c> stays fast; xunit v2 cannot exclude a trait from its configuration file, so the gate
/// is here. Tag such tests <c>[Trait("Category", "Long")]</c> as well, for <c>--filter</c>.
/// </summary>
public sealed class LongFactAttribute : FactAttribute
{
    public const string SeedsVariable = "HVIOMMU_LONG_SEEDS";

    public LongFactAttribute()
    {
        if (Seeds is null)
            Skip = $"long test: set {SeedsVariable}=N (e.g. 10, or 200 for the full right-twin run) to run it";
    }

    /// <summary>The seed count from the environment, or null when unset or not a positive number.</summary>
    public static int? Seeds =>
        int.TryParse(Environment.GetEnvironmentVariable(SeedsVariable), out var n) && n > 0 ? n : null;

    /// <summary>
    /// Appends one line to the file named by <c>HVIOMMU_LONG_PROGRESS</c>, when set, so a long run can be watched while
    /// it runs (xunit shows a test's output only when it ends). Does nothing otherwise.
    /// </summary>
    public static void Progress(string line)
    {
        var path = Environment.GetEnvironmentVariable("HVIOMMU_LONG_PROGRESS");
        if (!string.IsNullOrEmpty(path))
            File.AppendAllText(path, $"{DateTime.UtcNow:HH:mm:ss} {line}\n");
    }
}
