using Akka.Actor;
using Akka.TestKit;
using HvIommu.Actors.Hypervisor;
using HvIommu.Actors.PciDevice;
using HvIommu.Actors.Simulation;
using HvIommu.Model.Device;
using HvIommu.Model.Driver;
using HvIommu.Model.Mappings;
using HvIommu.Model.Memory;
using HvIommu.Model.Oracle;

namespace HvIommu.Actors.Tests.Actors;

/// <summary>
/// An assigned device's DMA engine (docs/design.md §2): translate at issue, move the data in a later step,
/// complete to the driver; answer drains and ATS invalidations only once the DMA they cover has moved
/// (brief §2.4, H5). A probe stands in for the driver and for the flush handler.
/// </summary>
[Trait("Category", "Actors")]
public sealed class PciDeviceActorSpec : ActorSpec
{
    private const string Topology = """
        hviommu {
          iommu.capabilities = [present, s1, ats]
          domains = [ { name = dom } ]
          devices = [
            { name = nic, domain = dom, in-flight = 8 }
            { name = gpu, domain = dom, in-flight = 8, ats = on }
          ]
        }
        """;

    private const int Nic = 0;
    private const int Gpu = 1;
    private const ulong Iova = 0x20_0000;
    private const int Transactions = 8;

    private readonly SimWorld _world;
    private readonly GuestDomain _dom;
    private readonly TestProbe _driver;

    public PciDeviceActorSpec()
    {
        _world = World(Topology);
        _dom = _world.DomainByName["dom"];
        AttachPaging(_world, _dom, "nic", "gpu");
        _driver = CreateTestProbe("driver");
    }

    private IActorRef Device(int index) => Sys.ActorOf(PciDeviceActor.Props(_world, index, Dispatcher));

    private static ProgramDma Program(long id, MappingRecord record, IActorRef replyTo, double writeFraction = 1.0) =>
        new(new DmaDescriptor(id, record.Iova, 1, Transactions, 64, writeFraction, [record]), replyTo);

    [Fact]
    public void Dma_to_a_mapped_buffer_completes_without_faults_and_writes_into_the_mapped_frame()
    {
        var (record, frame) = MapPage(_world, _dom, Iova);
        var nic = Device(Nic);

        nic.Tell(Program(1, record, _driver));

        var done = _driver.ExpectMsg<DmaCompleted>();
        Assert.Equal(1, done.DescriptorId);
        Assert.Equal(0, done.Faults);
        var page = new byte[GuestMemory.PageSize];
        _world.Memory.Read(frame, page);
        // Every write moves 64 bytes of the device's 0xA5 pattern to a 64-byte aligned offset of the page.
        var written = Enumerable.Range(0, page.Length / 64).Where(chunk => page[chunk * 64] == 0xA5).ToList();
        Assert.NotEmpty(written);
        Assert.All(written, chunk => Assert.All(page.AsSpan(chunk * 64, 64).ToArray(), b => Assert.Equal(0xA5, b)));
        Assert.Equal(64 * written.Count, page.Count(b => b == 0xA5));
        Assert.Equal(0, _world.Violations.Total);
    }

    [Fact]
    public void Dma_through_a_mapping_whose_leaf_was_never_written_faults_and_the_oracle_reports_a_lost_mapping()
    {
        var (record, _) = MapPage(_world, _dom, Iova, writeLeaf: false);
        var nic = Device(Nic);

        nic.Tell(Program(1, record, _driver));

        var done = _driver.ExpectMsg<DmaCompleted>();
        Assert.Equal(Transactions, done.Faults);
        Assert.Equal(Transactions, _world.Violations.Count(ViolationKind.LostMapping));
    }

    [Fact]
    public void Dma_through_an_unmapped_buffer_faults_without_a_lost_mapping()
    {
        var (record, _) = MapPage(_world, _dom, Iova);
        UnmapPage(_world, _dom, record);
        var nic = Device(Nic);

        nic.Tell(Program(1, record, _driver));

        Assert.Equal(Transactions, _driver.ExpectMsg<DmaCompleted>().Faults);
        Assert.Equal(0, _world.Violations.Count(ViolationKind.LostMapping));
    }

    [Fact]
    public void A_drain_that_arrives_while_dma_is_in_flight_is_answered_after_that_dma_finishes()
    {
        var (record, _) = MapPage(_world, _dom, Iova);
        var nic = Device(Nic);

        // In one turn: the drain is in the mailbox before the device issues the transfers of the program.
        SendInOneTurn(nic, Program(1, record, _driver), new DrainDma(7, _driver));

        Assert.Equal(0, _driver.ExpectMsg<DmaCompleted>().Faults);
        var drained = _driver.ExpectMsg<DmaDrained>();
        Assert.Equal(7, drained.FlushId);
        Assert.Equal("nic", drained.Device);
    }

    [Fact]
    public void A_drain_with_nothing_in_flight_is_answered_at_once()
    {
        var nic = Device(Nic);

        nic.Tell(new DrainDma(9, _driver));

        Assert.Equal(new DmaDrained(9, "nic"), _driver.ExpectMsg<DmaDrained>());
    }

    [Fact]
    public void An_atc_invalidation_empties_the_atc_and_is_answered_after_the_dma_that_used_it()
    {
        var (record, _) = MapPage(_world, _dom, Iova);
        var gpu = Device(Gpu);
        var atc = _world.Devices[Gpu].Atc!;
        gpu.Tell(Program(1, record, _driver));
        _driver.ExpectMsg<DmaCompleted>();
        Assert.True(atc.Count > 0);

        // The second program translates from the ATC; the invalidation queued behind it waits for those transfers.
        SendInOneTurn(gpu, Program(2, record, _driver), new InvalidateAtc(5, null, _driver));

        Assert.Equal(2, _driver.ExpectMsg<DmaCompleted>().DescriptorId);
        Assert.Equal(new AtcInvalidationCompleted(5, "gpu"), _driver.ExpectMsg<AtcInvalidationCompleted>());
        Assert.Equal(0, atc.Count);
        Assert.Equal(0, _world.Violations.Total);
    }

    [Fact]
    public void Quiesce_is_answered_at_once_when_idle_and_after_the_last_dma_when_busy()
    {
        var nic = Device(Nic);
        nic.Tell(new Quiesce(_driver));
        Assert.Equal(new DeviceQuiesced("nic"), _driver.ExpectMsg<DeviceQuiesced>());

        var (record, _) = MapPage(_world, _dom, Iova);
        var gpu = Device(Gpu);
        SendInOneTurn(gpu, Program(1, record, _driver), new Quiesce(_driver));
        _driver.ExpectMsg<DmaCompleted>();
        Assert.Equal(new DeviceQuiesced("gpu"), _driver.ExpectMsg<DeviceQuiesced>());
    }
}
