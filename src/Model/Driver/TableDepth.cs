using HvIommu.Model.Hypercalls;
using HvIommu.Model.Settings;

namespace HvIommu.Model.Driver;

/// <summary>
/// The table depth and IOVA width a pvIOMMU paging domain gets, and the paging mode the host is told (brief §1,
/// §3). Sources: drivers/iommu/generic_pt/fmt/x86_64.h <c>x86_64_pt_iommu_fmt_init</c> (the RFC-era version
/// derived the top level as (width − 31) / 9 + 2 for widths 31..57; current kernels take <c>cfg.top_level</c>,
/// 3 or 4, and <c>x86_64_pt_iommu_fmt_hw_info</c> reports levels = top level + 1), and the driver's
/// <c>hv_init_iommu_device</c> (width clamped to 48 without HV_IOMMU_CAP_S1_5LVL) and
/// <c>hv_iommu_domain_alloc_paging</c> (<c>first_stage_paging_mode = (levels == 5)</c>).
/// </summary>
public static class TableDepth
{
    /// <summary>The IOVA width the driver uses: the capability's width, clamped to 48 bits without 5-level support.</summary>
    public static int DriverIovaWidth(int capabilityWidth, bool fiveLevelCapable)
        => Math.Min(capabilityWidth, fiveLevelCapable ? 57 : 48);

    /// <summary>Levels of the guest's table (3, 4 or 5) for a width of 31..57 bits.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The width is outside 31..57 (fmt_init's -EINVAL).</exception>
    public static int Levels(int width, TableDepthRule rule)
    {
        if (width is < 31 or > 57)
            throw new ArgumentOutOfRangeException(nameof(width), width, "x86-64 stage-1 tables cover 31..57 bits");
        return rule == TableDepthRule.FromWidth ? (width - 31) / 9 + 3 : width > 48 ? 5 : 4;
    }

    /// <summary>The paging mode in HVCALL_CONFIGURE_DEVICE_DOMAIN: 5-level only for a 5-level table, 4-level
    /// for anything else — so a 3-level table is walked by the host as if it had 4 levels (H15).</summary>
    public static FirstStagePagingMode PagingMode(int levels)
        => levels == 5 ? FirstStagePagingMode.FiveLevel : FirstStagePagingMode.FourLevel;

    /// <summary>The levels the host walks for a paging mode.</summary>
    public static int HostLevels(FirstStagePagingMode mode) => mode == FirstStagePagingMode.FiveLevel ? 5 : 4;

    /// <summary>Width and levels for a whole configuration.</summary>
    public static (int Width, int Levels) For(SimSettings settings)
    {
        var caps = (IommuCapabilities)settings.Iommu.CapabilityBits;
        var width = DriverIovaWidth(settings.Iommu.MaxIovaWidth, caps.HasFlag(IommuCapabilities.S1FiveLevel));
        return (width, Levels(width, settings.Driver.TableDepth));
    }
}
