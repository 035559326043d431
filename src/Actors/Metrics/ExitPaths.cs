using HvIommu.Model.Driver;
using HvIommu.Model.Metrics;

namespace HvIommu.Actors.Metrics;

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
