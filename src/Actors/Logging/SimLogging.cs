using Serilog;
using Serilog.Core;
using Serilog.Events;
using Serilog.Formatting.Display;

namespace HvIommu.Actors.Logging;

/// <summary>
/// The run's logging set-up: one Serilog logger for the simulator and for Akka's own events (through
/// Akka.Logger.Serilog's logger actor), writing to standard error so standard output stays clean for JSON and
/// summaries. A simulation actor's event carries the run's clock (<see cref="SimLogger"/>), shown as
/// <c>t=… ns</c>. An exception is one line (its type and first message line) unless verbose, which adds the
/// stack trace.
/// </summary>
public static class SimLogging
{
    /// <summary>The output template with <c>--verbose</c>: time, level, run clock, message, and the exception with its stack trace.</summary>
    public const string VerboseTemplate = "[{Timestamp:HH:mm:ss.fff} {Level:u3}] {SimTime}{Message:lj}{NewLine}{Exception}";

    /// <summary>The output template otherwise: the exception shortened to one line (<see cref="CauseProperty"/>).</summary>
    public const string OutputTemplate = "[{Timestamp:HH:mm:ss.fff} {Level:u3}] {SimTime}{Message:lj}{Cause}{NewLine}";

    /// <summary>The property holding an exception in one line: <c>" (Type: first message line; --verbose shows the stack trace)"</c>.</summary>
    public const string CauseProperty = "Cause";

    /// <summary>Log events of Akka's own start and stop that every run produces: noise unless verbose.</summary>
    private static readonly string[] Routine = ["CoordinatedShutdown invoked", "SerilogLogger started"];

    /// <summary>
    /// Akka.Remote's warning when a TCP channel closes after its transport's shutdown has already emptied the connection
    /// group (Akka.Remote.Transport.DotNetty, <c>TcpHandlers.ChannelInactive</c>): a race every cluster node's shutdown
    /// can lose, whatever the order, and nothing the run did. Shown only with --verbose; every other warning still shows.
    /// </summary>
    private static readonly string[] ShutdownRaces = ["Unable to REMOVE channel"];

    /// <summary>
    /// Builds the global Serilog logger (<see cref="Log.Logger"/>) and returns it: Information and
    /// above, Debug with <paramref name="verbose"/>; to <paramref name="sink"/> when given, else to
    /// standard error.
    /// </summary>
    public static ILogger Configure(bool verbose, TextWriter? sink = null)
    {
        var configuration = new LoggerConfiguration()
            .MinimumLevel.Is(verbose ? LogEventLevel.Debug : LogEventLevel.Information)
            .Enrich.With(new RunClockEnricher(verbose))
            // Every run starts and ends its ActorSystem on purpose; Akka announces both at INFO, which is noise here.
            .Filter.ByExcluding(e => !verbose && Routine.Any(r => e.MessageTemplate.Text.StartsWith(r, StringComparison.Ordinal)))
            .Filter.ByExcluding(e => !verbose && IsShutdownRace(e))
            .Filter.ByExcluding(e => !verbose && _startupFailureReported && IsRemotingStartupFailure(e));
        var template = verbose ? VerboseTemplate : OutputTemplate;
        configuration = sink is null
            ? configuration.WriteTo.Console(
                outputTemplate: template,
                standardErrorFromLevel: LogEventLevel.Verbose,
                formatProvider: System.Globalization.CultureInfo.InvariantCulture)
            : configuration.WriteTo.Sink(new TextWriterSink(
                sink,
                new MessageTemplateTextFormatter(template, System.Globalization.CultureInfo.InvariantCulture)));
        var logger = configuration.CreateLogger();
        Log.Logger = logger;
        return logger;
    }

    /// <summary>
    /// What Akka.Remote logs, after the fact and from its own threads, when a node's transport cannot bind
    /// (<c>DotNettyTransport.Listen</c>, <c>Remoting.Start</c>, <c>EndpointManager</c>): the command has already said so in
    /// its one-line error (<see cref="ReportedRemotingStartupFailure"/>), so these follow it only with --verbose.
    /// </summary>
    private static readonly string[] RemotingStartupFailures = ["Failed to bind to", "Remoting error: ", "Remoting system has been terminated abruptly"];

    private static volatile bool _startupFailureReported;

    /// <summary>Called when a cluster node's ActorSystem could not start and the command reports why itself: from then
    /// on Akka.Remote's own lines about that failure (<see cref="RemotingStartupFailures"/>) are left to --verbose.</summary>
    public static void ReportedRemotingStartupFailure() => _startupFailureReported = true;

    /// <summary>True for one of Akka.Remote's lines about a transport that could not start.</summary>
    public static bool IsRemotingStartupFailure(LogEvent e) =>
        e.Level >= LogEventLevel.Warning && RemotingStartupFailures.Any(r => e.MessageTemplate.Text.StartsWith(r, StringComparison.Ordinal));

    /// <summary>True for a known shutdown-race warning of Akka's remoting (<see cref="ShutdownRaces"/>).</summary>
    public static bool IsShutdownRace(LogEvent e) =>
        e.Level == LogEventLevel.Warning && ShutdownRaces.Any(r => e.MessageTemplate.Text.StartsWith(r, StringComparison.Ordinal));

    /// <summary>The logger actor of Akka.Logger.Serilog, as <c>akka.loggers</c> names it.</summary>
    public static readonly string LoggerType = $"{typeof(Akka.Logger.Serilog.SerilogLogger).FullName}, {typeof(Akka.Logger.Serilog.SerilogLogger).Assembly.GetName().Name}";

    /// <summary>
    /// HOCON that routes Akka's logging through Akka.Logger.Serilog's logger actor at the matching level,
    /// silences Akka's own standard-output logger and replaces it by <see cref="AkkaFallbackLogger"/> (so nothing
    /// of Akka's ever reaches standard output, where --json goes), and keeps dead letters quiet (entirely at shutdown,
    /// where stopping actors always produce some; a few are shown with <paramref name="verbose"/>).
    /// </summary>
    public static string AkkaLoggingHocon(bool verbose) => $$"""
        akka {
          loggers = ["{{LoggerType}}"]
          loglevel = {{(verbose ? "DEBUG" : "INFO")}}
          stdout-loglevel = OFF
          stdout-logger-class = "{{AkkaFallbackLogger.TypeName}}"
          log-config-on-start = off
          log-dead-letters = {{(verbose ? 10 : 0)}}
          log-dead-letters-during-shutdown = off
          coordinated-shutdown.log-info = off
        }
        """;
}

/// <summary>
/// Renders what the output templates show beyond Serilog's own fields: <c>SimTime</c> ("t=12,100 ns " when the
/// event carries <see cref="SimLogger.SimTimeProperty"/>, else nothing) and, unless verbose, <c>Cause</c> (the
/// exception in one line).
/// </summary>
internal sealed class RunClockEnricher(bool verbose) : ILogEventEnricher
{
    public void Enrich(LogEvent logEvent, ILogEventPropertyFactory factory)
    {
        var time = logEvent.Properties.TryGetValue(SimLogger.SimTimeProperty, out var v) && v is ScalarValue { Value: long ns }
            ? $"t={ns.ToString("N0", System.Globalization.CultureInfo.InvariantCulture)} ns "
            : "";
        logEvent.AddPropertyIfAbsent(factory.CreateProperty("SimTime", time));
        if (!verbose)
            logEvent.AddPropertyIfAbsent(factory.CreateProperty(SimLogging.CauseProperty, logEvent.Exception is { } e ? $" ({e.GetType().Name}: {FirstLine(e.Message)}; --verbose shows the stack trace)" : ""));
    }

    private static string FirstLine(string s)
    {
        var n = s.IndexOf('\n', StringComparison.Ordinal);
        return n < 0 ? s : s[..n].TrimEnd();
    }
}
