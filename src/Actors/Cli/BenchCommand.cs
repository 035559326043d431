using System.Globalization;
using System.Text.Json;
using Akka.Actor;
using Akka.Configuration;
using HvIommu.Actors.Bench;
using HvIommu.Actors.Configuration;
using HvIommu.Actors.Logging;
using HvIommu.Actors.Simulation;

namespace HvIommu.Actors.Cli;

/// <summary>
/// <c>bench</c>: the performance figures of DESIGN.md §4, measured side by side in one process — raw
/// Akka.NET ping-pong on the stress dispatcher, then the default stress topology with the oracle on —
/// reported as a ratio so the machine's speed cancels out.
/// </summary>
public sealed class BenchCommand : ICommand
{
    public string Name => "bench";

    public string Summary => "performance figures: stress messages/s against raw Akka ping-pong, DMA/s";

    public string Usage => """
        usage: bench [--config FILE] [--ops N] [--json]

          --config FILE   the stress topology to measure (default: the embedded default.conf)
          --ops N         guest operations in the measured stress run (default 200000)
          --json          print {"stress":{"rawAkkaMessagesPerSecond":…,"messagesPerSecond":…,"ratio":…,"dmaPerSecond":…}}
        """;

    public int Run(ArgReader args, TextWriter stdout, TextWriter stderr)
    {
        var configPath = args.Option("--config");
        var ops = args.Int64("--ops", 1, long.MaxValue) ?? 200_000;
        var json = args.Flag("--json");
        args.EnsureAllConsumed();
        var config = SimConfig.Load(configPath, [$"hviommu.run.ops = {ops.ToString(CultureInfo.InvariantCulture)}", "hviommu.run.duration = 10m"]);
        SimLogging.Configure(verbose: false);

        var raw = MeasureRawAkka(config);
        if (!json)
            stdout.WriteLine($"raw Akka ping-pong on {config.Settings.Run.Dispatcher}: {raw.MessagesPerSecond:N0} messages/s ({raw.Messages:N0} in {raw.Seconds:0.00} s)");

        var result = StressRunner.Run(config, RunCommand.Reproduce(configPath, config.Settings.Seed, ops), progress: null, verbose: false);
        var stats = result.Report.Stats;
        var messagesPerSecond = stats.MessagesDelivered / stats.WallSeconds;
        var dmaPerSecond = stats.DmaTransactions / stats.WallSeconds;
        var ratio = messagesPerSecond / raw.MessagesPerSecond;
        if (json)
        {
            stdout.WriteLine(JsonSerializer.Serialize(new
            {
                stress = new
                {
                    rawAkkaMessagesPerSecond = Math.Round(raw.MessagesPerSecond),
                    messagesPerSecond = Math.Round(messagesPerSecond),
                    ratio = Math.Round(ratio, 4),
                    dmaPerSecond = Math.Round(dmaPerSecond),
                    operations = stats.Unmaps,
                    violations = result.Report.Violations.Count,
                },
            }));
        }
        else
        {
            stdout.WriteLine($"stress run of {config.File}: {stats.MessagesDelivered:N0} messages, {stats.DmaTransactions:N0} DMA in {stats.WallSeconds:0.00} s");
            stdout.WriteLine($"  messages/s {messagesPerSecond:N0} = {ratio:P1} of raw Akka; DMA transactions/s {dmaPerSecond:N0}; violations {result.Report.Violations.Count}");
        }
        return result.Failure is null ? ExitCodes.Matched : ExitCodes.SimulatorFailure;
    }

    /// <summary>Ping-pong with as many pairs as the topology has vCPUs and devices, and a few messages in
    /// flight per pair, like the simulation's own traffic; on the same dispatcher, after a warm-up.</summary>
    private static PingPongResult MeasureRawAkka(LoadedConfig config)
    {
        var akka = ConfigurationFactory.ParseString(SimLogging.AkkaLoggingHocon(false)).WithFallback(config.Merged);
        using var system = ActorSystem.Create("bench", akka);
        var pairs = Math.Max(2, config.Settings.Vm.Vcpus + config.Settings.Devices.Length);
        var dispatcher = config.Settings.Run.Dispatcher;
        PingPongBenchmark.Measure(system, dispatcher, pairs, 4, 20_000);
        var result = PingPongBenchmark.Measure(system, dispatcher, pairs, 4, 2_000_000);
        system.Terminate().Wait(TimeSpan.FromSeconds(10));
        return result;
    }
}
