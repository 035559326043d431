namespace HvIommu.Actors.Metrics;

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

/// <summary>The counter of each <see cref="ExitPath"/>.</summary>
public static class ExitPaths
{
    /// <summary>The <see cref="SimCounter"/> that counts VM exits made on <paramref name="path"/>.</summary>
    public static SimCounter Counter(this ExitPath path) => path switch
    {
        ExitPath.Init => SimCounter.InitVmExits,
        ExitPath.Map => SimCounter.MapVmExits,
        ExitPath.Unmap => SimCounter.UnmapVmExits,
        ExitPath.DomainSwitch => SimCounter.DomainSwitchVmExits,
        ExitPath.Teardown => SimCounter.TeardownVmExits,
        _ => throw new ArgumentOutOfRangeException(nameof(path), path, null),
    };
}
