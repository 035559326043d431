namespace HvIommu.Actors.Tests.Configuration;

/// <summary>Files of the repository the tests read: found by walking up to the directory holding the solution.</summary>
internal static class RepoFiles
{
    public static string Root { get; } = FindRoot();

    public static string Path(params string[] parts) => System.IO.Path.Combine([Root, .. parts]);

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "HvIommu.Actors.sln")))
                return dir.FullName;
        throw new InvalidOperationException("HvIommu.Actors.sln not found above " + AppContext.BaseDirectory);
    }
}
