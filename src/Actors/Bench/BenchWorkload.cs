using System.Collections.Immutable;
using System.Globalization;
using System.Text.Json.Serialization;
using HvIommu.Actors.Configuration;
using HvIommu.Model.Settings;
using HvIommu.Model.Text;

namespace HvIommu.Actors.Bench;

/// <summary>
/// What <c>bench</c>'s stress figures measured: the topology and workload of its stress run (and of its controlled-steps
/// run, the same topology in deterministic mode), so that figures taken before and after a change of the default topology
/// are not compared as if they measured the same thing. Built from the loaded config, before the run; <c>bench --json</c>
/// prints it as <c>stress.workload</c>, its properties in camel case.
/// </summary>
/// <param name="Config">Where the topology came from: the file given with <c>--config</c>, or <c>default.conf (embedded)</c>.</param>
/// <param name="Mode">The run mode of the measured run: always <c>stress</c> (the steps figure reruns the topology deterministically).</param>
/// <param name="DmaMode">The driver's unmap mode (<c>driver.dma-mode</c>): <c>strict</c> or <c>lazy</c>.</param>
/// <param name="Vcpus">vCPU actors running the workload (<c>vm.vcpus</c>).</param>
/// <param name="Devices">Assigned devices (<c>devices</c>), each an actor.</param>
/// <param name="Domains">Device domains (<c>domains</c>).</param>
/// <param name="Ops">Guest operations (map → DMA → unmap) the stress run was asked for (<c>--ops</c>).</param>
/// <param name="BufferPages">Every buffer's size in 4 KiB pages (<c>workload.buffer-pages</c>); 0 when sizes are drawn from <paramref name="BufferSizes"/>.</param>
/// <param name="BufferSizes">The buffer-size mix drawn from when <paramref name="BufferPages"/> is 0 (<c>workload.buffer-sizes</c>, as written: <c>4K</c>, <c>8K-64K</c>, <c>2M</c>); empty otherwise.</param>
/// <param name="DmaPerOp">DMA transactions per operation (<c>workload.dma-per-op</c>).</param>
/// <param name="DmaBytes">Bytes per DMA transaction (<c>workload.dma-bytes</c>).</param>
/// <param name="OutstandingPerVcpu">Operations in flight per vCPU (<c>workload.outstanding-per-vcpu</c>).</param>
/// <param name="Dispatcher">The Akka dispatcher of the stress run and of the raw ping-pong (<c>run.dispatcher</c>).</param>
public sealed record BenchWorkload(
    string Config,
    string Mode,
    string DmaMode,
    int Vcpus,
    int Devices,
    int Domains,
    long Ops,
    int BufferPages,
    ImmutableArray<string> BufferSizes,
    int DmaPerOp,
    int DmaBytes,
    int OutstandingPerVcpu,
    string Dispatcher)
{
    /// <summary>The workload <paramref name="config"/> (with bench's overrides applied) describes.</summary>
    public static BenchWorkload Of(LoadedConfig config)
    {
        var s = config.Settings;
        var w = s.Workload;
        return new BenchWorkload(
            config.File,
            ConfigWords.Name(ConfigWords.Mode, RunMode.Stress),
            ConfigWords.Name(ConfigWords.DmaMode, s.Driver.DmaMode),
            s.Vm.Vcpus,
            s.Devices.Length,
            s.Domains.Length,
            s.Run.Ops,
            w.BufferPages,
            w.BufferPages > 0 ? [] : [.. w.BufferSizes.Select(r => r.ToString())],
            w.DmaPerOp,
            w.DmaBytes,
            w.OutstandingPerVcpu,
            s.Run.Dispatcher);
    }

    /// <summary>The buffers in words: "1 page each" or "sizes drawn from [4K, 4K, 4K, 8K-64K, 2M]".</summary>
    [JsonIgnore]
    public string Buffers => BufferPages > 0
        ? $"{Counted.Of(BufferPages, "page")} each"
        : $"sizes drawn from [{string.Join(", ", BufferSizes)}]";

    /// <summary>One line: config, mode, vCPUs, devices, domains, operations, buffers, DMA per operation, dispatcher.</summary>
    public string Describe() =>
        $"workload measured: {Config}; {Mode} mode, dma-mode {DmaMode}; {Counted.Of(Vcpus, "vCPU")}, {Counted.Of(Devices, "device")} in {Counted.Of(Domains, "domain")}; "
        + $"{Counted.Of(Ops, "operation")}, buffers of {Buffers}, {DmaPerOp.ToString(CultureInfo.InvariantCulture)} DMA of {DmaBytes.ToString(CultureInfo.InvariantCulture)} bytes per operation, "
        + $"{OutstandingPerVcpu.ToString(CultureInfo.InvariantCulture)} outstanding per vCPU; dispatcher {Dispatcher}";
}
