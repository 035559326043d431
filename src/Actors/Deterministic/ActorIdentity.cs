using System.Reflection;
using Akka.Actor;
using Akka.Dispatch;

namespace HvIommu.Actors.Deterministic;

/// <summary>
/// Who a pending runnable belongs to: the actor's path without address (stable across processes), its hash,
/// and its ordinal, the order in which the driver first saw it during the current schedule. Ordinals, not
/// hash codes or thread-pool order, are what strategies and recorded schedules name. Ordinal 0 is the
/// virtual timer queue.
/// </summary>
public sealed class ActorIdentity
{
    internal ActorIdentity(string path)
    {
        Path = path;
        PathHash = TraceHash.Of(path);
    }

    public string Path { get; }

    /// <summary>The actor's own name, the last element of its path (vcpu0, hypervisor, device-nic): the trace's participant.</summary>
    public string Name => _name ??= Path[(Path.LastIndexOf('/') + 1)..];

    private string? _name;

    public ulong PathHash { get; }

    /// <summary>First-seen order in the current schedule (1, 2, …); valid while <see cref="Epoch"/> is current.</summary>
    public int Ordinal { get; internal set; }

    internal long Epoch { get; set; } = -1;

    /// <summary>
    /// Names the actor a runnable belongs to. A mailbox of the deterministic mailbox type knows its owner; any
    /// other mailbox is asked for its (internal) actor cell by reflection; anything else is named by its type.
    /// </summary>
    public static string Describe(IRunnable run)
    {
        if (run is Mailbox mailbox)
        {
            if (mailbox.MessageQueue is DeterministicMessageQueue { Owner: { } owner })
                return owner.Path.ToStringWithoutAddress();
            if (MailboxActorProperty?.GetValue(mailbox) is ActorCell cell)
                return cell.Self.Path.ToStringWithoutAddress();
        }
        return "runnable:" + run.GetType().Name;
    }

    private static readonly PropertyInfo? MailboxActorProperty =
        typeof(Mailbox).GetProperty("Actor", BindingFlags.Instance | BindingFlags.NonPublic);
}
