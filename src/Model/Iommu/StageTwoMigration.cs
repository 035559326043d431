using HvIommu.Model.Mappings;
using HvIommu.Model.Randomness;

namespace HvIommu.Model.Iommu;

/// <summary>
/// The host's page migration of brief H14 (§4): every <c>everyFlushes</c>-th completed flush the host moves the frame
/// of one mapped page of the flushed domain to a fresh host frame — only at a moment no device has DMA in flight,
/// with new DMA held off while it moves the page (<see cref="HostIommu.TryQuiesceDma"/>: a host must quiesce DMA
/// before moving a page; otherwise it waits for the next flush). Which page is an environment choice
/// (<see cref="EnvironmentChoices"/>: a strategy's in deterministic mode). Not thread-safe: the flush handler's.
/// </summary>
/// <param name="everyFlushes">hypervisor.behaviour.s2-migration-every-flushes; 0 or less: never.</param>
/// <param name="mappings">Where the mapped pages of a domain are found (the run's registry of mappings).</param>
/// <param name="devices">The VM's devices: none may have DMA in flight when a page moves.</param>
public sealed class StageTwoMigration(int everyFlushes, EnvironmentChoices choices, HostIommu host, IMappingLookup mappings, IReadOnlyList<DeviceSlot> devices)
{
    private long _completedFlushes;
    private bool _due;

    /// <summary>One page moved: <see cref="Victim"/>'s frame now lives at host frame <see cref="NewHpa"/>.</summary>
    public readonly record struct Moved(MappingRecord Victim, ulong NewHpa);

    /// <summary>A flush of <paramref name="domain"/> completed: migrates one of its mapped pages if one is due and no
    /// device has DMA in flight (the ATCs of those with ATS are invalidated with it, when the host invalidates on
    /// stage-2 changes). Null when nothing moved.</summary>
    public Moved? AfterFlush(uint domain)
    {
        if (everyFlushes <= 0)
            return null;
        if (++_completedFlushes % everyFlushes == 0)
            _due = true;
        if (!_due || !host.TryQuiesceDma(devices))
            return null;
        try
        {
            var mapped = mappings.Mapped(domain);
            if (mapped.Count == 0)
                return null;
            var victim = mapped[choices.Next(mapped.Count)];
            _due = false;
            return new Moved(victim, host.MigrateFrame(victim.Gpa, domain, devices.Where(d => d.Atc is not null)));
        }
        finally
        {
            host.ResumeDma();
        }
    }
}
