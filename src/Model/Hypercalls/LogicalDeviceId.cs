namespace HvIommu.Model.Hypercalls;

/// <summary>
/// The Hyper-V logical device id of a vPCI function (brief §1.1 patch 1/5, <c>hv_build_logical_dev_id()</c>):
/// bytes 4–7 of the vPCI bus's VMBus instance GUID plus the PCI function number. Only those four bytes
/// take part, so two buses may alias (hazard H13).
/// </summary>
public static class LogicalDeviceId
{
    public const int MaxPciFunction = 7;

    /// <summary><c>(b[5]&lt;&lt;24)|(b[4]&lt;&lt;16)|(b[7]&lt;&lt;8)|(b[6]&amp;0xf8)|func</c> over <see cref="Guid.ToByteArray()"/> order.</summary>
    public static ulong BuildLogicalDeviceId(Guid vmbusInstance, int pciFunction)
    {
        if (pciFunction is < 0 or > MaxPciFunction)
            throw new ArgumentOutOfRangeException(nameof(pciFunction), pciFunction, $"a PCI function is 0..{MaxPciFunction}");
        Span<byte> b = stackalloc byte[16];
        vmbusInstance.TryWriteBytes(b); // same byte order as ToByteArray()
        return ((ulong)b[5] << 24) | ((ulong)b[4] << 16) | ((ulong)b[7] << 8) | (uint)(b[6] & 0xf8) | (uint)pciFunction;
    }
}
