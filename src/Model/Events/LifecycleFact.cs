namespace HvIommu.Model.Events;

/// <summary>
/// What the driver's lifecycle found while it unwound a failed init or tore the VM down (brief §1.5, §1.9, H10, H16,
/// H18): the facts of a <see cref="SimEventKind.TeardownAudited"/>, <see cref="SimEventKind.IovaLeaked"/>,
/// <see cref="SimEventKind.UnwoundStepNeverDone"/> or <see cref="SimEventKind.TablesFreedUnderAttachedDevice"/>
/// event. Emitted a few times per run, never on the DMA path, so each is an object.
/// </summary>
public abstract record LifecycleFact;

/// <summary>What teardown left behind once it finished (H10, H16).</summary>
/// <param name="LiveHostDomains">Device domains the hypervisor still holds.</param>
/// <param name="BaselineHostDomains">How many of them teardown kept on purpose (a failed DETACH).</param>
/// <param name="TablePagesLeft">Page-table pages still allocated, not counting those of the domains kept on purpose.</param>
/// <param name="DeleteRefusal">The hazard (empty when its knob is off) and text of why a DELETE was refused, if the driver knows.</param>
/// <param name="TablesOrphanedByRacyInstall">Table pointers a racing install was seen to overwrite (H6).</param>
public sealed record TeardownAudit(int LiveHostDomains, int BaselineHostDomains, int TablePagesLeft,
    (string Hazard, string Text)? DeleteRefusal, int TablesOrphanedByRacyInstall) : LifecycleFact;

/// <summary>Before put_iova_domain: <paramref name="Ranges"/> IOVA ranges (<paramref name="Pages"/> 4 KiB pages, the
/// first at <paramref name="FirstIova"/>) of <paramref name="Domain"/> are allocated although no live mapping, range
/// cache or flush-queue entry holds them (H18).</summary>
public sealed record IovaLeak(uint Domain, int Ranges, ulong Pages, ulong FirstIova) : LifecycleFact;

/// <summary>An init error path ran <paramref name="Call"/> under the goto label <paramref name="Label"/> although
/// <paramref name="NeverDone"/>, the step it undoes, never ran: init failed at <paramref name="FailedStep"/> (H16).</summary>
public sealed record UnwindOfStepNeverDone(string FailedStep, string Label, string Call, string NeverDone) : LifecycleFact;

/// <summary>The guest frees the <paramref name="TablePages"/> table pages of <paramref name="Domain"/> while the host
/// still has <paramref name="Devices"/> attached to it (H10).</summary>
public sealed record TablesFreedUnderDevice(uint Domain, IReadOnlyList<string> Devices, int TablePages) : LifecycleFact;
