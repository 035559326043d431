using System.CommandLine;
using Akka.Actor;
using HvIommu.Actors.Cli;
using HvIommu.Actors.Logging;

namespace HvIommu.Actors.Cluster;

/// <summary>
/// <c>worker --join HOST:PORT</c>: joins the Akka.Cluster of an <c>explore</c> or <c>sweep</c> coordinator and runs
/// its schedules on N explorer threads until the coordinator says the run is done. Everything it needs (the config
/// text, the seeds, the strategy) comes from the coordinator; results go back to it.
/// </summary>
public sealed class WorkerCommand : CliCommand
{
    private readonly Option<string> _join = new("--join") { Description = "the coordinator (explore or sweep started with --cluster-listen HOST:PORT)", HelpName = "HOST:PORT", Required = true };
    private readonly Option<long?> _parallel = CommonOptions.Int64("--parallel", "explorer threads (default: all cores)", 1, 256);
    private readonly Option<string?> _listen = new("--listen")
    {
        Description = "this worker's own address, which the coordinator must be able to reach (default: 127.0.0.1:0 when joining a loopback address, else this machine's name:0; port 0 takes any free port)",
        HelpName = "HOST:PORT",
    };
    private readonly Option<TimeSpan?> _joinTimeout = CommonOptions.Duration("give up (exit 2) when not a member after T (default hviommu.cluster.join-timeout, 20s)", "--join-timeout");

    public override string Name => "worker";

    public override int Order => 90;

    public override string Description => "Joins an Akka.Cluster as an exploring node of an explore/sweep coordinator; needs no files (the coordinator sends the configuration, seeds and strategy, and writes the reports). "
        + "Exit codes: 0 the run finished, 2 bad input or the cluster could not be joined in time, 3 the coordinator was lost or an explorer crashed.";

    protected override IEnumerable<Symbol> Symbols() => [_join, _parallel, _listen, _joinTimeout];

    public override int Execute(ParseResult parse, CliContext cli)
    {
        var stdout = cli.Out;
        var stderr = cli.Error;
        var joinText = parse.GetValue(_join)!;
        var parallel = (int)(parse.GetValue(_parallel) ?? Environment.ProcessorCount);
        var listenText = parse.GetValue(_listen);
        var joinTimeout = parse.GetValue(_joinTimeout);
        var join = ClusterAddress.Parse("--join", joinText);
        var listen = listenText is not null
            ? ClusterAddress.Parse("--listen", listenText, allowAnyPort: true)
            : new ClusterAddress(join.IsLoopback ? "127.0.0.1" : System.Net.Dns.GetHostName(), 0);
        var settings = ClusterSettings.From(null);
        if (joinTimeout is { } t)
            settings = settings with { JoinTimeout = t };
        SimLogging.Configure(verbose: false);

        var system = ClusterSystem.Start(settings, listen, join);
        try
        {
            if (!ClusterSystem.WaitUntilUp(system, settings.JoinTimeout))
            {
                stderr.WriteLine($"error: --join {join}: could not join a cluster there within {settings.JoinTimeout.TotalSeconds:0.#} s (--join-timeout): is explore/sweep running with --cluster-listen {join}, and can this machine reach it?");
                return ExitCodes.BadInput;
            }
            var self = Akka.Cluster.Cluster.Get(system).SelfAddress;
            stdout.WriteLine($"worker: joined {join} as {self}, {parallel} explorer thread(s)");
            var done = new TaskCompletionSource<(int Code, string Why)>(TaskCreationOptions.RunContinuationsAsynchronously);
            var path = ActorPath.Parse(join.AkkaAddress + "/user/coordinator");
            Action<int, string> finish = (code, why) => done.TrySetResult((code, why));
            system.ActorOf(Props.Create(() => new WorkerActor(path, parallel, finish, stdout, settings.JoinTimeout)), "worker");
            system.WhenTerminated.ContinueWith(_ => done.TrySetResult((ExitCodes.SimulatorFailure, "this worker's actor system stopped (downed by the coordinator?)")), TaskScheduler.Default);
            var (code, why) = done.Task.GetAwaiter().GetResult();
            (code == 0 ? stdout : stderr).WriteLine(code == 0 ? $"worker: {why}" : $"error: {why}");
            return code;
        }
        finally
        {
            ClusterSystem.Shutdown(system);
        }
    }
}
