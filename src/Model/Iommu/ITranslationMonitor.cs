using System.Collections.Immutable;
using HvIommu.Model.Mappings;
using HvIommu.Model.Translation;

namespace HvIommu.Model.Iommu;

/// <summary>
/// What the translator needs from whoever judges the run (the oracle, <c>Oracle/DmaOracle.cs</c>): the port
/// through which the IOMMU model shows its walks and asks for the shadow data an IOTLB fill carries, so that the
/// hardware model does not depend on the checker (the oracle depends on the model, never the reverse).
/// </summary>
public interface ITranslationMonitor
{
    /// <summary>A nested walk read the tables of <paramref name="chain"/> (outermost first) for
    /// <paramref name="walk"/> (its fault, domain and IOVA) on behalf of <paramref name="ctx"/>; a freed table
    /// page among them is hazard H1 (brief §4).</summary>
    void Walked(ImmutableArray<WalkStep> chain, in DmaTranslation walk, in AccessContext ctx);

    /// <summary>The live mapping of <paramref name="domain"/> whose leaf maps <paramref name="iova"/> to the page at
    /// <paramref name="pageGpa"/> (the shadow data an IOTLB fill carries, not architectural), or null when none does.</summary>
    MappingRecord? FindMapping(uint domain, ulong iova, ulong pageGpa);
}
