using System.Globalization;
using HvIommu.Model.Settings;
using HvIommu.Model.Workload;

namespace HvIommu.Actors.Configuration;

/// <summary>
/// Loading a run that replays a kernel trace (<c>--workload-trace FILE</c> or <c>hviommu.workload.trace</c>): the
/// trace is parsed and checked with the config, so a malformed line is a bad-input error (exit 2) naming the file,
/// the line and what was expected, before anything runs.
/// </summary>
public static class TraceTopology
{
    /// <summary>
    /// Loads <paramref name="configPath"/> with the trace at <paramref name="tracePath"/> as its workload; without a
    /// config, a topology fit for the trace: one vCPU per traced CPU, one device in one paging domain (an ftrace of
    /// iommu events names no device), no synthetic operations.
    /// </summary>
    /// <exception cref="ConfigException">The trace or the config is unusable; every problem is listed.</exception>
    public static LoadedConfig Load(string? configPath, string? tracePath, IEnumerable<string> overrides)
    {
        if (tracePath is null)
            return SimConfig.Load(configPath, overrides);
        var full = Path.GetFullPath(tracePath);
        var trace = Parse(full, "--workload-trace");
        var traceLine = $"hviommu.workload.trace = {Quote(full)}";
        if (configPath is not null)
            return SimConfig.Load(configPath, [traceLine, .. overrides]);
        var text = $$"""
            # A topology fit for the trace {{Path.GetFileName(full)}}: one vCPU per traced CPU, one device, one paging domain.
            hviommu {
              vm.vcpus = {{Math.Max(1, trace.Cpus.Length).ToString(CultureInfo.InvariantCulture)}}
              domains = [ { name = "traced" } ]
              devices = [ { name = "traced-device", domain = "traced" } ]
              run.ops = 0
            }
            """;
        return SimConfig.Parse(text, $"trace topology for {tracePath}", [traceLine, .. overrides]);
    }

    /// <summary>Checks a loaded config's trace against its topology (called by <see cref="SimConfig.Parse"/>).</summary>
    internal static void Check(SimSettings s, string configFile, List<ConfigProblem> problems)
    {
        var t = s.Workload.Trace;
        if (!t.Enabled || !File.Exists(t.File))
            return;
        FtraceTrace trace;
        try
        {
            trace = FtraceCache.Get(t.File);
        }
        catch (TraceFormatException e)
        {
            problems.Add(new ConfigProblem(e.File, $"line {e.Line}", "", e.Problem));
            return;
        }
        catch (IOException e)
        {
            problems.Add(new ConfigProblem(t.File, "hviommu.workload.trace", "", "cannot be read: " + e.Message));
            return;
        }
        if (trace.Events.IsEmpty)
            problems.Add(new ConfigProblem(t.File, "hviommu.workload.trace", "", $"no iommu:map or iommu:unmap event in {trace.SkippedLines} lines (record with `trace-cmd record -e iommu`, or enable events/iommu in tracefs)"));
        if (trace.Cpus.Length > s.Vm.Vcpus)
            problems.Add(new ConfigProblem(configFile, "hviommu.vm.vcpus", s.Vm.Vcpus.ToString(CultureInfo.InvariantCulture),
                $"the trace has {trace.Cpus.Length} CPUs ({string.Join(", ", trace.Cpus)}); each replays on a vCPU of its own, so at least {trace.Cpus.Length} are needed"));
        if (t.Device.Length > 0 && s.Devices.Length > 0 && !s.Devices.Any(d => d.Name == t.Device))
            problems.Add(new ConfigProblem(configFile, "hviommu.workload.trace-device", t.Device, "no such device; defined: " + string.Join(", ", s.Devices.Select(d => d.Name))));
        var width = HvIommu.Model.Driver.TableDepth.For(s).Width;
        if (trace.Events.FirstOrDefault(e => e.End > 1UL << width) is { Size: > 0 } wide)
            problems.Add(new ConfigProblem(t.File, $"line {wide.Line}", "", $"iova range 0x{wide.Iova:x} - 0x{wide.End:x} does not fit the {width}-bit IOVA space (hviommu.iommu.max-iova-width, clamped to 48 bits without the s1-5lvl capability)"));
    }

    /// <summary>Parses a trace named on the command line; errors become bad input naming the option.</summary>
    private static FtraceTrace Parse(string path, string option)
    {
        if (!File.Exists(path))
            throw new ConfigException([new ConfigProblem(path, option, path, "no such file")]);
        try
        {
            return FtraceCache.Get(path);
        }
        catch (TraceFormatException e)
        {
            throw new ConfigException([new ConfigProblem(e.File, $"line {e.Line}", "", e.Problem)]);
        }
        catch (IOException e)
        {
            throw new ConfigException([new ConfigProblem(path, option, "", "cannot be read: " + e.Message)]);
        }
    }

    private static string Quote(string s) => "\"" + s.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";
}
