namespace HvIommu.Model.Mappings;

/// <summary>
/// Finds the mapping a walked leaf belongs to: the shadow data an IOTLB fill carries (not architectural), so that
/// a later use of the entry can be judged against its mapping. Implemented by the run's ledger of mappings (Ledger.MappingLedger).
/// </summary>
public interface IMappingLookup
{
    /// <summary>The live mapping of <paramref name="domain"/> whose leaf maps <paramref name="iova"/> to the page at
    /// <paramref name="pageGpa"/> (or the last one unmapped there, for a walk that raced the unmap); null when none does.</summary>
    MappingRecord? FindMapping(uint domain, ulong iova, ulong pageGpa);

    /// <summary>The mapped (leaf written, not unmapped) mappings of <paramref name="domain"/>, oldest first: the pages a
    /// host may pick to migrate (H14).</summary>
    IReadOnlyList<MappingRecord> Mapped(uint domain);
}
