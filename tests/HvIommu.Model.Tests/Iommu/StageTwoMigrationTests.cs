using HvIommu.Model.Iommu;
using HvIommu.Model.Randomness;

namespace HvIommu.Model.Tests.Iommu;

/// <summary>The host's page migration (H14, <see cref="StageTwoMigration"/>): due every N-th completed flush, it moves
/// a mapped page of the flushed domain, and stays due while the domain has none.</summary>
[Trait("Category", "Model")]
public sealed class StageTwoMigrationTests
{
    private const ulong Iova = 0x6000_0000;
    private readonly IommuRig _rig = new IommuRig().WithPagingDomain();

    private StageTwoMigration Every(int flushes) =>
        new(flushes, new EnvironmentChoices(new SeededRandom(3), null), _rig.Host, _rig.Mappings, [_rig.Nic, _rig.AtsDevice]);

    [Fact]
    public void Every_second_flush_moves_a_mapped_page_of_the_domain_to_a_fresh_host_frame()
    {
        var record = _rig.MapBuffer(Iova);
        _rig.Host.Stage2.TryTranslate(record.Gpa, out var oldHpa);
        var migration = Every(2);

        Assert.Null(migration.AfterFlush(IommuRig.DomainId));
        var moved = migration.AfterFlush(IommuRig.DomainId);

        Assert.Same(record, moved?.Victim);
        Assert.True(_rig.Host.Stage2.TryTranslate(record.Gpa, out var newHpa));
        Assert.Equal((moved!.Value.NewHpa, false), (newHpa, newHpa == oldHpa));
        Assert.False(_rig.Host.DmaQuiesced);
    }

    [Fact]
    public void A_due_migration_waits_for_a_flush_of_a_domain_with_a_mapped_page()
    {
        var migration = Every(1);
        Assert.Null(migration.AfterFlush(IommuRig.DomainId));

        var record = _rig.MapBuffer(Iova);

        Assert.Same(record, migration.AfterFlush(IommuRig.DomainId)?.Victim);
    }

    [Fact]
    public void Off_never_moves_anything()
    {
        _rig.MapBuffer(Iova);
        var never = new StageTwoMigration(0, new EnvironmentChoices(new SeededRandom(3), null), _rig.Host, _rig.Mappings, [_rig.Nic]);
        for (var i = 0; i < 10; i++)
            Assert.Null(never.AfterFlush(IommuRig.DomainId));
    }
}
