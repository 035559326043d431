using System.CommandLine;
using System.Text.Json;
using HvIommu.Actors.Configuration;

namespace HvIommu.Actors.Cli;

/// <summary>
/// <c>validate</c>: loads a topology or scenario the way <c>run</c> would (overlay on the embedded
/// reference.conf), and prints the resolved topology — or every problem with file, key, value and what
/// is allowed, exiting 2.
/// </summary>
public sealed class ValidateCommand : CliCommand
{
    private readonly Option<string?> _config = CommonOptions.Config("an overlay on reference.conf (default: the embedded default.conf)");
    private readonly Option<ulong?> _seed = CommonOptions.Seed("override hviommu.seed");
    private readonly Option<bool> _json = CommonOptions.Json("print the resolved hviommu tree as JSON instead of text");

    public override string Name => "validate";

    public override int Order => 20;

    public override string Description => "Loads a config, prints the resolved topology and the hazard knobs in force, reports every problem. "
        + "Exit codes: 0 the config is valid, 2 it is not (each problem on stderr as 'error: FILE: KEY = VALUE: what is allowed').";

    protected override IEnumerable<Symbol> Symbols() => [_config, _seed, _json];

    public override int Execute(ParseResult parse, CliContext cli)
    {
        var path = parse.GetValue(_config);
        if (path is not null)
            OutputPaths.CheckInput("--config", path);
        var seed = parse.GetValue(_seed);
        // A ConfigException reaches CommandLine.Run, which prints each problem and exits 2.
        var loaded = SimConfig.Load(path, seed is null ? null : [SimConfig.FromOption("--seed", "hviommu.seed", $"{seed}")]);
        if (parse.GetValue(_json))
            WriteJson(cli.Out, HoconJson.ToJson(loaded.Merged));
        else
            TopologyText.Write(cli.Out, loaded);
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
