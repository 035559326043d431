namespace HvIommu.Model.Settings;

/// <summary>How the guest driver chooses the depth of its stage-1 tables (brief §1 domain_alloc_paging, hazard H15).</summary>
public enum TableDepthRule
{
    /// <summary>Later revisions: <c>cfg.top_level = 4</c> (5-level) when the width exceeds 48 bits, else 3 (4-level).</summary>
    TopLevel,
    /// <summary>RFC v1: no <c>top_level</c>; generic_pt derives it from the width (3 levels below 40 bits) while the
    /// driver still tells the host 4- or 5-level paging (H15).</summary>
    FromWidth,
}
