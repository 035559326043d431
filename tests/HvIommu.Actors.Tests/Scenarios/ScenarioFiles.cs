using HvIommu.Actors.Tests.Configuration;

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
}
