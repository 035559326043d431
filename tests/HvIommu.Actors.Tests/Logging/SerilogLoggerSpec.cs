using Akka.Actor;
using Akka.Configuration;
using Akka.Event;
using HvIommu.Actors.Configuration;
using HvIommu.Actors.Logging;
using HvIommu.Actors.Runs;
using HvIommu.Model.Time;
using Serilog;
using Serilog.Events;

namespace HvIommu.Actors.Tests.Logging;

/// <summary>
/// Akka.Logger.Serilog writes to the global <see cref="Log.Logger"/>: the tests that replace it run alone, after the
/// parallel ones, so no other test's run sets it under them.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class GlobalSerilogCollection
{
    public const string Name = "global Serilog logger";
}

/// <summary>
/// Akka's log events through Akka.Logger.Serilog's logger actor: named properties survive, a simulation actor's
/// event carries the run's clock, and a crashing simulation actor is one line on standard error, not a stack trace.
/// </summary>
[Trait("Category", "Actors")]
[Collection(GlobalSerilogCollection.Name)]
public sealed class SerilogLoggerSpec : Akka.TestKit.Xunit2.TestKit
{
    private static readonly CollectingSink Sink = new();

    public SerilogLoggerSpec() : base(ConfigurationFactory.ParseString(SimLogging.AkkaLoggingHocon(verbose: false)), nameof(SerilogLoggerSpec))
    {
    }

    private sealed class FixedClock(long ns) : ISimClock
    {
        public long NowNs => ns;
    }

    private sealed class FlushLoggingActor : ReceiveActor
    {
        public FlushLoggingActor()
        {
            var log = Context.GetLogger();
            var sim = new SimLogger(Context, new FixedClock(12_345));
            Receive<string>(_ =>
            {
                log.Debug("Filtered out at INFO level");
                log.Info("Flush {FlushId} of domain {DomainId} completed", 7, 3);
                sim.Warning("{Vcpu}: flush of domain {DomainId} failed with {Status}", "vcpu0", 3, "HV_STATUS_INVALID_PARAMETER");
            });
        }
    }

    private static ILogger Collecting() => new LoggerConfiguration().MinimumLevel.Debug().WriteTo.Sink(Sink).CreateLogger();

    [Fact]
    public void Forwards_the_template_with_named_properties_context_and_the_run_clock()
    {
        Serilog.Log.Logger = Collecting();
        var actor = Sys.ActorOf(Props.Create(() => new FlushLoggingActor()), "flusher");
        actor.Tell("go");

        AwaitAssert(() =>
        {
            var e = Assert.Single(Sink.Events, x => x.MessageTemplate.Text.StartsWith("Flush ", StringComparison.Ordinal));
            Assert.Equal("Flush {FlushId} of domain {DomainId} completed", e.MessageTemplate.Text);
            Assert.Equal(LogEventLevel.Information, e.Level);
            Assert.Equal(7, ((ScalarValue)e.Properties["FlushId"]).Value);
            Assert.Equal(3, ((ScalarValue)e.Properties["DomainId"]).Value);
            Assert.Contains("flusher", ((ScalarValue)e.Properties["LogSource"]).Value as string, StringComparison.Ordinal);
            Assert.True(e.Properties.ContainsKey("Thread"));
            Assert.False(e.Properties.ContainsKey(SimLogger.SimTimeProperty));

            var sim = Assert.Single(Sink.Events, x => x.MessageTemplate.Text.StartsWith("{Vcpu}: flush", StringComparison.Ordinal));
            Assert.Equal(LogEventLevel.Warning, sim.Level);
            Assert.Equal(12_345L, ((ScalarValue)sim.Properties[SimLogger.SimTimeProperty]).Value);
            Assert.Equal("HV_STATUS_INVALID_PARAMETER", ((ScalarValue)sim.Properties["Status"]).Value);
        });
        Assert.DoesNotContain(Sink.Events, x => x.MessageTemplate.Text.Contains("Filtered out", StringComparison.Ordinal));
    }

    [Fact]
    public void A_crashing_simulation_actor_is_one_line_with_its_run_time_and_no_stack_trace()
    {
        var stderr = new StringWriter();
        SimLogging.Configure(verbose: false, stderr);
        // Too little guest memory for one buffer: the first dma_map throws inside a vCPU (validation would refuse
        // this config; the settings are shrunk past it to reach the runtime guard).
        var config = SimConfig.Parse("hviommu { vm { memory-mib = 4, vcpus = 1 }\n run.ops = 10 }", "small.conf");
        config = config with { Settings = config.Settings with { Workload = config.Settings.Workload with { BufferPages = 1024 } } };

        var result = StressRunner.Run(config, "hviommu run --config small.conf", progress: null, verbose: false);

        Assert.Equal(RunVerdict.SimulatorFailed, result.Verdict);
        var text = stderr.ToString();
        var line = Assert.Single(text.Split('\n'), l => l.Contains("Simulation actor failed", StringComparison.Ordinal));
        Assert.Matches(@"\[\d\d:\d\d:\d\d\.\d{3} ERR\] t=[\d,]+ ns Simulation actor failed \(GuestMemoryExhaustedException: .*hviommu\.vm\.memory-mib.*; --verbose shows the stack trace\)", line);
        Assert.DoesNotContain("   at ", text, StringComparison.Ordinal);
    }
}
