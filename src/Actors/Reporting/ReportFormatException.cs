namespace HvIommu.Actors.Reporting;

/// <summary>A report file that cannot be read back: missing, not JSON, or not of the schema this simulator reads.</summary>
public sealed class ReportFormatException(string path, string problem, Exception? inner = null)
    : Exception($"report '{path}': {problem}", inner)
{
    public string Path { get; } = path;

    public string Problem { get; } = problem;
}
