using HvIommu.Actors.Configuration;
using HvIommu.Actors.Tests.Configuration;
using HvIommu.Model.Settings;

namespace HvIommu.Actors.Tests.Scenarios;

/// <summary>The scenario catalogue's files, as the tests see them.</summary>
internal static class ScenarioFiles
{
    public static string Directory => RepoFiles.Path("config", "scenarios");

    /// <summary>Every scenario file, by name, in a stable order.</summary>
    public static IReadOnlyList<string> All() =>
        System.IO.Directory.GetFiles(Directory, "*.conf").OrderBy(f => f, StringComparer.Ordinal).ToList();

    public static string Stem(string file) => Path.GetFileNameWithoutExtension(file);

    public static bool IsRight(string file) => Stem(file).EndsWith("-right", StringComparison.Ordinal);

    /// <summary>True when the file runs in stress mode (the default), where the seed fixes the workload but not the schedule.</summary>
    public static bool IsStress(string file) => SimConfig.Load(file).Settings.Mode == RunMode.Stress;

    /// <summary>
    /// Runs a wrong scenario on one seed until it matches, at most <paramref name="stressAttempts"/> times in stress mode and once
    /// in deterministic mode. In stress mode the operating system schedules the threads, so one run is one draw of the schedule:
    /// a miss means this draw did not hit the window, and another run of the same seed is another draw. In deterministic mode
    /// the seed fixes the schedule, so a miss is a miss. Returns the last attempt and how many runs it took (1-based).
    /// </summary>
    public static (T Result, int Attempts) JudgeWrong<T>(string file, Func<T> run, Func<T, bool> matched, int stressAttempts = 3)
    {
        var limit = IsStress(file) ? stressAttempts : 1;
        var result = run();
        var attempts = 1;
        while (!matched(result) && attempts < limit)
        {
            result = run();
            attempts++;
        }
        return (result, attempts);
    }
}
