using System.Globalization;
using HvIommu.Actors.Cli;
using HvIommu.Actors.Tests.Scenarios;
using Xunit.Abstractions;

namespace HvIommu.Actors.Tests.Cli;

/// <summary>
/// What the fuzz tests (<see cref="ConfigFuzzTests"/>, <see cref="RecordFuzzTests"/>) share: a scratch directory, how
/// many cases each tier runs (a few dozen by default; the Long tier <c>HVIOMMU_LONG_SEEDS</c> × <see cref="LongCasesPerSeed"/>
/// from <see cref="LongFirstCase"/>; <c>HVIOMMU_FUZZ_CASES=N</c> overrides either), and the verdict on each command a case
/// ran: exit 0, 1 or 2, no stack trace on either stream, no exception text, and a refusal that says why.
/// </summary>
public abstract class FuzzHarness(ITestOutputHelper output, string prefix) : IDisposable
{
    public const string CasesVariable = "HVIOMMU_FUZZ_CASES";
    public const int LongCasesPerSeed = 25;

    /// <summary>The Long tier's cases start here, so they are not the default tier's again.</summary>
    internal const int LongFirstCase = 100_000;

    private readonly System.Text.StringBuilder _failures = new();
    private readonly int[] _tally = new int[3];

    /// <summary>The scratch directory of this test, deleted afterwards.</summary>
    protected string Dir { get; } = Directory.CreateTempSubdirectory(prefix).FullName;

    public void Dispose()
    {
        Directory.Delete(Dir, recursive: true);
        GC.SuppressFinalize(this);
    }

    internal static int? CasesOverride() =>
        int.TryParse(Environment.GetEnvironmentVariable(CasesVariable), NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0 ? n : null;

    /// <summary>The default tier's count: <paramref name="defaultCases"/> unless <see cref="CasesVariable"/> says otherwise.</summary>
    protected static int DefaultTier(int defaultCases) => CasesOverride() ?? defaultCases;

    /// <summary>The Long tier's count (0, so nothing, when the tier is off).</summary>
    protected static int LongTier() => CasesOverride() ?? (LongFactAttribute.Seeds ?? 0) * LongCasesPerSeed;

    /// <summary>Judges one command of a case; a failure is kept with <paramref name="describe"/>'s text.</summary>
    /// <param name="strict">Also refuse the simulator's own type names, and a refusal that does not start "error: ".</param>
    protected void Judge((int Code, string Out, string Err) r, bool strict, Func<string> describe)
    {
        var clean = r.Code is ExitCodes.Matched or ExitCodes.Mismatched or ExitCodes.BadInput
            && !(r.Out + r.Err).Contains("   at ", StringComparison.Ordinal)
            && !r.Err.Contains("Exception", StringComparison.Ordinal)
            && (r.Code != ExitCodes.BadInput || r.Err.Trim().Length > 0)
            && (!strict || !r.Err.Contains("HvIommu.", StringComparison.Ordinal) && (r.Code != ExitCodes.BadInput || r.Err.StartsWith("error: ", StringComparison.Ordinal)));
        if (r.Code is >= 0 and <= 2)
            _tally[r.Code]++;
        if (!clean)
            _failures.AppendLine(describe());
    }

    /// <summary>Prints the tally after <paramref name="what"/>, fails on any bad case, and returns the tally by exit code.</summary>
    protected int[] Verdict(string what)
    {
        output.WriteLine($"{what}: exit 0 ×{_tally[0]}, 1 ×{_tally[1]}, 2 ×{_tally[2]}");
        Assert.True(_failures.Length == 0, _failures.ToString());
        return _tally;
    }
}
