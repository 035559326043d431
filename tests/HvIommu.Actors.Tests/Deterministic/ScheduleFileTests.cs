using HvIommu.Actors.Deterministic;

namespace HvIommu.Actors.Tests.Deterministic;

/// <summary>The schedule file keeps the environment choices beside the step choices; version 1 files still load.</summary>
[Trait("Category", "Actors")]
public sealed class ScheduleFileTests
{
    [Fact]
    public void Values_and_choices_round_trip_and_wrap()
    {
        var values = Enumerable.Range(0, 40).Select(i => new ScheduleValue(i % 3, 3 + i % 2)).ToArray();
        var choices = Enumerable.Range(0, 70).Select(i => i % 5).ToArray();
        var file = new ScheduleFile(9, "pct depth=2 length=31", choices, values);
        var text = file.ToText();
        Assert.StartsWith("hviommu-schedule 3\n", text);
        Assert.Contains("\nvalues 0/3 1/4 2/3 ", text);
        var back = ScheduleFile.Parse(text);
        Assert.Equal(9UL, back.Seed);
        Assert.Equal("pct depth=2 length=31", back.Strategy);
        Assert.Equal(choices, back.Choices);
        Assert.Equal(values, back.EnvironmentChoices);
    }

    [Fact]
    public void A_version_2_file_loads_as_version_2_and_its_replay_times_the_replays_in_device_steps()
    {
        var back = ScheduleFile.Parse("hviommu-schedule 2\nseed 4\nstrategy random\nsteps 3\nvalues 1/2 3/7\nchoices 1 2 0\n");
        Assert.Equal(2, back.Version);
        Assert.Equal([new ScheduleValue(1, 2), new ScheduleValue(3, 7)], back.EnvironmentChoices);
        Assert.StartsWith("hviommu-schedule 2\n", back.ToText());
        IScheduleStrategy replay = new ReplayStrategy(back);
        Assert.True(replay.ChoosesEnvironment);
        Assert.Equal(2, replay.Version);
        Assert.Equal(ScheduleFile.CurrentVersion, ((IScheduleStrategy)new ReplayStrategy(ScheduleFile.Parse(new ScheduleFile(4, "random", [1]).ToText()))).Version);
    }

    [Fact]
    public void A_version_1_file_loads_with_no_environment_choice()
    {
        var back = ScheduleFile.Parse("hviommu-schedule 1\nseed 4\nstrategy random\nsteps 3\nchoices 1 2 0\n");
        Assert.Equal([1, 2, 0], back.Choices);
        Assert.Empty(back.EnvironmentChoices);
        Assert.Equal(1, back.Version);
        Assert.StartsWith("hviommu-schedule 1\n", back.ToText());
        // Its replay draws the environment from the seed, as the recording run did.
        Assert.False(((IScheduleStrategy)new ReplayStrategy(back)).ChoosesEnvironment);
        Assert.True(((IScheduleStrategy)new ReplayStrategy(ScheduleFile.Parse(new ScheduleFile(4, "random", [1]).ToText()))).ChoosesEnvironment);
    }

    [Theory]
    [InlineData("values 2/2")]
    [InlineData("values 1/1")]
    [InlineData("values 1")]
    public void A_bad_environment_choice_is_rejected_naming_the_line(string line)
    {
        var e = Assert.Throws<FormatException>(() => ScheduleFile.Parse($"hviommu-schedule 2\nseed 4\nstrategy random\nsteps 1\n{line}\nchoices 1\n"));
        Assert.Contains("line 5", e.Message);
    }

    [Fact]
    public void Replay_follows_the_recorded_values_and_stops_when_one_does_not_fit()
    {
        var replay = new ReplayStrategy([1], [new ScheduleValue(1, 2), new ScheduleValue(4, 6)]);
        Assert.Equal(1, ((IScheduleStrategy)replay).ChooseValue(2, 0));
        Assert.Equal(-1, ((IScheduleStrategy)replay).ChooseValue(5, 1)); // recorded with 6 options
        Assert.Equal(4, ((IScheduleStrategy)replay).ChooseValue(6, 1));
        Assert.Equal(-1, ((IScheduleStrategy)replay).ChooseValue(2, 2)); // past the recording
    }
}
