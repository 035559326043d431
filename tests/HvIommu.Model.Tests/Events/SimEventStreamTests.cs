using System.Collections.Immutable;
using HvIommu.Model.Events;
using HvIommu.Model.Iommu;
using HvIommu.Model.Mappings;
using HvIommu.Model.Oracle;
using HvIommu.Model.Tests.Iommu;

namespace HvIommu.Model.Tests.Events;

/// <summary>The run's one event stream: fan-out in subscription order, the translator's walks reach the oracle only
/// through it, and emitting (to the oracle as well) allocates nothing in steady state.</summary>
[Trait("Category", "Model")]
public sealed class SimEventStreamTests
{
    private const ulong Iova = 0x4000_0000;

    /// <summary>Keeps the last walk; with a list, also names every event it sees (allocating).</summary>
    private sealed class Recorder(string name, List<string>? seen = null) : ISimEventSink
    {
        public SimEvent? LastWalk;

        public void On(in SimEvent e)
        {
            seen?.Add($"{name}:{e.Kind}");
            if (e.Kind == SimEventKind.Walked)
                LastWalk = e;
        }
    }

    /// <summary>Counts events by kind without allocating (an array, preallocated).</summary>
    private sealed class Counter : ISimEventSink
    {
        public readonly long[] ByKind = new long[Enum.GetValues<SimEventKind>().Length];

        public void On(in SimEvent e) => Interlocked.Increment(ref ByKind[(int)e.Kind]);
    }

    /// <summary>A flush starts in the IOMMU as the flush handler starts one: numbered, then emitted.</summary>
    private static long Start(IommuRig rig, FlushSequence flushes, long nowNs)
    {
        var seq = flushes.Next(IommuRig.DomainId);
        rig.Events.On(SimEvent.FlushStarted(IommuRig.DomainId, seq, null, seq, "flush-handler", nowNs));
        return seq;
    }

    [Fact]
    public void Every_subscriber_sees_every_event_in_subscription_order()
    {
        var seen = new List<string>();
        var stream = new SimEventStream();
        stream.Subscribe(new Recorder("a", seen));
        stream.Subscribe(new Recorder("b", seen));

        stream.On(SimEvent.FlushStarted(3, 1, null, 1, "flush-handler", 10));
        stream.On(SimEvent.FlushCompleted(3, 1, null, "flush-handler", 20));

        Assert.Equal(["a:FlushStarted", "b:FlushStarted", "a:FlushCompleted", "b:FlushCompleted"], seen);
    }

    [Fact]
    public void The_translator_emits_its_walks_and_the_oracle_judges_them_from_the_stream()
    {
        var rig = new IommuRig().WithPagingDomain();
        var walks = new Recorder("walks");
        rig.Events.Subscribe(walks);
        rig.MapBuffer(Iova);

        Assert.True(rig.Translate(rig.Nic, Iova).Ok);

        var walk = walks.LastWalk!.Value;
        Assert.Equal(IommuRig.DomainId, walk.Domain);
        Assert.Equal(Iova, walk.Translation.Iova);
        Assert.Equal(4, walk.Chain.Length);
        Assert.Equal("nic", walk.Source);

        // The oracle, subscribed to the same stream, judges a walk through a table page that has been freed (H1).
        rig.Frames.Free(walk.Chain[^1].TableGpa);
        rig.Events.On(walk);
        Assert.Equal(1, rig.Log.Count(ViolationKind.WalkThroughFreedTable));
    }

    [Fact]
    public void A_flush_started_in_the_iommu_numbers_the_flush_the_oracle_judges_against()
    {
        var rig = new IommuRig().WithPagingDomain();
        var flushes = new FlushSequence();
        var record = rig.MapBuffer(Iova);
        var early = Start(rig, flushes, 5);
        rig.Unmap(record);
        rig.Events.On(SimEvent.FlushCompleted(IommuRig.DomainId, early, null, "flush-handler", 20));
        Assert.Equal(MappingState.Unmapped, record.State);

        var late = Start(rig, flushes, 30);
        rig.Events.On(SimEvent.FlushCompleted(IommuRig.DomainId, late, null, "flush-handler", 40));

        Assert.Equal((1L, 2L), (early, late));
        Assert.Equal(MappingState.Flushed, record.State);
        Assert.Equal(late, record.FlushedBySeq);
    }

    /// <summary>
    /// One map → unmap → flush cycle as the run emits it (written, clearing, cleared, walk, flush started, flush
    /// completed, released), with the oracle and a counter subscribed: after warm-up, thousands of cycles allocate
    /// not one byte on this thread. The events are structs passed by reference, and the oracle's bookkeeping reuses
    /// its lists.
    /// </summary>
    [Fact]
    public void Emitting_to_the_oracle_and_a_counter_allocates_nothing()
    {
        var rig = new IommuRig().WithPagingDomain();
        var walks = new Recorder("walks");
        rig.Events.Subscribe(walks);
        var counter = new Counter();
        rig.Events.Subscribe(counter);
        var flushes = new FlushSequence();
        var record = rig.MapBuffer(Iova);
        Assert.True(rig.Translate(rig.Nic, Iova).Ok);
        var walk = walks.LastWalk!.Value;
        ISimEventSink stream = rig.Events;

        // Bytes allocated on this thread by each step of the cycle, so that a failure names the event that allocated.
        var bytes = new long[7];
        var names = new[] { "MappingWritten", "Walked", "MappingClearing", "MappingCleared", "FlushStarted", "FlushCompleted", "MappingReleased" };
        var measure = false;
        var mark = 0L;
        void Step(int i)
        {
            var now = GC.GetAllocatedBytesForCurrentThread();
            if (measure)
                bytes[i] += now - mark;
            mark = GC.GetAllocatedBytesForCurrentThread();
        }

        void Cycle(long t)
        {
            mark = GC.GetAllocatedBytesForCurrentThread();
            stream.On(SimEvent.MappingWritten(record, "vcpu0", t));
            Step(0);
            stream.On(walk);
            Step(1);
            stream.On(SimEvent.MappingClearing(record, queued: true, "vcpu0", t + 1));
            Step(2);
            stream.On(SimEvent.MappingCleared(record, "vcpu0", t + 2));
            Step(3);
            var seq = Start(rig, flushes, t + 3);
            Step(4);
            stream.On(SimEvent.FlushCompleted(IommuRig.DomainId, seq, null, "flush-handler", t + 4));
            Step(5);
            stream.On(SimEvent.MappingReleased(record, "vcpu0", t + 5));
            Step(6);
        }

        for (var i = 0; i < 200; i++)
            Cycle(i * 10);
        measure = true;
        // Steady state: a round of 5,000 cycles that allocates nothing. Up to three rounds, because the runtime's
        // tiered compilation may promote a method mid-round (on a loaded machine, late) and allocate while doing so;
        // an allocation made by the events themselves recurs every round and fails all three.
        var rounds = 0;
        do
        {
            Array.Clear(bytes);
            for (var i = 0; i < 5_000; i++)
                Cycle(i * 10);
            rounds++;
        }
        while (rounds < 3 && bytes.Any(b => b != 0));

        Assert.True(bytes.All(b => b == 0), "bytes allocated by 5,000 events of each kind, in each of 3 rounds (the last shown): "
            + string.Join(", ", names.Zip(bytes, (n, b) => $"{n} {b}")));
        Assert.Equal(200 + 5_000 * rounds, counter.ByKind[(int)SimEventKind.FlushCompleted]);
        Assert.Equal(MappingState.Flushed, record.State);
        Assert.Equal(0, rig.Log.Total);
    }
}
