namespace HvIommu.Model.Translation;

/// <summary>Who is accessing, and when: the device, its current domain, the step and the simulated time.</summary>
/// <param name="DeviceDetached">The device is attached to no domain (after DETACH, brief §8 q3).</param>
/// <param name="Replay">The transaction replays an old descriptor (a misbehaving device), rather than one
/// the driver programmed and has not yet seen complete.</param>
public readonly record struct AccessContext(
    string Device,
    string Vcpu,
    uint DeviceDomain,
    bool DeviceBlocked,
    bool Replay,
    long Step,
    long SimTimeNs,
    bool DeviceDetached = false);
