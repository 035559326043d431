using HvIommu.Model.Hypercalls;
using HvIommu.Model.Iommu;
using HvIommu.Model.Mappings;
using HvIommu.Model.Memory;
using HvIommu.Model.Oracle;
using HvIommu.Model.PageTables;
using HvIommu.Model.Tests.Iommu;
using HvIommu.Model.Translation;

namespace HvIommu.Model.Tests.Oracle;

/// <summary>The oracle's walk (H1), fault (H6), teardown (H16) and hang (H5) checks, driven by real walks.</summary>
[Trait("Category", "Model")]
public sealed class WalkFaultTeardownTests
{
    private const ulong Region = 0xFFE0_0000; // one 2 MiB region: its PTE table maps nothing else
    private readonly IommuRig _rig = new IommuRig().WithPagingDomain();

    /// <summary>Map the whole 2 MiB region (generic_pt frees a PTE table only when the unmap walked every entry
    /// of it, iommu_pt.h __unmap_range), translate (filling the walk cache), unmap the region so its PTE table
    /// goes to the gather, flush with or without the walk cache, then free the table page and hand it out as a
    /// buffer.</summary>
    private ulong ReuseUnlinkedPteTable(bool invalidateWalkCache)
    {
        var record = _rig.MapBuffer(Region);
        for (ulong page = 1; page < 512; page++)
            Assert.Equal(MapStatus.Mapped, _rig.Table.Map(Region + (page << 12), record.Gpa, PageSize.Size4K, true));
        Assert.True(_rig.Translate(_rig.Nic, Region).Ok);
        Assert.True(_rig.Host.WalkCache.Count >= 3);
        var gather = _rig.Unmap(record, length: PageSize.Size2M.Bytes());
        var pteTable = Assert.Single(gather.FreeList);
        _rig.FlushDomain(invalidateWalkCache);
        _rig.Frames.Free(pteTable);
        Assert.Equal(pteTable, _rig.Frames.Allocate(FrameOwner.DmaBuffer, ownerId: 3));
        return pteTable;
    }

    [Fact]
    public void Walk_through_a_cached_pointer_to_a_freed_table_page_is_reported()
    {
        var pteTable = ReuseUnlinkedPteTable(invalidateWalkCache: false);

        var t = _rig.Translate(_rig.Nic, Region + 0x5000);

        Assert.Equal(WalkFault.NotPresent, t.Fault);
        var v = Assert.Single(_rig.Log.Kept);
        Assert.Equal(ViolationKind.WalkThroughFreedTable, v.Kind);
        Assert.Equal(pteTable, v.Frame);
        Assert.Contains("DmaBuffer", v.Description);
        Assert.Equal("H1", v.Hazard);
    }

    [Fact]
    public void Garbage_in_the_reused_table_page_translates_to_memory_no_mapping_backs()
    {
        var pteTable = ReuseUnlinkedPteTable(invalidateWalkCache: false);
        _rig.Memory.Store64(pteTable, Pte.Leaf(_rig.Table.RootGpa, PageSize.Size4K, writable: true));

        var t = _rig.Translate(_rig.Nic, Region, AccessKind.Write);

        Assert.True(t.Ok);
        Assert.Equal(_rig.Table.RootGpa, t.Gpa);
        Assert.Equal(ViolationKind.IsolationBreach, _rig.Access(_rig.Nic, t)?.Kind);
        Assert.Equal(1, _rig.Log.Count(ViolationKind.WalkThroughFreedTable));
    }

    [Fact]
    public void Flush_that_drops_the_walk_cache_makes_the_same_sequence_safe()
    {
        ReuseUnlinkedPteTable(invalidateWalkCache: true);

        var t = _rig.Translate(_rig.Nic, Region + 0x5000);

        Assert.Equal(WalkFault.NotPresent, t.Fault);
        Assert.Equal(0, _rig.Log.Total);
    }

    [Fact]
    public void Fault_on_an_iova_whose_mapping_is_live_is_a_lost_mapping()
    {
        var record = _rig.MapBuffer(Region);
        // The leaf disappears behind the driver's back (what a racy table install does, H6).
        _rig.Table.Unmap(Region, 0x1000, new IotlbGather());

        var t = _rig.Translate(_rig.Nic, Region);
        var v = _rig.Oracle.CheckFault(t, IommuRig.Context(_rig.Nic), record);

        Assert.Equal(WalkFault.NotPresent, t.Fault);
        Assert.Equal(ViolationKind.LostMapping, v?.Kind);
        Assert.Contains("H6", v!.Explanation);
    }

    [Fact]
    public void Fault_of_a_replayed_descriptor_or_of_an_unmapped_mapping_is_not_a_lost_mapping()
    {
        var record = _rig.MapBuffer(Region);
        _rig.Table.Unmap(Region, 0x1000, new IotlbGather());
        var t = _rig.Translate(_rig.Nic, Region);

        Assert.Null(_rig.Oracle.CheckFault(t, IommuRig.Context(_rig.Nic, replay: true), record));
        _rig.Mappings.UnmapStarting(record, 10, queued: false);
        _rig.Mappings.UnmapDone(record, 11);
        Assert.Null(_rig.Oracle.CheckFault(t, IommuRig.Context(_rig.Nic), record));
        Assert.Null(_rig.Oracle.CheckFault(t, IommuRig.Context(_rig.Nic), programmed: null));
        Assert.Equal(0, _rig.Log.Total);
    }

    [Fact]
    public void Fault_while_the_mapping_is_still_being_written_is_not_a_lost_mapping()
    {
        var record = _rig.Mappings.Register(IommuRig.DomainId, Region, IommuRig.FramesBaseGpa, PageSize.Size4K, true, 0, 0);
        var t = _rig.Translate(_rig.Nic, Region);

        Assert.Equal(MappingState.Mapping, record.State);
        Assert.Null(_rig.Oracle.CheckFault(t, IommuRig.Context(_rig.Nic), record));
    }

    [Theory]
    [InlineData(3, 2, 0, 1, 0)]
    [InlineData(2, 2, 5, 0, 1)]
    [InlineData(4, 2, 1, 1, 1)]
    [InlineData(2, 2, 0, 0, 0)]
    [InlineData(1, 2, 0, 0, 0)]
    public void Teardown_reports_domains_above_baseline_and_table_pages_left(int live, int baseline, int tablePages, int leakedDomains, int leakedTables)
    {
        _rig.Oracle.CheckTeardown(live, baseline, tablePages, nowNs: 99);

        Assert.Equal(leakedDomains, _rig.Log.Count(ViolationKind.LeakedDomain));
        Assert.Equal(leakedTables, _rig.Log.Count(ViolationKind.LeakedTablePage));
        // Leaks are attributed to the hazard the rig's attribution gives their kind (H16 for a leaked domain;
        // a leaked table page is also H18's, the registry's first row for it), at the teardown's time.
        Assert.All(_rig.Log.Kept, v => Assert.Equal((Hazards.HazardRegistry.TypicalHazard(v.Kind), 99L), (v.Hazard, v.SimTimeNs)));
        Assert.All(_rig.Log.Kept.Where(v => v.Kind == ViolationKind.LeakedDomain), v => Assert.Equal("H16", v.Hazard));
    }

    [Fact]
    public void Hung_hypercall_is_recorded_with_the_call_name()
    {
        _rig.Oracle.ReportHung("vcpu1", HypercallCode.FlushDeviceDomain, IommuRig.DomainId, nowNs: 5);

        var v = Assert.Single(_rig.Log.Kept);
        Assert.Equal((ViolationKind.HypercallHung, "vcpu1", IommuRig.DomainId), (v.Kind, v.Vcpu, v.Domain));
        Assert.Contains("HVCALL_FLUSH_DEVICE_DOMAIN", v.Description);
    }

    [Fact]
    public void A_finding_no_knob_of_the_run_can_cause_names_no_hazard()
    {
        var oracle = new DmaOracle(_rig.Mappings, _rig.Frames, _rig.Stage2, _rig.Log, HazardCauses.None);
        oracle.CheckTeardown(1, 0, 1, 0);
        Assert.All(_rig.Log.Kept, v =>
        {
            Assert.Equal("", v.Hazard);
            Assert.Equal(HazardCauses.Unexplained, v.Explanation);
            Assert.DoesNotContain("H16", v.Explanation);
        });
    }

    [Fact]
    public void The_hazard_named_is_that_of_a_knob_the_run_has_on()
    {
        var oracle = new DmaOracle(_rig.Mappings, _rig.Frames, _rig.Stage2, _rig.Log, HazardCauses.Of(Cause.RfcInitUnwinding));
        oracle.CheckTeardown(1, 0, 0, 0);
        var v = Assert.Single(_rig.Log.Kept);
        Assert.Equal("H16", v.Hazard);
        Assert.Contains("init error path", v.Explanation);
    }

    [Fact]
    public void The_scenario_hazard_is_preferred_only_among_the_causes_that_are_on()
    {
        // A leaked table page: the RFC's init path (H16) and the flush-queue overrun (H18) are both on.
        var causes = HazardCauses.Of(Cause.RfcInitUnwinding, Cause.FlushQueueOverrun);
        new DmaOracle(_rig.Mappings, _rig.Frames, _rig.Stage2, _rig.Log, causes, hazardOf: _ => "H18").CheckTeardown(0, 0, 1, 0);
        new DmaOracle(_rig.Mappings, _rig.Frames, _rig.Stage2, _rig.Log, causes).CheckTeardown(0, 0, 1, 0);
        // A hazard whose knob is off is never named, whatever the scenario says.
        new DmaOracle(_rig.Mappings, _rig.Frames, _rig.Stage2, _rig.Log, causes, hazardOf: _ => "H2").CheckTeardown(0, 0, 1, 0);
        Assert.Equal(["H18", "H16", "H16"], _rig.Log.Kept.Select(v => v.Hazard));
        Assert.All(_rig.Log.Kept, v => Assert.DoesNotContain("(H2)", v.Explanation));
    }

    [Fact]
    public void A_leak_the_driver_knows_the_cause_of_says_so()
    {
        var oracle = new DmaOracle(_rig.Mappings, _rig.Frames, _rig.Stage2, _rig.Log, HazardCauses.None);
        oracle.CheckTeardown(1, 0, 0, 0, leakCause: ("", "DELETE refused because DETACH failed"));
        Assert.Contains("DETACH failed", Assert.Single(_rig.Log.Kept).Explanation);
    }
}
