using Akka.Actor;
using HvIommu.Actors.Deterministic;

namespace HvIommu.Actors.Tests.Deterministic;

[Trait("Category", "Actors")]
public sealed class DeterministicDriverTests : IDisposable
{
    private readonly DeterministicSystem _system = Deterministic.CreateSystem();

    public void Dispose() => _system.Dispose();

    [Fact]
    public void A_mailbox_run_delivers_exactly_one_user_message()
    {
        _system.Reset(1, new UniformRandomStrategy(1));
        var sink = _system.StartRun(Props.Create(() => new Sink()));
        for (var i = 0; i < 5; i++)
            sink.Tell(i);
        var deliveredPerStep = new List<int>();
        var delivered = 0;
        _system.Driver.DeliveryObserver = (_, _) => delivered++;
        while (true)
        {
            delivered = 0;
            var step = _system.DriveUntil(null, 1);
            if (step.Steps == 0)
                break;
            deliveredPerStep.Add(delivered);
        }
        Assert.All(deliveredPerStep, count => Assert.InRange(count, 0, 1));
        Assert.Equal(5, deliveredPerStep.Sum());
    }

    [Fact]
    public void Messages_told_from_another_thread_are_all_delivered_in_the_order_that_thread_sent_them()
    {
        // The driving thread's sends and any other thread's go to different queues of the mailbox (the first without a
        // lock): both must reach the actor, and each sender's messages keep their order.
        _system.Reset(1, new UniformRandomStrategy(1));
        var sink = _system.StartRun(Props.Create(() => new Sink()));
        var seen = new List<object>();
        _system.Driver.DeliveryObserver = (_, message) => seen.Add(message);
        sink.Tell("from the driving thread");
        var other = new Thread(() =>
        {
            for (var i = 0; i < 50; i++)
                sink.Tell(i);
        });
        other.Start();
        other.Join();
        sink.Tell("again from the driving thread");
        var result = _system.DriveUntil(null, 1_000);
        Assert.True(result.Quiescent);
        Assert.Equal(Enumerable.Range(0, 50), seen.OfType<int>());
        Assert.Equal(["from the driving thread", "again from the driving thread"], seen.OfType<string>());
        Assert.Equal(52, seen.Count);
    }

    [Fact]
    public void The_same_seed_gives_the_same_delivery_order_and_trace_hash()
    {
        var first = Deterministic.RunRelays(_system, 7);
        var second = Deterministic.RunRelays(_system, 7);
        Assert.True(first.Result.Done);
        Assert.True(first.Result.Deterministic);
        // 4 tokens × 7 deliveries each, one Peers each, and the host's CreateRun
        Assert.Equal(4 * 7 + 4 + 1, first.Deliveries.Count);
        Assert.Equal(first.Deliveries, second.Deliveries);
        Assert.Equal(first.Hash, second.Hash);
        Assert.Equal(first.Schedule.Choices, second.Schedule.Choices);
    }

    [Fact]
    public void Different_seeds_give_different_orders()
    {
        var hashes = Enumerable.Range(1, 8).Select(seed => Deterministic.RunRelays(_system, (ulong)seed).Hash).ToHashSet();
        Assert.True(hashes.Count >= 6, $"only {hashes.Count} distinct orders out of 8 seeds");
    }

    [Fact]
    public void The_trace_hash_of_a_fixed_workload_and_seed_is_pinned()
    {
        // A literal catches nondeterminism across processes, machines and runtime versions.
        Assert.Equal("7916d60db5dfb368", Deterministic.RunRelays(_system, 42).Hash.ToString("x16"));
    }

    [Fact]
    public void A_recorded_schedule_replays_to_the_same_trace()
    {
        var original = Deterministic.RunRelays(_system, 11, new PctStrategy(11, 3, 60));
        var file = ScheduleFile.Parse(original.Schedule.ToText());
        Assert.Equal(original.Schedule.Choices, file.Choices);
        Assert.Equal("pct depth=3 length=60", file.Strategy);
        var replay = Deterministic.RunRelays(_system, file.Seed, new ReplayStrategy(file));
        Assert.True(replay.Result.Deterministic);
        Assert.Equal(original.Hash, replay.Hash);
        Assert.Equal(original.Deliveries, replay.Deliveries);
    }

    [Fact]
    public void Replaying_a_tampered_schedule_reports_the_step_where_it_diverged()
    {
        var original = Deterministic.RunRelays(_system, 5);
        var choices = original.Schedule.Choices.ToArray();
        choices[20] = 999; // no actor has that ordinal
        var replay = Deterministic.RunRelays(_system, 5, new ReplayStrategy(choices));
        Assert.Equal(20, replay.Result.DivergedAtStep);
        Assert.False(replay.Result.Deterministic);
    }

    [Fact]
    public void Work_from_another_thread_trips_the_guard_and_names_the_actor()
    {
        _system.Reset(3, new UniformRandomStrategy(3));
        var piped = new Counter();
        var root = _system.StartRun(Props.Create(() => new PipingActor(piped)));
        // Let the child start first: a mailbox already scheduled is not handed to the executor again.
        Assert.True(_system.DriveUntil(null, 1_000).Quiescent);
        root.Tell("go");
        var result = _system.DriveUntil(() => piped.Value == 1, 1_000);
        Assert.True(result.GuardTrips > 0);
        Assert.Equal("/user/deterministic/run/target", result.GuardActor);
        Assert.False(result.Deterministic);
    }

    [Fact]
    public void Pct_finds_the_free_before_flush_race_within_ten_schedules_and_sooner_than_uniform_random()
    {
        static int SchedulesToFind(DeterministicSystem system, Func<ulong, IScheduleStrategy> strategy, int limit)
        {
            for (var seed = 1; seed <= limit; seed++)
            {
                var run = Deterministic.RunRace(system, (ulong)seed, strategy((ulong)seed));
                Assert.True(run.Result.Done, $"seed {seed}: {run.Result}");
                if (run.Violation)
                    return seed;
            }
            return int.MaxValue;
        }

        var pct = SchedulesToFind(_system, seed => new PctStrategy(seed, 1, 40), 10);
        var uniform = SchedulesToFind(_system, seed => new UniformRandomStrategy(seed), 1_000);
        Assert.True(pct <= 10, $"PCT needed {pct} schedules");
        Assert.True(uniform > pct, $"uniform random needed {uniform} schedules, PCT {pct}");
    }

    [Fact]
    public void A_race_found_by_pct_replays_from_its_schedule_file()
    {
        var seed = Enumerable.Range(1, 10).Select(s => (ulong)s)
            .First(s => Deterministic.RunRace(_system, s, new PctStrategy(s, 1, 40)).Violation);
        var found = Deterministic.RunRace(_system, seed, new PctStrategy(seed, 1, 40));
        var replay = Deterministic.RunRace(_system, seed, new ReplayStrategy(ScheduleFile.Parse(found.Schedule.ToText())));
        Assert.True(replay.Violation);
        Assert.Equal(found.Hash, replay.Hash);
    }
}
