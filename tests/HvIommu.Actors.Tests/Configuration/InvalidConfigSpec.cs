using HvIommu.Actors.Configuration;

namespace HvIommu.Actors.Tests.Configuration;

/// <summary>
/// The friendly error for bad configuration: every problem names the file, the key path, the value
/// and what is allowed, and all problems of a file are reported together.
/// </summary>
[Trait("Category", "Model")]
public sealed class InvalidConfigSpec
{
    private const string File = "bad.conf";

    private static IReadOnlyList<ConfigProblem> Problems(string text)
    {
        var e = Assert.Throws<ConfigException>(() => SimConfig.Parse(text, File));
        Assert.NotEmpty(e.Problems);
        return e.Problems;
    }

    /// <summary>The one problem of <paramref name="text"/>, checked field by field.</summary>
    private static ConfigProblem Single(string text, string key, string value, string allowed, string file = File)
    {
        var problem = Assert.Single(Problems(text));
        AssertProblem(problem, key, value, allowed, file);
        return problem;
    }

    private static void AssertProblem(ConfigProblem p, string key, string value, string allowed, string file = File)
    {
        Assert.Equal(file, p.File);
        Assert.Equal(key, p.Key);
        Assert.Equal(value, p.Value);
        Assert.Contains(allowed, p.Message);
        Assert.Contains(key == ConfigProblem.WholeFile ? $"{file}: " : $"{file}: {key}", p.ToString());
    }

    [Theory]
    [InlineData("hviommu.run.duration = 5", "hviommu.run.duration", "5")]
    [InlineData("hviommu.run.hang-timeout = 250", "hviommu.run.hang-timeout", "250")]
    [InlineData("hviommu.driver.flush-queue.timeout = 0.5", "hviommu.driver.flush-queue.timeout", "0.5")]
    public void A_duration_without_a_unit_is_refused_as_on_the_command_line(string text, string key, string value) =>
        Single(text, key, value, $"has no unit: write {value}ms, {value}s, {value}m or {value}h");

    [Fact]
    public void A_value_with_a_control_character_is_shown_escaped() =>
        Assert.Equal("bad.conf: hviommu.vm.vcpus = \"2\\u0001\": x", new ConfigProblem(File, "hviommu.vm.vcpus", "2\u0001", "x").ToString());

    [Theory]
    [InlineData("--duration", "hviommu.run.duration", "99999999h")]
    [InlineData("--ops", "hviommu.run.ops", "-3")]
    [InlineData("--seed", "hviommu.seed", "-1")]
    [InlineData("--mode", "hviommu.mode", "turbo")]
    public void A_key_a_command_line_option_set_is_blamed_on_the_option_not_the_file(string option, string key, string value)
    {
        var e = Assert.Throws<ConfigException>(() => SimConfig.Parse("hviommu.vm.vcpus = 2\n", File, [SimConfig.FromOption(option, key, value)]));
        var problem = Assert.Single(e.Problems);
        Assert.Equal(option, problem.File);
        Assert.StartsWith($"{option}: ", problem.ToString(), StringComparison.Ordinal);
        Assert.EndsWith($"(the option sets {key})", problem.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain(File, problem.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Malformed_hocon_names_the_file_line_and_column()
    {
        var p = Single("hviommu {\n  vm {\n    vcpus = 4\n  }, run { ops = 1 }\n}\n", "(file)", "", "malformed HOCON");
        Assert.Contains("line 4, column 4", p.Message);
        Assert.Contains("'}, run { ops = 1 }'", p.Message);
        Assert.DoesNotContain('\n', p.ToString());
    }

    [Fact]
    public void A_substitution_is_refused_with_its_line() =>
        Single("hviommu.seed = ${nowhere}", "(file)", "", "line 1: substitution ${nowhere} is not supported");

    [Fact]
    public void A_bad_buffer_size_names_the_entry_and_what_is_allowed() =>
        Single("hviommu.workload.buffer-sizes = [\"4K\", \"3K\"]", "hviommu.workload.buffer-sizes", "3K", "sizes are multiples of 4K from 4K to 1G");

    [Fact]
    public void The_sysfs_switch_to_dma_fq_needs_a_strict_domain() =>
        Single("hviommu { driver.dma-mode = lazy, lifecycle.sysfs-dma-fq-after = 5 }", "hviommu.lifecycle.sysfs-dma-fq-after", "5",
            "the sysfs switch to DMA-FQ brings up the flush queue of a strict domain: set driver.dma-mode = strict (or 0 for no switch)");

    [Fact]
    public void An_empty_mix_without_a_fixed_size_is_refused() =>
        Single("hviommu.workload.buffer-sizes = []", "hviommu.workload.buffer-sizes", "[]", "a non-empty list of sizes (4K, 2M) or ranges (8K-60K) when workload.buffer-pages = 0");

    [Fact]
    public void Unknown_top_level_section() =>
        Single("colour = red", "colour", "red", "unknown top-level section; allowed: hviommu, akka");

    [Fact]
    public void Unknown_key_in_hviommu() =>
        Single("hviommu.colour = red", "hviommu.colour", "red", "allowed here: seed, mode, expect");

    [Fact]
    public void Unknown_nested_key_lists_the_keys_of_its_section() =>
        Single("hviommu.driver.dma-mod = lazy", "hviommu.driver.dma-mod", "lazy",
            "unknown key; allowed here: dma-mode, table-depth, flush, flush-queue, on-flush-failure");

    [Fact]
    public void Unknown_key_inside_a_device_entry() =>
        Single("hviommu.devices = [ { name = nic, domain = dom, colour = red } ]", "hviommu.devices[0].colour", "red",
            "unknown key; allowed: name, domain, count, ats, in-flight, behaviour, replay-probability, vmbus-guid");

    [Fact]
    public void A_list_where_a_number_goes() =>
        Single("hviommu.vm.vcpus = [1, 2]", "hviommu.vm.vcpus", "[1,2]", "expected a single value, got a list");

    [Fact]
    public void A_word_where_a_number_goes() =>
        Single("hviommu.vm.vcpus = many", "hviommu.vm.vcpus", "many", "expected a whole number from 1 to 1024");

    [Fact]
    public void A_section_where_a_value_goes_and_a_value_where_a_section_goes()
    {
        Single("hviommu.vm.vcpus { n = 1 }", "hviommu.vm.vcpus", "n : 1", "expected a single value, got an object");
        var problems = Problems("hviommu.driver = lazy");
        AssertProblem(problems[0], "hviommu.driver", "lazy", "expected a section { … }");
    }

    [Fact]
    public void A_key_with_nothing_after_the_equals_sign() =>
        Single("hviommu.vm.vcpus = ", "hviommu.vm.vcpus", "", "has no value after '='");

    [Fact]
    public void Zero_vcpus_is_out_of_range() =>
        Single("hviommu.vm.vcpus = 0", "hviommu.vm.vcpus", "0", "expected a whole number from 1 to 1024");

    [Fact]
    public void A_replay_probability_above_one_is_out_of_range() =>
        Single("hviommu.devices = [ { name = nic, domain = dom, replay-probability = 2 } ]",
            "hviommu.devices[0].replay-probability", "2", "expected a number from 0 to 1");

    [Fact]
    public void A_vmbus_guid_that_is_no_guid_is_refused() =>
        Single("hviommu.devices = [ { name = nic, domain = dom, vmbus-guid = \"6f1c2a3b-44d5\" } ]",
            "hviommu.devices[0].vmbus-guid", "6f1c2a3b-44d5", "expected a GUID such as");

    [Fact]
    public void A_vmbus_guid_names_one_device_not_a_count_of_them() =>
        Single("hviommu.devices = [ { name = nic, domain = dom, count = 2, vmbus-guid = \"6f1c2a3b-44d5-4e6f-8a9b-0c1d2e3f4a5b\" } ]",
            "hviommu.devices[0].vmbus-guid", "6f1c2a3b-44d5-4e6f-8a9b-0c1d2e3f4a5b", "a vPCI bus GUID names one device, but count = 2");

    [Fact]
    public void Two_devices_cannot_share_a_whole_vmbus_guid() =>
        Single("hviommu.devices = [ { name = a, domain = dom, vmbus-guid = \"6f1c2a3b-44d5-4e6f-8a9b-0c1d2e3f4a5b\" }, { name = b, domain = dom, vmbus-guid = \"6F1C2A3B-44D5-4E6F-8A9B-0C1D2E3F4A5B\" } ]",
            "hviommu.devices", "6f1c2a3b-44d5-4e6f-8a9b-0c1d2e3f4a5b", "vmbus-guid shared by a, b");

    [Fact]
    public void A_bad_enum_word_lists_the_allowed_words() =>
        Single("hviommu.driver.dma-mode = sloppy", "hviommu.driver.dma-mode", "sloppy", "expected one of: strict, lazy");

    [Theory]
    [InlineData("10 parsecs")]
    [InlineData("soon")]
    [InlineData("0ms")]
    public void A_bad_duration(string value) =>
        Single($"hviommu.run.duration = \"{value}\"", "hviommu.run.duration", value, "expected a duration from 1ms to 604800s (e.g. 10ms, 2s, 1m)");

    [Fact]
    public void A_device_naming_a_missing_domain_lists_the_defined_ones() =>
        Single("hviommu { domains = [ { name = net }, { name = disk } ]\n devices = [ { name = nic, domain = storage } ] }",
            "hviommu.devices[0].domain", "storage", "no such domain; defined: net, disk");

    [Fact]
    public void Duplicate_device_names() =>
        Single("hviommu.devices = [ { name = a, domain = dom }, { name = a, domain = dom } ]",
            "hviommu.devices", "a", "duplicate device name");

    [Fact]
    public void Duplicate_device_names_after_count_expansion() =>
        Single("hviommu.devices = [ { name = n, domain = dom, count = 3 }, { name = n2, domain = dom } ]",
            "hviommu.devices", "n2", "duplicate device name (after expanding counts)");

    [Fact]
    public void Duplicate_domain_names_after_count_expansion()
    {
        var problems = Problems("hviommu { domains = [ { name = d, count = 2 }, { name = d1 } ]\n devices = [ { name = x, domain = d0 } ] }");
        AssertProblem(Assert.Single(problems), "hviommu.domains", "d1", "duplicate domain name (after expanding counts)");
    }

    [Theory]
    [InlineData("hviommu.device-defaults.count = 100000", "hviommu.device-defaults.count")]
    [InlineData("hviommu.devices = [ { name = a, domain = dom, count = 100000 } ]", "hviommu.devices[0].count")]
    public void A_count_past_what_a_run_may_have_is_blamed_on_the_key_that_set_it_with_the_run_limit(string text, string key) =>
        Single(text, key, "100000", "expected a whole number from 1 to 4096");

    [Fact]
    public void More_domains_than_the_host_allows() =>
        Single("hviommu { iommu.max-domains = 4\n domains = [ { name = d, count = 3 } ]\n devices = [ { name = x, domain = d } ] }",
            "hviommu.domains", "3", "3 paging domains plus identity and blocking need hviommu.iommu.max-domains >= 5 (it is 4)");

    [Fact]
    public void A_wide_iova_space_without_the_5_level_capability_is_clamped_to_4_levels() =>
        Assert.Equal((48, 4), HvIommu.Model.Driver.TableDepth.For(SimConfig.Parse("hviommu.iommu.max-iova-width = 57", File).Settings));

    [Fact]
    public void Five_level_tables_with_the_capability_are_fine() =>
        Assert.Equal((57, 5), HvIommu.Model.Driver.TableDepth.For(SimConfig.Parse("hviommu { iommu.max-iova-width = 57\n iommu.capabilities = [present, s1, s1-5lvl] }", File)
            .Settings));

    [Fact]
    public void An_unknown_table_depth_rule_names_the_allowed_ones() =>
        Single("hviommu.driver.table-depth = deep", "hviommu.driver.table-depth", "deep", "top-level, from-width");

    [Fact]
    public void An_unknown_hypercall_in_faults() =>
        Single("hviommu.faults = [ { call = FlushEverything, probability = 0.1, status = OperationDenied } ]",
            "hviommu.faults[0].call", "FlushEverything", "unknown hypercall; allowed: ");

    [Fact]
    public void An_unknown_status_in_faults_lists_the_hv_status_names()
    {
        var p = Single("hviommu.faults = [ { call = FlushDeviceDomain, probability = 0.1, status = Oops } ]",
            "hviommu.faults[0].status", "Oops", "unknown HV_STATUS; allowed: Success, InvalidHypercallCode");
        Assert.Contains("OperationDenied", p.Message);
    }

    [Fact]
    public void A_fault_cannot_inject_success() =>
        Single("hviommu.faults = [ { call = FlushDeviceDomain, probability = 0.1, status = Success } ]",
            "hviommu.faults[0].status", "Success", "must be a failure status");

    [Fact]
    public void An_unknown_capability_and_page_size()
    {
        var problems = Problems("hviommu.iommu { capabilities = [present, s1, teleport]\n page-sizes = [4K, 3M] }");
        Assert.Equal(2, problems.Count);
        AssertProblem(problems[0], "hviommu.iommu.capabilities", "teleport", "unknown capability; allowed: present, s2, s1, s1-5lvl, pasid, ats, pri");
        AssertProblem(problems[1], "hviommu.iommu.page-sizes", "3M", "unknown page size; allowed: 4K, 2M, 1G");
    }

    [Fact]
    public void Every_problem_of_a_file_is_reported_together()
    {
        const string text = """
            hviommu {
              vm { vcpus = 0 }
              driver { dma-mode = sloppy }
              run { duration = forever }
              devices = [ { name = nic, domain = nowhere, colour = red } ]
            }
            """;
        var problems = Problems(text);
        Assert.True(problems.Count >= 3, string.Join(Environment.NewLine, problems));
        Assert.All(problems, p => Assert.Equal(File, p.File));
        Assert.Equal(
            ["hviommu.devices[0].colour", "hviommu.devices[0].domain", "hviommu.driver.dma-mode", "hviommu.run.duration", "hviommu.vm.vcpus"],
            problems.Select(p => p.Key).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void A_lowered_limit_is_blamed_on_the_key_that_lowered_it()
    {
        // The overlay only lowers the limit; the single reference domain and the two static ones exceed it:
        // the problem is the overlay's max-domains, not reference.conf's domain list.
        var p = Single("hviommu.iommu.max-domains = 2", "hviommu.iommu.max-domains", "2", "need hviommu.iommu.max-domains >= 3 (it is 2)");
        Assert.StartsWith("bad.conf: hviommu.iommu.max-domains = 2:", p.ToString());
    }

    [Fact]
    public void A_bad_device_default_is_blamed_on_device_defaults_in_the_overlay()
    {
        var p = Single("hviommu.device-defaults.ats = maybe", "hviommu.device-defaults.ats", "maybe", "expected on or off");
        Assert.StartsWith("bad.conf: hviommu.device-defaults.ats = maybe:", p.ToString());
    }

    [Fact]
    public void A_missing_file_is_named()
    {
        var path = Path.Combine(Path.GetTempPath(), $"hviommu-missing-{Environment.ProcessId}.conf");
        var e = Assert.Throws<ConfigException>(() => SimConfig.Load(path));
        AssertProblem(Assert.Single(e.Problems), "--config", path, "no such file", path);
    }

    [Theory]
    [InlineData("hviommu.faults = []")]
    [InlineData("hviommu.faults = [ ]")]
    [InlineData("hviommu.faults = [\n]")]
    public void An_empty_list_is_empty(string text) =>
        Assert.Empty(SimConfig.Parse(text, File).Settings.Faults);

    [Fact]
    public void An_empty_device_list_is_refused() =>
        Single("hviommu.devices = []", "hviommu.devices", "[]", "a topology needs at least one device");

    [Theory]
    [InlineData("hviommu.lifecycle.init-unwinding = rfc-v2", "hviommu.lifecycle.init-unwinding", "rfc-v2", "expected one of: fixed, rfc-v1")]
    [InlineData("hviommu.lifecycle.fail-init-step = attach", "hviommu.lifecycle.fail-init-step", "attach", "expected one of: none, get-capabilities, create-identity")]
    [InlineData("hviommu.lifecycle.domain-switch = swap", "hviommu.lifecycle.domain-switch", "swap", "expected one of: none, attach-replace, detach-attach")]
    [InlineData("hviommu.lifecycle.domain-switch-every = 0", "hviommu.lifecycle.domain-switch-every", "0", "expected a whole number from 1")]
    [InlineData("hviommu.lifecycle.domain-switch-to = nowhere", "hviommu.lifecycle.domain-switch-to", "nowhere", "expected \"blocking\", \"\" or a domain; defined: dom")]
    [InlineData("hviommu.lifecycle.domain-switch = attach-replace", "hviommu.lifecycle.domain-switch", "attach-replace", "needs a second paging domain")]
    [InlineData("hviommu.lifecycle.disable-ats-before-block = maybe", "hviommu.lifecycle.disable-ats-before-block", "maybe", "on")]
    [InlineData("hviommu.lifecycle.free-domain-before-detach = maybe", "hviommu.lifecycle.free-domain-before-detach", "maybe", "on")]
    [InlineData("hviommu.lifecycle.early-dma-device = gpu", "hviommu.lifecycle.early-dma-device", "gpu", "no such device; defined: nic")]
    [InlineData("hviommu.hypervisor.behaviour.detached-translation = default", "hviommu.hypervisor.behaviour.detached-translation", "default", "expected one of: blocked, identity, last-domain")]
    [InlineData("hviommu.hypervisor.behaviour.delete-invalidates-caches = 2", "hviommu.hypervisor.behaviour.delete-invalidates-caches", "2", "on")]
    public void Lifecycle_and_host_behaviour_keys_reject_bad_values(string text, string key, string value, string allowed) =>
        Single(text, key, value, allowed);

    // A number is no violation kind, though .NET's enum parser would take it (the long config fuzz found "-1" running to exit 3).
    [Theory]
    [InlineData("-1")]
    [InlineData("3")]
    [InlineData("dmaToFreedFrame")]
    [InlineData("Nonsense")]
    public void Expect_kind_takes_only_a_violation_kind_name(string kind) =>
        Single($"hviommu {{ expect = violation, expect-kind = \"{kind}\" }}", "hviommu.expect-kind", kind, "unknown violation kind; allowed: ");
}
