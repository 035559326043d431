using HvIommu.Actors.Bench;

namespace HvIommu.Actors.Tests.Bench;

[Trait("Category", "Actors")]
public sealed class PingPongBenchmarkSpec : Akka.TestKit.Xunit2.TestKit
{
    private const string DefaultDispatcher = "akka.actor.default-dispatcher";

    [Theory]
    [InlineData(1, 1, 2)]
    [InlineData(4, 1, 1_000)]
    [InlineData(3, 64, 1_000)]
    [InlineData(2, 600, 1_000)]
    public async Task Delivers_exactly_the_requested_messages(int pairs, int inFlight, long messagesPerPair)
    {
        var result = await PingPongBenchmark.MeasureAsync(Sys, DefaultDispatcher, pairs, inFlight, messagesPerPair);

        Assert.Equal(pairs * messagesPerPair, result.Messages);
    }

    [Fact]
    public void Rejects_an_odd_message_count_and_an_unknown_dispatcher()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => PingPongBenchmark.Measure(Sys, DefaultDispatcher, 1, 1, 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => PingPongBenchmark.Measure(Sys, DefaultDispatcher, 0, 1, 2));
        Assert.Contains("no-such-dispatcher", Assert.Throws<ArgumentException>(() => PingPongBenchmark.Measure(Sys, "no-such-dispatcher", 1, 1, 2)).Message, StringComparison.Ordinal);
    }
}
