using HvIommu.Model.Driver;

namespace HvIommu.Model.Tests.Driver;

/// <summary>The guest domain builds its per-vCPU flush queues (brief §5.3) with the configured counter rule (H2).</summary>
[Trait("Category", "Model")]
public sealed class GuestDomainTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Every_vcpu_queue_gets_the_counter_rule(bool broken)
    {
        var domain = new GuestDomain("dom", 3, vcpus: 4, flushQueueEntries: 256, brokenCounterRule: broken);

        Assert.Equal(4, domain.Queues.Length);
        Assert.All(domain.Queues, q => Assert.Equal(broken, q.BrokenCounterRule));
        Assert.All(domain.Queues, q => Assert.Same(domain.Fq, q.Domain));
    }
}
