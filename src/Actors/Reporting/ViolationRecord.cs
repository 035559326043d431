using System.Globalization;

namespace HvIommu.Actors.Reporting;

/// <summary>
/// One IOMMU violation the oracle found, as the report carries it: its kind (e.g.
/// <c>DmaToFreedFrame</c>), the hazard id of the brief (<c>H5</c>), where and when it happened (step,
/// simulated time, vCPU, device, domain, IOVA, frame), what it means, and the command that reproduces it.
/// </summary>
public sealed record ViolationRecord(
    string Kind,
    string Hazard,
    long Step,
    long SimTimeNs,
    string? Vcpu,
    string? Device,
    ulong? Domain,
    string? Iova,
    string? Frame,
    string Description,
    string Explanation,
    string Reproduce,
    long? Mapping = null,
    long? Flush = null)
{
    /// <summary>An address as the report writes it: <c>0x</c> and lower-case hexadecimal.</summary>
    public static string Hex(ulong address) => "0x" + address.ToString("x", CultureInfo.InvariantCulture);
}
