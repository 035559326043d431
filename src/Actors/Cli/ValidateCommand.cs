using System.Text.Json;
using HvIommu.Actors.Configuration;

namespace HvIommu.Actors.Cli;

/// <summary>
/// <c>validate</c>: loads a topology or scenario the way <c>run</c> would (overlay on the embedded
/// reference.conf), and prints the resolved topology — or every problem with file, key, value and what
/// is allowed, exiting 2.
/// </summary>
public sealed class ValidateCommand : ICommand
{
    public string Name => "validate";
    public string Summary => "load a config, print the resolved topology, report every problem";
    public string Usage => """
        usage: validate [--config FILE] [--seed N] [--json]
          --config FILE    an overlay on reference.conf (default: the embedded default.conf)
          --seed N         override hviommu.seed
          --json           print the resolved hviommu tree as JSON instead of text
        exit codes: 0 the config is valid, 2 it is not (each problem on stderr as 'error: ...')
        """;

    public int Run(ArgReader args, TextWriter stdout, TextWriter stderr)
    {
        var path = args.Option("--config");
        var seed = args.UInt64("--seed");
        var json = args.Flag("--json");
        args.EnsureAllConsumed();

        // A ConfigException reaches CommandLine.Run, which prints each problem and exits 2.
        var loaded = SimConfig.Load(path, seed is null ? null : [$"hviommu.seed = {seed}"]);
        if (json)
            WriteJson(stdout, HoconJson.ToJson(loaded.Merged));
        else
            TopologyText.Write(stdout, loaded);
        return ExitCodes.Matched;
    }

    private static void WriteJson(TextWriter stdout, JsonElement tree)
    {
        var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
            tree.WriteTo(writer);
        stdout.WriteLine(System.Text.Encoding.UTF8.GetString(buffer.ToArray()));
    }
}
