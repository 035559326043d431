using System.Collections.Immutable;
using System.Globalization;
using System.Text;
using HvIommu.Model.Hazards;
using HvIommu.Model.Settings;

namespace HvIommu.Actors.Minimize;

/// <summary>A smaller configuration to try, and what was cut to get it (e.g. <c>vm.vcpus 4 → 1</c>).</summary>
public sealed record MinimizerReduction(string Description, MinimizerShape Shape);

/// <summary>
/// The part of a topology the minimizer shrinks: guest operations, vCPUs, the devices (expanded, one entry
/// per device, with their in-flight depth and ATS) and domains, and the workload's per-vCPU depth, DMA per
/// operation and buffer size. Everything else is the bug and stays: the hazard knobs of
/// <see cref="HazardRegistry"/> (<see cref="Bug"/> names those in force), faults and lifecycle events.
/// </summary>
public sealed record MinimizerShape(
    long Ops,
    int Vcpus,
    ImmutableArray<DeviceSpec> Devices,
    ImmutableArray<string> Domains,
    int OutstandingPerVcpu,
    int DmaPerOp,
    int BufferPages)
{
    public static MinimizerShape Of(SimSettings s) => new(
        s.Run.Ops, s.Vm.Vcpus, s.Devices, s.Domains.Select(d => d.Name).ToImmutableArray(),
        s.Workload.OutstandingPerVcpu, s.Workload.DmaPerOp, s.Workload.BufferPages);

    /// <summary>The hazard knobs in force, which no reduction touches: what makes the run fail.</summary>
    public static string Bug(SimSettings s)
    {
        var on = HazardRegistry.Active(s);
        return on.IsEmpty ? "no hazard knob is on" : string.Join("; ", on.Select(k => k.Describe(s)));
    }

    /// <summary>One line naming every dimension the minimizer shrinks.</summary>
    public string Describe() =>
        $"ops={Ops} vcpus={Vcpus} devices={Devices.Length} domains={Domains.Length} outstanding={OutstandingPerVcpu} dma-per-op={DmaPerOp} buffer-pages={BufferPages} in-flight=[{string.Join(",", Devices.Select(d => d.InFlight))}]";

    /// <summary>
    /// Every single-step reduction of this shape, most aggressive first within each dimension (to 1, then
    /// halved), in the order a greedy pass tries them: operations, vCPUs, devices, per-device depth and ATS,
    /// domains, then the workload's shape.
    /// </summary>
    public IEnumerable<MinimizerReduction> Reductions()
    {
        foreach (var v in Smaller(Ops))
            yield return new($"run.ops {Ops} → {v}", this with { Ops = v });
        foreach (var v in Smaller(Vcpus))
            yield return new($"vm.vcpus {Vcpus} → {v}", this with { Vcpus = (int)v });
        if (Devices.Length > 1)
        {
            for (var i = 0; i < Devices.Length; i++)
                yield return new($"devices: keep only {Devices[i].Name}", this with { Devices = [Devices[i]] });
            if (Devices.Length > 2)
                for (var i = 0; i < Devices.Length; i++)
                    yield return new($"devices: drop {Devices[i].Name}", this with { Devices = Devices.RemoveAt(i) });
        }
        for (var i = 0; i < Devices.Length; i++)
        {
            var d = Devices[i];
            foreach (var v in Smaller(d.InFlight))
                yield return new($"{d.Name}.in-flight {d.InFlight} → {v}", this with { Devices = Devices.SetItem(i, d with { InFlight = (int)v }) });
            if (d.Ats)
                yield return new($"{d.Name}.ats on → off", this with { Devices = Devices.SetItem(i, d with { Ats = false }) });
        }
        if (Domains.Length > 1)
            for (var i = 0; i < Domains.Length; i++)
                yield return new($"domains: drop {Domains[i]}", this with { Domains = Domains.RemoveAt(i) });
        foreach (var v in Smaller(OutstandingPerVcpu))
            yield return new($"workload.outstanding-per-vcpu {OutstandingPerVcpu} → {v}", this with { OutstandingPerVcpu = (int)v });
        foreach (var v in Smaller(DmaPerOp))
            yield return new($"workload.dma-per-op {DmaPerOp} → {v}", this with { DmaPerOp = (int)v });
        foreach (var v in Smaller(BufferPages))
            yield return new($"workload.buffer-pages {BufferPages} → {v}", this with { BufferPages = (int)v });
    }

    /// <summary>
    /// The HOCON lines that turn <paramref name="original"/> into this shape: run.ops always, the other keys
    /// only where they differ; the device and domain lists are written out whole (expanded, one entry each)
    /// when either changed, since a device names its domain.
    /// </summary>
    public string Overlay(MinimizerShape original)
    {
        var text = new StringBuilder();
        text.Append("hviommu.run.ops = ").Append(Ops.ToString(CultureInfo.InvariantCulture)).Append('\n');
        Line(text, "vm.vcpus", Vcpus, original.Vcpus);
        Line(text, "workload.outstanding-per-vcpu", OutstandingPerVcpu, original.OutstandingPerVcpu);
        Line(text, "workload.dma-per-op", DmaPerOp, original.DmaPerOp);
        Line(text, "workload.buffer-pages", BufferPages, original.BufferPages);
        if (!Domains.SequenceEqual(original.Domains) || !Devices.SequenceEqual(original.Devices))
        {
            text.Append("hviommu.domains = [ ").AppendJoin(", ", Domains.Select(d => $"{{ name = {Quote(d)} }}")).Append(" ]\n");
            text.Append("hviommu.devices = [\n");
            foreach (var d in Devices)
                text.Append("  ").Append(Device(d)).Append('\n');
            text.Append("]\n");
        }
        return text.ToString();
    }

    private static string Device(DeviceSpec d)
    {
        var behaviour = d.Behaviour == DeviceBehaviour.StaleReplay ? "stale-replay" : "well-behaved";
        return $"{{ name = {Quote(d.Name)}, domain = {Quote(d.Domain)}, ats = {(d.Ats ? "on" : "off")}, in-flight = {d.InFlight.ToString(CultureInfo.InvariantCulture)}, behaviour = {behaviour}, replay-probability = {d.ReplayProbability.ToString("R", CultureInfo.InvariantCulture)} }}";
    }

    private static void Line(StringBuilder text, string key, int value, int original)
    {
        if (value != original)
            text.Append("hviommu.").Append(key).Append(" = ").Append(value.ToString(CultureInfo.InvariantCulture)).Append('\n');
    }

    private static string Quote(string s) => "\"" + s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";

    /// <summary>1, then half of <paramref name="value"/> when that is still above 1.</summary>
    private static IEnumerable<long> Smaller(long value)
    {
        if (value > 1)
            yield return 1;
        if (value / 2 > 1)
            yield return value / 2;
    }
}
