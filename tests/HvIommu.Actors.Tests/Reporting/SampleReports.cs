using System.Text.Json;
using HvIommu.Actors.Metrics;
using HvIommu.Actors.Reporting;

namespace HvIommu.Actors.Tests.Reporting;

/// <summary>Reports with known content for the reporting tests.</summary>
internal static class SampleReports
{
    public static RunReport WithTwoViolations(double wallSeconds = 1.25) => new(
        Seed: 7,
        Mode: RunMode.Deterministic,
        Config: new ReportConfig(
            "config/scenarios/h5-free-before-flush.conf",
            JsonDocument.Parse("""{ "vm": { "vcpus": 2, "devices": [ "nic0" ] }, "expect": "violation" }""").RootElement.Clone()),
        Stats: new RunStats(
            MessagesDelivered: 123_456,
            DmaTransactions: 4_321,
            PagesMapped: 1_000,
            PagesUnmapped: 990,
            Hypercalls: new Dictionary<string, long> { ["MapDeviceGpaPages"] = 12, ["FlushDeviceDomain"] = 495 },
            VmExits: 1_485,
            Iotlb: new CacheStats(Hits: 3_000, Misses: 1_000),
            Atc: new CacheStats(Hits: 0, Misses: 0),
            WallSeconds: wallSeconds,
            SimulatedNs: 10_000_000,
            Steps: 98_765,
            Latencies: new Dictionary<string, LatencySummary>
            {
                ["unmap"] = new(990, 1_200, 2_000, 3_500, 8_000, 15_000, 16_001, 2_345.5),
            }),
        Violations:
        [
            new ViolationRecord("DmaToFreedFrame", "H5", 4_242, 1_500_000, "vcpu1", "nic0", 3,
                ViolationRecord.Hex(0xfffff000), ViolationRecord.Hex(0x1a2b3000),
                "nic0 wrote frame 0x1a2b3000 after the driver freed it",
                "The driver freed the frame before its flush completed, so the IOTLB still translated the IOVA.",
                "dotnet run --project src/Actors -c Release -- replay --seed 7 --config config/scenarios/h5-free-before-flush.conf"),
            new ViolationRecord("StaleTranslationAfterFlush", "H7", 5_000, 1_700_000, null, "nvme1", 4,
                ViolationRecord.Hex(0x2000), ViolationRecord.Hex(0x99000),
                "nvme1 used an ATC entry after FlushDeviceDomain completed",
                "The flush completed without waiting for the device TLB invalidation.",
                "dotnet run --project src/Actors -c Release -- replay --seed 7 --schedule trace/h7.sched"),
        ],
        Expected: ExpectedOutcome.Violation,
        ExpectedKind: "DmaToFreedFrame",
        OutcomeMatched: true,
        Artifacts: ["trace/causal.txt", "trace/h5.svg"])
    {
        TraceHash = "5f3c9a",
    };
}
