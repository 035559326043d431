namespace HvIommu.Model.Hypercalls;

/// <summary>Device-domain type field (brief §1.8): only <c>HV_DEVICE_DOMAIN_TYPE_S1</c> = 1 is defined.</summary>
public enum DeviceDomainType : uint
{
    S1 = 1,
}

/// <summary>
/// <c>union hv_device_domain_id</c> (brief §1.8, §2.2): u32 {type:4, reserved:28} in the low dword and the
/// u32 id in the upper dword. Guests pick ids in 1..0xFFFFFFFE; 0 is <see cref="Default"/> and
/// 0xFFFFFFFF is <see cref="Null"/>.
/// </summary>
public readonly record struct DeviceDomainId(DeviceDomainType Type, uint Id)
{
    /// <summary><c>HV_DEVICE_DOMAIN_ID_DEFAULT</c>.</summary>
    public const uint Default = 0;

    /// <summary><c>HV_DEVICE_DOMAIN_ID_NULL</c>.</summary>
    public const uint Null = 0xFFFF_FFFF;

    public static DeviceDomainId S1(uint id) => new(DeviceDomainType.S1, id);

    /// <summary>True for an id a guest may create (neither Default nor Null).</summary>
    public bool IsGuestAllocatable => Id != Default && Id != Null;

    public ulong Pack() => BitField.Put((uint)Type, 0, 4, nameof(Type)) | ((ulong)Id << 32);

    /// <summary>False when reserved bits 31:4 are set.</summary>
    public static bool TryUnpack(ulong packed, out DeviceDomainId id)
    {
        id = new DeviceDomainId((DeviceDomainType)BitField.Get(packed, 0, 4), (uint)(packed >> 32));
        return BitField.Get(packed, 4, 28) == 0;
    }

    public override string ToString() => $"{Type}:{Id}";
}

/// <summary>
/// <c>struct hv_input_device_domain</c> (brief §2.2): {u64 partition_id; u8 owner_vtl; u8 padding[7];
/// u64 domain_id} = 24 bytes. The guest always passes <see cref="PartitionIdSelf"/>.
/// </summary>
public readonly record struct HvInputDeviceDomain(ulong PartitionId, byte OwnerVtl, DeviceDomainId DomainId)
{
    /// <summary><c>HV_PARTITION_ID_SELF</c> = (u64)−1.</summary>
    public const ulong PartitionIdSelf = ulong.MaxValue;

    public const int SizeBytes = 24;

    /// <summary>The form the guest driver uses: own partition, VTL 0.</summary>
    public static HvInputDeviceDomain Self(DeviceDomainId domainId) => new(PartitionIdSelf, 0, domainId);
}
