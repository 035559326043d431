using Serilog;
using Serilog.Events;
using Serilog.Formatting.Display;

namespace HvIommu.Actors.Logging;

/// <summary>
/// The run's logging set-up: one Serilog logger for the simulator and for Akka's own events (through
/// <see cref="SerilogLogger"/>), writing to standard error so standard output stays clean for JSON and
/// summaries.
/// </summary>
public static class SimLogging
{
    /// <summary>The output template: time, level, message, and the exception if any.</summary>
    public const string OutputTemplate = "[{Timestamp:HH:mm:ss.fff} {Level:u3}] {Message:lj}{NewLine}{Exception}";

    /// <summary>
    /// Builds the global Serilog logger (<see cref="Log.Logger"/>) and returns it: Information and
    /// above, Debug with <paramref name="verbose"/>; to <paramref name="sink"/> when given, else to
    /// standard error.
    /// </summary>
    public static ILogger Configure(bool verbose, TextWriter? sink = null)
    {
        var configuration = new LoggerConfiguration()
            .MinimumLevel.Is(verbose ? LogEventLevel.Debug : LogEventLevel.Information)
            // Every run ends its ActorSystem on purpose; Akka announces that at INFO, which is noise here.
            .Filter.ByExcluding(e => !verbose && e.MessageTemplate.Text.StartsWith("CoordinatedShutdown invoked", StringComparison.Ordinal));
        configuration = sink is null
            ? configuration.WriteTo.Console(
                outputTemplate: OutputTemplate,
                standardErrorFromLevel: LogEventLevel.Verbose,
                formatProvider: System.Globalization.CultureInfo.InvariantCulture)
            : configuration.WriteTo.Sink(new TextWriterSink(
                sink,
                new MessageTemplateTextFormatter(OutputTemplate, System.Globalization.CultureInfo.InvariantCulture)));
        var logger = configuration.CreateLogger();
        Log.Logger = logger;
        return logger;
    }

    /// <summary>
    /// HOCON that routes Akka's logging through <see cref="SerilogLogger"/> at the matching level,
    /// silences Akka's own standard-output logger and keeps dead letters quiet (entirely at shutdown,
    /// where stopping actors always produce some; a few are shown with <paramref name="verbose"/>).
    /// </summary>
    public static string AkkaLoggingHocon(bool verbose) => $$"""
        akka {
          loggers = ["{{typeof(SerilogLogger).FullName}}, {{typeof(SerilogLogger).Assembly.GetName().Name}}"]
          loglevel = {{(verbose ? "DEBUG" : "INFO")}}
          stdout-loglevel = OFF
          log-config-on-start = off
          log-dead-letters = {{(verbose ? 10 : 0)}}
          log-dead-letters-during-shutdown = off
          coordinated-shutdown.log-info = off
        }
        """;
}
