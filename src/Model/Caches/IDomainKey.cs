namespace HvIommu.Model.Caches;

/// <summary>A cache tag that carries the device-domain id it belongs to (IOTLB and walk-cache entries are domain-tagged, brief §4).</summary>
internal interface IDomainKey
{
    uint Domain { get; }
}
