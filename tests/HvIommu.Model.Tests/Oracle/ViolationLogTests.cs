using HvIommu.Model.Oracle;

namespace HvIommu.Model.Tests.Oracle;

[Trait("Category", "Model")]
public sealed class ViolationLogTests
{
    private static Violation V(ViolationKind kind, long step) => new(kind, Hazards.HazardRegistry.TypicalHazard(kind), step, step, "vcpu0", "nic", 1, 0, 0, $"#{step}", "");

    [Fact]
    public void Keeps_the_first_max_kept_and_counts_every_one()
    {
        var log = new ViolationLog(maxKept: 2, lazyWindowIsViolation: false);
        for (var i = 0; i < 5; i++)
            Assert.True(log.Record(V(i % 2 == 0 ? ViolationKind.DmaToFreedFrame : ViolationKind.LostMapping, i)));

        Assert.Equal(5, log.Total);
        Assert.Equal(3, log.Count(ViolationKind.DmaToFreedFrame));
        Assert.Equal(2, log.Count(ViolationKind.LostMapping));
        Assert.Equal([0L, 1L], log.Kept.Select(v => v.Step));
    }

    [Fact]
    public void The_first_of_each_kind_is_kept_after_the_kept_slots_are_full()
    {
        var log = new ViolationLog(maxKept: 2, lazyWindowIsViolation: false);
        for (var i = 0; i < 4; i++)
            log.Record(V(ViolationKind.StaleTranslationAfterFlush, i));
        log.Record(V(ViolationKind.DmaToFreedFrame, 10));
        log.Record(V(ViolationKind.DmaToFreedFrame, 11));

        Assert.Equal([0L, 1L, 10L], log.Kept.Select(v => v.Step));
        Assert.Equal(2, log.Count(ViolationKind.DmaToFreedFrame));
    }

    [Fact]
    public void Lazy_window_accesses_are_counted_apart_unless_the_run_makes_them_violations()
    {
        var tolerant = new ViolationLog(4, lazyWindowIsViolation: false);
        var strict = new ViolationLog(4, lazyWindowIsViolation: true);

        Assert.False(tolerant.Record(V(ViolationKind.LazyWindowStaleAccess, 1)));
        Assert.True(strict.Record(V(ViolationKind.LazyWindowStaleAccess, 1)));

        Assert.Equal((0L, 1L, 0), (tolerant.Total, tolerant.Count(ViolationKind.LazyWindowStaleAccess), tolerant.Kept.Count));
        Assert.Equal((1L, 1L, 1), (strict.Total, strict.Count(ViolationKind.LazyWindowStaleAccess), strict.Kept.Count));
        Assert.False(tolerant.IsViolation(ViolationKind.LazyWindowStaleAccess));
        Assert.True(tolerant.IsViolation(ViolationKind.IsolationBreach));
    }

    [Fact]
    public void Tolerated_lazy_accesses_do_not_use_up_the_kept_slots()
    {
        var log = new ViolationLog(1, lazyWindowIsViolation: false);
        log.Record(V(ViolationKind.LazyWindowStaleAccess, 1));
        log.Record(V(ViolationKind.IsolationBreach, 2));
        Assert.Equal(2L, Assert.Single(log.Kept).Step);
    }

    [Fact]
    public void Every_kind_but_a_hang_names_a_typical_hazard()
    {
        // A hang is what a too-small hang timeout or step budget also gives: no knob stands for it.
        Assert.Equal("", Hazards.HazardRegistry.TypicalHazard(ViolationKind.HypercallHung));
        foreach (var kind in Enum.GetValues<ViolationKind>().Where(k => k != ViolationKind.HypercallHung))
            Assert.Matches("^H[0-9]+$", Hazards.HazardRegistry.TypicalHazard(kind));
    }
}
