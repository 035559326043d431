using HvIommu.Model.Hypercalls;
using HvIommu.Model.Settings;

namespace HvIommu.Actors.Configuration;

/// <summary>
/// The words the configuration uses for each enumerated setting, in one place: the loader reads them
/// and <c>validate</c> prints them back, so a resolved value is shown as it would be written.
/// </summary>
internal static class ConfigWords
{
    public static readonly IReadOnlyDictionary<string, RunMode> Mode = Words(("stress", RunMode.Stress), ("deterministic", RunMode.Deterministic));
    public static readonly IReadOnlyDictionary<string, Expectation> Expect = Words(("clean", Expectation.Clean), ("violation", Expectation.Violation));
    public static readonly IReadOnlyDictionary<string, DmaMode> DmaMode = Words(("strict", Model.Settings.DmaMode.Strict), ("lazy", Model.Settings.DmaMode.Lazy));
    public static readonly IReadOnlyDictionary<string, FlushKind> Flush = Words(("domain", FlushKind.Domain), ("list", FlushKind.List));
    public static readonly IReadOnlyDictionary<string, FlushFailurePolicy> OnFlushFailure = Words(("log", FlushFailurePolicy.Log), ("fallback", FlushFailurePolicy.Fallback));
    public static readonly IReadOnlyDictionary<string, DisconnectedDevicePolicy> OnDisconnectedDevice = Words(
        ("skip-disconnected", DisconnectedDevicePolicy.SkipDisconnected), ("wait", DisconnectedDevicePolicy.Wait), ("time-out", DisconnectedDevicePolicy.TimeOut));
    public static readonly IReadOnlyDictionary<string, FlushOrder> FlushOrder = Words(("iotlb-first", Model.Settings.FlushOrder.IotlbFirst), ("devtlb-first", Model.Settings.FlushOrder.DevTlbFirst));
    public static readonly IReadOnlyDictionary<string, Model.Settings.TableDepthRule> TableDepth = Words(
        ("top-level", Model.Settings.TableDepthRule.TopLevel), ("from-width", Model.Settings.TableDepthRule.FromWidth));
    public static readonly IReadOnlyDictionary<string, FlushRangeMode> FlushRange = Words(
        ("exact", FlushRangeMode.Exact), ("empty", FlushRangeMode.Empty), ("off-by-one", FlushRangeMode.OffByOne), ("overflow", FlushRangeMode.Overflow));
    public static readonly IReadOnlyDictionary<string, InitUnwinding> InitUnwinding = Words(("fixed", Model.Settings.InitUnwinding.Fixed), ("rfc-v1", Model.Settings.InitUnwinding.RfcV1));
    public static readonly IReadOnlyDictionary<string, InitStep> InitStep = Words(
        ("none", Model.Settings.InitStep.None), ("get-capabilities", Model.Settings.InitStep.GetCapabilities),
        ("create-identity", Model.Settings.InitStep.CreateIdentity), ("configure-identity", Model.Settings.InitStep.ConfigureIdentity),
        ("create-blocking", Model.Settings.InitStep.CreateBlocking), ("configure-blocking", Model.Settings.InitStep.ConfigureBlocking),
        ("sysfs-add", Model.Settings.InitStep.SysfsAdd), ("register", Model.Settings.InitStep.Register), ("probe", Model.Settings.InitStep.Probe));
    public static readonly IReadOnlyDictionary<string, DomainSwitchMode> DomainSwitch = Words(
        ("none", DomainSwitchMode.None), ("attach-replace", DomainSwitchMode.AttachReplace), ("detach-attach", DomainSwitchMode.DetachAttach));
    public static readonly IReadOnlyDictionary<string, DetachedTranslation> DetachedTranslation = Words(
        ("blocked", Model.Settings.DetachedTranslation.Blocked), ("identity", Model.Settings.DetachedTranslation.Identity), ("last-domain", Model.Settings.DetachedTranslation.LastDomain));
    public static readonly IReadOnlyDictionary<string, DeviceBehaviour> Behaviour = Words(("well-behaved", DeviceBehaviour.WellBehaved), ("stale-replay", DeviceBehaviour.StaleReplay));

    /// <summary>Capability bits of HVCALL_GET_IOMMU_CAPABILITIES (brief §1.8), in bit order.</summary>
    public static readonly IReadOnlyDictionary<string, IommuCapabilities> Capabilities = Words(
        ("present", IommuCapabilities.Present), ("s2", IommuCapabilities.S2), ("s1", IommuCapabilities.S1),
        ("s1-5lvl", IommuCapabilities.S1FiveLevel), ("pasid", IommuCapabilities.Pasid), ("ats", IommuCapabilities.Ats), ("pri", IommuCapabilities.Pri));

    /// <summary>Stage-1 page sizes, as bits of the page-size bitmap.</summary>
    public static readonly IReadOnlyDictionary<string, ulong> PageSizes = Words(("4K", 1UL << 12), ("2M", 1UL << 21), ("1G", 1UL << 30));

    /// <summary>The word for <paramref name="value"/>.</summary>
    public static string Name<T>(IReadOnlyDictionary<string, T> words, T value) where T : notnull =>
        words.First(w => EqualityComparer<T>.Default.Equals(w.Value, value)).Key;

    /// <summary>The words whose bits are set in <paramref name="bits"/>, in table order.</summary>
    public static IEnumerable<string> BitNames(IReadOnlyDictionary<string, ulong> words, ulong bits) =>
        words.Where(w => (bits & w.Value) != 0).Select(w => w.Key);

    private static Dictionary<string, T> Words<T>(params (string Word, T Value)[] words) where T : notnull =>
        words.ToDictionary(w => w.Word, w => w.Value);
}
