using Akka.Actor;
using Akka.Actor.Setup;
using Akka.Configuration;
using Akka.Event;
using HvIommu.Actors.Logging;
using Serilog;
using Serilog.Events;

namespace HvIommu.Actors.Tests.Logging;

[Trait("Category", "Actors")]
public sealed class SerilogLoggerSpec : Akka.TestKit.Xunit2.TestKit
{
    private static readonly CollectingSink Sink = new();

    public SerilogLoggerSpec() : base(CreateSetup(), nameof(SerilogLoggerSpec))
    {
    }

    private static ActorSystemSetup CreateSetup()
    {
        var logger = new LoggerConfiguration().MinimumLevel.Debug().WriteTo.Sink(Sink).CreateLogger();
        var config = ConfigurationFactory.ParseString(SimLogging.AkkaLoggingHocon(verbose: false));
        return BootstrapSetup.Create().WithConfig(config).And(new SerilogLoggerSetup(logger));
    }

    private sealed class FlushLoggingActor : ReceiveActor
    {
        public FlushLoggingActor()
        {
            var log = Context.GetLogger();
            Receive<string>(_ =>
            {
                log.Debug("Filtered out at INFO level");
                log.Info("Flush {FlushId} of domain {DomainId} completed", 7, 3);
            });
        }
    }

    [Fact]
    public void Forwards_the_template_with_named_properties_and_context()
    {
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
        });
        Assert.DoesNotContain(Sink.Events, x => x.MessageTemplate.Text.Contains("Filtered out", StringComparison.Ordinal));
    }
}
