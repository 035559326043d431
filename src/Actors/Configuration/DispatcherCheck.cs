using Akka.Configuration;

namespace HvIommu.Actors.Configuration;

/// <summary>
/// Checks the dispatchers a run will use before any actor starts, since Akka only reads a dispatcher's section
/// when an actor is first created on it — by then the run has begun and the error surfaces as a crash. Checked:
/// <c>hviommu.run.dispatcher</c> names a dispatcher section, and that section and Akka's default dispatcher have a
/// known <c>type</c> and <c>executor</c> and a whole-number <c>throughput</c> of at least 1.
/// </summary>
internal static class DispatcherCheck
{
    private static readonly string[] Types = ["Dispatcher", "PinnedDispatcher", "TaskDispatcher", "ForkJoinDispatcher", "SynchronizedDispatcher", "ChannelDispatcher"];
    private static readonly string[] Executors = ["default-executor", "thread-pool-executor", "fork-join-executor", "task-executor", "channel-executor", "current-context-executor"];

    public static void Check(HoconReader r, string dispatcherId)
    {
        var merged = r.Merged;
        if (!IsSection(merged, dispatcherId))
            r.Problem("hviommu.run.dispatcher", dispatcherId, "no dispatcher section at this path; allowed: hviommu.stress-dispatcher, akka.actor.default-dispatcher, or the path of a section you define with type = Dispatcher");
        else
            CheckSection(r, dispatcherId);
        if (dispatcherId != "akka.actor.default-dispatcher")
            CheckSection(r, "akka.actor.default-dispatcher");
    }

    private static void CheckSection(HoconReader r, string path)
    {
        var merged = r.Merged;
        var type = Text(merged, path + ".type");
        if (type is not null && !Types.Contains(type) && !Loadable(type))
            r.Problem(path + ".type", type, "unknown dispatcher type; allowed: " + string.Join(", ", Types) + ", or a loadable \"Type, Assembly\"");
        var executor = Text(merged, path + ".executor");
        if (executor is not null && !Executors.Contains(executor) && !Loadable(executor))
            r.Problem(path + ".executor", executor, "unknown executor; allowed: " + string.Join(", ", Executors) + ", or a loadable \"Type, Assembly\"");
        var throughput = Text(merged, path + ".throughput");
        if (throughput is not null && (!int.TryParse(throughput, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var t) || t < 1))
            r.Problem(path + ".throughput", throughput, "expected a whole number of messages per actor turn, at least 1");
    }

    private static bool IsSection(Config merged, string path)
    {
        try
        {
            return merged.HasPath(path) && merged.GetValue(path).IsObject();
        }
        catch (Exception e) when (e is ConfigurationException or ArgumentException or FormatException)
        {
            return false;
        }
    }

    private static string? Text(Config merged, string path)
    {
        try
        {
            if (!merged.HasPath(path))
                return null;
            var v = merged.GetValue(path);
            return v.IsObject() || HoconReader.IsList(v) ? "(a section)" : v.GetString();
        }
        catch (Exception e) when (e is ConfigurationException or ArgumentException or FormatException)
        {
            return null;
        }
    }

    private static bool Loadable(string typeName)
    {
        try
        {
            return Type.GetType(typeName, throwOnError: false) is not null;
        }
        catch (Exception e) when (e is ArgumentException or IOException or BadImageFormatException or TypeLoadException)
        {
            return false;
        }
    }
}
