namespace HvIommu.Model.Driver;

/// <summary>The guest path a VM exit was made on: every hypercall is counted under the path that issued it, so
/// the cost of an unmap is counted where it happens rather than inferred from totals.</summary>
public enum ExitPath
{
    /// <summary>Driver init: capabilities, device properties, create/configure/attach, and an init's unwinding.</summary>
    Init,
    /// <summary>dma_map / iommu_map.</summary>
    Map,
    /// <summary>dma_unmap / iommu_unmap, including lazy mode's deferred flush-queue flushes.</summary>
    Unmap,
    /// <summary>A device moving between domains.</summary>
    DomainSwitch,
    /// <summary>Teardown after the workload.</summary>
    Teardown,
}
