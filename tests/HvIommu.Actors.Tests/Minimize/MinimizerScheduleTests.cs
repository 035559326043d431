using HvIommu.Actors.Minimize;
using System.Collections.Immutable;
using HvIommu.Actors.Configuration;
using HvIommu.Actors.Deterministic;
using HvIommu.Actors.Simulation;

namespace HvIommu.Actors.Tests.Minimize;

/// <summary>The minimizer's pure parts: the default schedule, deviation sets and the config shape's overlay.</summary>
[Trait("Category", "Model")]
public sealed class MinimizerScheduleTests
{
    [Fact]
    public void The_default_runs_the_lowest_ordinal_actor_and_a_timer_only_when_nothing_else_is_ready()
    {
        Assert.Equal(0, MinimizerSchedule.DefaultIndex([0]));
        Assert.Equal(1, MinimizerSchedule.DefaultIndex([0, 2, 5]));
        Assert.Equal(0, MinimizerSchedule.DefaultIndex([2, 5]));
    }

    [Fact]
    public void A_recorded_deviation_set_replays_the_same_choices_and_a_missing_actor_falls_back_to_the_default()
    {
        var recorder = new DeviationRecorder(new ReplayStrategy([5, 2, 0]));
        Assert.Equal(1, recorder.Choose([2, 5], 0));
        Assert.Equal(0, recorder.Choose([2, 5], 1));
        Assert.Equal(0, recorder.Choose([0, 2], 2));
        Assert.Equal(new Dictionary<long, int> { [0] = 5, [2] = 0 }, recorder.Deviations);

        var replay = new DefaultFallbackStrategy(recorder.Deviations);
        Assert.Equal(1, replay.Choose([2, 5], 0));
        Assert.Equal(0, replay.Choose([2, 5], 1));
        Assert.Equal(0, replay.Choose([0, 2], 2));
        Assert.Equal(0, replay.Choose([3, 4], 0));
        Assert.Equal(1, new DefaultFallbackStrategy(ImmutableSortedDictionary<long, int>.Empty).Choose([0, 7], 9));
    }

    [Fact]
    public void Every_reduction_of_a_scenario_shape_is_smaller_and_its_overlay_loads()
    {
        var file = MinimizeFixture.Scenario("h2-free-iova-wrong");
        var text = File.ReadAllText(file);
        var original = MinimizerShape.Of(SimConfig.Load(file).Settings);
        var reductions = original.Reductions().ToList();
        Assert.Contains(reductions, r => r.Description == "run.ops 5000 → 1");
        Assert.Contains(reductions, r => r.Description == "devices: keep only dev1");
        foreach (var r in reductions)
        {
            var loaded = SimConfig.Parse(text + "\n" + r.Shape.Overlay(original), file);
            var shape = MinimizerShape.Of(loaded.Settings);
            Assert.Equal(r.Shape.Describe(), shape.Describe());
            Assert.True(r.Shape.Devices.SequenceEqual(shape.Devices), r.Description);
            Assert.True(r.Shape.Domains.SequenceEqual(shape.Domains), r.Description);
        }
    }
}
