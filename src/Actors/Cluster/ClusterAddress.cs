using System.Globalization;
using System.Net;
using System.Net.Sockets;
using HvIommu.Actors.Cli;

namespace HvIommu.Actors.Cluster;

/// <summary>A <c>HOST:PORT</c> given on the command line (--cluster-listen, --join, --listen).</summary>
public sealed record ClusterAddress(string Host, int Port)
{
    /// <summary>The actor system name every node of an exploring cluster shares.</summary>
    public const string SystemName = "hviommu-cluster";

    /// <param name="option">The option it came from, for the message.</param>
    /// <param name="allowAnyPort">Port 0 (any free port) is allowed (a worker's own listen address).</param>
    /// <exception cref="UsageException">Not HOST:PORT, a port outside 1–65535, or a host name that does not resolve.</exception>
    public static ClusterAddress Parse(string option, string text, bool allowAnyPort = false)
    {
        var colon = text.LastIndexOf(':');
        var host = colon > 0 ? text[..colon].Trim('[', ']') : text;
        var portText = colon > 0 ? text[(colon + 1)..] : "";
        if (host.Length == 0 || !int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port < (allowAnyPort ? 0 : 1) || port > 65535)
            throw new UsageException($"{option} '{text}' is not HOST:PORT (e.g. 127.0.0.1:4053; port 1–65535{(allowAnyPort ? ", or 0 for any free port" : "")})");
        try
        {
            if (!IPAddress.TryParse(host, out _) && Dns.GetHostAddresses(host).Length == 0)
                throw new UsageException($"{option} '{text}': host '{host}' has no address");
        }
        catch (SocketException e)
        {
            throw new UsageException($"{option} '{text}': host '{host}' does not resolve ({e.Message})");
        }
        return new ClusterAddress(host, port);
    }

    public bool IsLoopback => Host == "localhost" || (IPAddress.TryParse(Host, out var ip) && IPAddress.IsLoopback(ip));

    /// <summary>The Akka address of the node listening here.</summary>
    public string AkkaAddress => $"akka.tcp://{SystemName}@{Host}:{Port.ToString(CultureInfo.InvariantCulture)}";

    public override string ToString() => $"{Host}:{Port.ToString(CultureInfo.InvariantCulture)}";
}
