using Akka.Actor;
using Akka.Dispatch;
using HvIommu.Actors.Vcpu;

namespace HvIommu.Actors.Tests.Actors;

/// <summary>
/// The vCPU's held guest work (its stash): what reached the vCPU while it was blocked goes back to the front of its
/// mailbox in arrival order when it resumes, ahead of what arrives after, with each message's sender.
/// </summary>
[Trait("Category", "Actors")]
public sealed class VcpuHeldWorkSpec : ActorSpec
{
    private sealed record Resume;

    /// <summary>Holds every string while blocked; on <see cref="Resume"/> unblocks and returns them; reports each string
    /// it handles unblocked, with its sender's path, to <paramref name="report"/>.</summary>
    private sealed class Blockable : ReceiveActor, IRequiresMessageQueue<IUnboundedDequeBasedMessageQueueSemantics>
    {
        public Blockable(IActorRef report)
        {
            var held = new VcpuHeldWork(Context);
            var blocked = true;
            Receive<Resume>(_ =>
            {
                blocked = false;
                held.ReturnAllToMailbox();
                report.Tell(held.NonEmpty ? "still held" : "returned");
            });
            Receive<string>(s =>
            {
                if (blocked)
                    held.HoldCurrent();
                else
                    report.Tell($"{s} from {Sender.Path.Name}");
            });
        }
    }

    [Fact]
    public void Held_work_returns_ahead_of_later_messages_in_arrival_order_with_its_senders()
    {
        var report = CreateTestProbe();
        var (a, b) = (CreateTestProbe("a"), CreateTestProbe("b"));
        var actor = Sys.ActorOf(Props.Create(() => new Blockable(report)).WithDispatcher(Dispatcher));
        // One sending thread: the actor receives them in this order, holding the first three.
        actor.Tell("first", a);
        actor.Tell("second", b);
        actor.Tell("third", a);
        actor.Tell(new Resume());
        actor.Tell("fourth", b);

        report.ExpectMsg("returned");
        Assert.Equal(
            ["first from a", "second from b", "third from a", "fourth from b"],
            new[] { report.ExpectMsg<string>(), report.ExpectMsg<string>(), report.ExpectMsg<string>(), report.ExpectMsg<string>() });
    }
}
