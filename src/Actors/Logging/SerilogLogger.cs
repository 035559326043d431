using Akka.Actor;
using Akka.Dispatch;
using Akka.Event;
using Serilog.Events;
using AkkaLogEvent = Akka.Event.LogEvent;

namespace HvIommu.Actors.Logging;

/// <summary>
/// Akka logger actor that bridges Akka's own log events (from <c>Context.GetLogger()</c>, the
/// dispatchers, the remoting layers) into Serilog. It forwards the raw message template and its
/// arguments, so a simulation event logged as <c>"Flush {FlushId} of domain {DomainId} completed"</c>
/// keeps <c>FlushId</c> and <c>DomainId</c> as named Serilog properties, and adds the Akka
/// <c>LogSource</c> and <c>Thread</c> as context properties. Enabled by
/// <see cref="SimLogging.AkkaLoggingHocon"/>.
/// </summary>
public sealed class SerilogLogger : ReceiveActor, IRequiresMessageQueue<ILoggerMessageQueueSemantics>
{
    private readonly Serilog.ILogger _logger;

    public SerilogLogger()
    {
        var setup = Context.System.Settings.Setup.Get<SerilogLoggerSetup>();
        _logger = setup.HasValue ? setup.Value.Logger : Serilog.Log.Logger;

        Receive<Error>(e => Write(LogEventLevel.Error, e));
        Receive<Warning>(e => Write(LogEventLevel.Warning, e));
        Receive<Info>(e => Write(LogEventLevel.Information, e));
        Receive<Debug>(e => Write(LogEventLevel.Debug, e));
        Receive<InitializeLogger>(_ => Sender.Tell(new LoggerInitialized()));
    }

    private void Write(LogEventLevel level, AkkaLogEvent e)
    {
        if (!_logger.IsEnabled(level))
            return;
        var logger = _logger
            .ForContext("LogSource", e.LogSource)
            .ForContext("Thread", e.Thread.ManagedThreadId);
        if (e.Message is LogMessage)
        {
            // The raw template and arguments: Serilog binds them to named properties itself.
            logger.Write(level, e.Cause, e.GetTemplate(), e.GetParameters().ToArray());
        }
        else
        {
            // A pre-formatted message may contain braces that are not a template.
            logger.Write(level, e.Cause, "{Message:l}", e.Message?.ToString() ?? string.Empty);
        }
    }
}
