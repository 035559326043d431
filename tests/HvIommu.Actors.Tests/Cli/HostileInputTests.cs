using HvIommu.Actors.Cli;
using HvIommu.Actors.Tests.Configuration;

namespace HvIommu.Actors.Tests.Cli;

/// <summary>
/// Inputs that once ended in an unhandled exception, a lost result or a misleading answer: each must now be
/// exit 2 with one clear line naming the file, key or option — no stack trace — and nothing already written lost.
/// One case per kind of defect; the inputs are the smallest that showed it.
/// </summary>
[Trait("Category", "Actors")]
public sealed class HostileInputTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("hviommu-hostile-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    internal static (int Code, string Out, string Err) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var code = CommandLine.Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    private string Conf(string text)
    {
        var path = Path.Combine(_dir, $"c{Guid.NewGuid():N}.conf");
        File.WriteAllText(path, text);
        return path;
    }

    internal static void BadInput((int Code, string Out, string Err) r, params string[] mentions)
    {
        Assert.True(r.Code == ExitCodes.BadInput, $"exit {r.Code}\n{r.Out}\n{r.Err}");
        Assert.DoesNotContain("   at ", r.Err);
        Assert.DoesNotContain("Exception", r.Err);
        foreach (var m in mentions)
            Assert.Contains(m, r.Err);
    }

    [Theory]
    [InlineData("hviommu.vm.vcpus = ${hviommu.vm.vcpus}", "substitution")]
    [InlineData("x = ${?NOPE}", "substitution")]
    [InlineData("a = ${b}\nb = ${a}", "substitution")]
    [InlineData("hviommu {\n  vm.vcpus = 2\n", "never closed")]
    [InlineData("hviommu { vm.vcpus = 2 }\n}", "closes nothing")]
    [InlineData("include \"/etc/passwd\"", "include is not supported")]
    [InlineData("hviommu.domains += {name = \"extra\"}", "line 1: '+=' (append to the value above) is not supported")]
    [InlineData("hviommu.run.dispatcher = \"no.such.dispatcher\"", "hviommu.run.dispatcher")]
    [InlineData("hviommu.stress-dispatcher.throughput = 0.5", "hviommu.stress-dispatcher.throughput")]
    [InlineData("akka.actor.default-dispatcher.type = NoSuchType", "akka.actor.default-dispatcher.type")]
    [InlineData("hviommu.vm { memory-mib = 4, vcpus = 8 }\nhviommu.workload { buffer-pages = 512, outstanding-per-vcpu = 16 }", "hviommu.vm.memory-mib")]
    [InlineData("hviommu.devices = [ { name = n, domain = dom, count = 100000 } ]", "hviommu.devices")]
    [InlineData("hviommu.device-defaults.ats = maybe", "hviommu.device-defaults.ats")]
    [InlineData("hviommu.iommu.max-domains = 2", "hviommu.iommu.max-domains")]
    // A name becomes an actor's: ASCII only (a Unicode letter passed validate and then hung the run).
    [InlineData("hviommu.devices = [ { name = \"nicé\", domain = dom } ]", "hviommu.devices[0].name = nicé: expected a non-empty name of ASCII letters")]
    [InlineData("hviommu.domains = [ { name = \"网络\" } ]\nhviommu.devices = [ { name = n, domain = \"网络\" } ]", "hviommu.domains[0].name")]
    [InlineData("hviommu.workload.buffer-sizes = [\"64K-8K\"]", "upper end is not below its lower end")]
    // Found by the config fuzz: a key = value directly inside a list (a list's ']' swapped with the next line) made
    // Akka's parser loop forever; so did any other character that cannot start a value.
    [InlineData("hviommu {\n  devices = [\n  vm.vcpus = 4\n  { name = dev, domain = dom }\n  ]\n}", "line 3: '=' inside the list opened at line 2")]
    [InlineData("hviommu.iommu.capabilities = [present, ^]", "'^' inside the list")]
    [InlineData("hviommu.iommu.capabilities = [present s1 : x]", "':' inside the list")]
    // A file cut mid-statement (the parser took the dangling key as a key with no value).
    [InlineData("hviommu { run.ops = 5 }\nhviommu.vm.\n# trailing comment", "line 2: the text ends in the middle of a statement")]
    // More transactions per operation than a run can carry through its step budget.
    [InlineData("hviommu.workload.dma-per-op = 1000000", "hviommu.workload.dma-per-op")]
    public void A_hostile_config_is_bad_input_naming_what_is_wrong(string text, string mention)
    {
        var path = Conf(text);
        BadInput(Run("validate", "--config", path), path, mention);
        BadInput(Run("run", "--config", path, "--ops", "1"), mention);
    }

    [Fact]
    public void A_list_element_that_is_not_an_object_is_blamed_on_the_file_that_wrote_the_list()
    {
        var path = Conf("hviommu.devices = [ x ]");
        BadInput(Run("validate", "--config", path), $"{path}: hviommu.devices[0] = x");
    }

    /// <summary>
    /// A scenario cut off after a complete block still parses; what gives it away is a wrong twin whose hazard knob
    /// is gone (it would run on defaults and "miss" its violation). Switching the knob off from the command line
    /// (a sweep, an override) is deliberate and stays allowed.
    /// </summary>
    [Fact]
    public void A_list_element_missing_a_key_without_default_is_blamed_on_the_element_and_its_file()
    {
        // It used to be blamed on "reference.conf: hviommu.device-defaults.name".
        var path = Conf("hviommu.devices = [ { count = 3 } ]");
        var r = Run("validate", "--config", path);
        BadInput(r, $"{path}: hviommu.devices[0].name: missing");
        Assert.DoesNotContain("reference.conf: hviommu.device-defaults.name", r.Err);
    }

    // The command line's own parse errors speak as every other bad input does ("error: …"), once each, and keep the
    // typo suggestion.
    [Fact]
    public void A_misspelt_option_is_an_error_line_with_a_suggestion()
    {
        var r = Run("run", "--sed", "3");
        BadInput(r, "error: Unrecognized command or argument '--sed'.", "Did you mean one of the following?", "--seed");
        Assert.Single(r.Err.Split('\n'), l => l.Contains("Unrecognized command or argument '--sed'", StringComparison.Ordinal));
        Assert.All(r.Err.Split('\n').Where(l => l.StartsWith("Unrecognized", StringComparison.Ordinal) || l.StartsWith("Required", StringComparison.Ordinal)),
            l => Assert.Fail("unprefixed message: " + l));
    }

    // Only the mistake is reported: not the misspelt option's value, not the arguments after a misspelt command, and
    // not "Required command was not provided" on top of the misspelt command.
    [Theory]
    [InlineData("'--sede'", "--seed", "run", "--sede", "3")]
    [InlineData("'rnu'", "run", "rnu", "--seed", "3")]
    public void Only_the_misspelt_token_is_reported(string mistake, string suggestion, params string[] args)
    {
        var r = Run(args);
        BadInput(r, $"error: Unrecognized command or argument {mistake}.", suggestion);
        Assert.Equal([mistake], r.Err.Split('\n').Where(l => l.StartsWith("error: ", StringComparison.Ordinal))
            .Select(l => l[(l.IndexOf('\'') )..(l.LastIndexOf('\'') + 1)]));
        Assert.DoesNotContain("'3' was not matched", r.Err);
        Assert.DoesNotContain("Required command", r.Err);
    }

    [Fact]
    public void A_stray_argument_of_a_known_command_is_still_reported()
    {
        BadInput(Run("run", "3"), "error: Unrecognized command or argument '3'.");
        // The same text as a misspelt option's value, elsewhere on the line, is a stray of its own.
        var r = Run("run", "--sede", "3", "--ops", "5", "3");
        BadInput(r, "error: Unrecognized command or argument '--sede'.");
        Assert.Single(r.Err.Split('\n'), l => l.StartsWith("error: Unrecognized command or argument '3'.", StringComparison.Ordinal));
    }

    // A section replaced by a value is one mistake: no follow-up per key it held, blamed on reference.conf.
    [Theory]
    [InlineData("hviommu.vm = 3", "hviommu.vm = 3: expected a section")]
    [InlineData("hviommu { driver = \"x\", run = [1] }", "hviommu.driver = x: expected a section", "hviommu.run = [1]: expected a section")]
    public void A_section_replaced_by_a_value_is_reported_once(string text, params string[] errors)
    {
        var path = Conf(text);
        var r = Run("validate", "--config", path);
        BadInput(r);
        Assert.Equal(errors.Select(e => $"error: {path}: {e} {{ … }}"), r.Err.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.StartsWith("error: ", StringComparison.Ordinal)));
    }

    // A domain name written twice is one mistake, reported at its second entry; a clash made by counts is its own.
    [Theory]
    [InlineData("hviommu.domains = [ { name = a }, { name = a }, { name = a } ]", "a", "hviommu.domains[1].name = a: duplicate domain name")]
    [InlineData("hviommu.domains = [ { name = a, count = 2 }, { name = a0 } ]", "a0", "hviommu.domains = a0: duplicate domain name (after expanding counts)")]
    public void A_duplicate_domain_name_is_reported_once(string domains, string deviceDomain, string error)
    {
        var path = Conf(domains + $"\nhviommu.devices = [ {{ name = n, domain = {deviceDomain} }} ]");
        var r = Run("validate", "--config", path);
        BadInput(r);
        Assert.Equal([$"error: {path}: {error}"], r.Err.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.StartsWith("error: ", StringComparison.Ordinal)));
    }

    [Fact]
    public void An_emptied_domain_list_is_blamed_on_the_file_that_emptied_it_once()
    {
        // It used to be blamed on "reference.conf: hviommu.devices[0].domain", followed by "devices = []".
        var path = Conf("hviommu { domains = [] }");
        var r = Run("validate", "--config", path);
        BadInput(r, $"{path}: hviommu.domains = []: no domain \"dom\", but device");
        Assert.DoesNotContain("reference.conf:", r.Err);
        Assert.Single(r.Err.Split('\n'), l => l.StartsWith("error:", StringComparison.Ordinal));

        // The same when the file renames the domains and keeps reference.conf's devices.
        path = Conf("hviommu { domains = [ { name = a } ] }");
        r = Run("validate", "--config", path);
        BadInput(r, $"{path}: hviommu.domains = a: no domain \"dom\", but device");
        Assert.Contains("(from reference.conf)", r.Err);
        Assert.DoesNotContain("reference.conf:", r.Err);
    }

    [Fact]
    public void A_problem_with_the_whole_file_names_no_placeholder_key()
    {
        var path = Conf("hviommu { vm.vcpus = 2 }\n}");
        var r = Run("validate", "--config", path);
        BadInput(r, $"{path}: line 2: '}}' closes nothing");
        Assert.DoesNotContain("(file)", r.Err);
    }

    [Fact]
    public void A_scenario_cut_before_its_hazard_knob_is_refused()
    {
        var full = File.ReadAllText(Path.Combine(Simulation.RunEndToEndTests.RepoRoot(), "config", "scenarios", "h2-free-iova-wrong.conf"));
        var knob = full.IndexOf("\n  driver.hazards.free-iova-before-flush = on", StringComparison.Ordinal);
        Assert.True(knob > 0);
        // Cut at the end of the last complete line before the knob, then close the block as an editor would leave it.
        var cut = full[..knob] + "\n}\n";
        BadInput(Run("validate", "--config", Conf(cut)), "hviommu.hazard = H2", "none of its knobs is on", "driver.hazards.free-iova-before-flush = on", "cut short");
        var path = Conf(full.Replace("driver.hazards.free-iova-before-flush = on", "", StringComparison.Ordinal));
        var config = HvIommu.Actors.Configuration.SimConfig.Load(path, ["hviommu.driver.hazards.free-iova-before-flush = off"]);
        Assert.False(config.Settings.Driver.Hazards.FreeIovaBeforeFlush);
    }

    [Fact]
    public void Deep_nesting_is_refused_without_overflowing_the_stack()
    {
        BadInput(Run("validate", "--config", Conf("a = " + new string('[', 100_000) + new string(']', 100_000))), "nesting deeper");
        BadInput(Run("validate", "--config", Conf("hviommu.x = " + string.Concat(Enumerable.Repeat("{a:", 2000)) + "1" + new string('}', 2000))), "nesting deeper");
    }

    [Fact]
    public void A_directory_given_as_config_is_called_a_directory() =>
        BadInput(Run("validate", "--config", _dir), "is a directory");

    /// <summary>
    /// An output is never moved over a device, a FIFO or a socket (as root, a report written to /dev/null used to
    /// replace the device node with a regular file): refused before the run, naming the option and the kind. A
    /// symbolic link to a regular file is written through: the link stays and its target gets the report.
    /// </summary>
    [Fact]
    public void An_output_onto_a_device_or_fifo_is_refused_and_a_symbolic_link_is_written_through()
    {
        var fifo = Path.Combine(_dir, "pipe");
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", fifo)!)
        {
            mkfifo.WaitForExit();
            Assert.Equal(0, mkfifo.ExitCode);
        }
        foreach (var (args, kind) in new[]
        {
            (new[] { "run", "--report", "/dev/null" }, "a character device"),
            (["run", "--report", fifo], "a FIFO"),
            (["explore", "--report", "/dev/null", "--seeds", "1"], "a character device"),
            (["run", "--trace", Path.Combine(_dir, "t"), "--report", "/dev/zero"], "a character device"),
        })
        {
            var r = Run([.. args, "--ops", "1"]);
            BadInput(r, "--report");
            Assert.Contains(kind, r.Err);
            Assert.DoesNotContain("result:", r.Out);
        }
        Assert.False(File.Exists("/dev/null.schedule"));

        var target = Path.Combine(_dir, "target.json");
        File.WriteAllText(target, "old");
        var link = Path.Combine(_dir, "link.json");
        File.CreateSymbolicLink(link, target);
        var ok = Run("run", "--mode", "deterministic", "--ops", "20", "--report", link, "--plain");
        Assert.True(ok.Code == 0, ok.Err);
        Assert.NotNull(new FileInfo(link).LinkTarget);
        Assert.StartsWith("{", File.ReadAllText(target));
    }

    [Fact]
    public void Output_paths_are_checked_before_the_run()
    {
        var file = Conf("hviommu.run.ops = 1");
        foreach (var args in new[]
        {
            new[] { "run", "--report", Path.Combine(file, "x.json") },
            ["run", "--report", _dir],
            ["run", "--report", _dir + "/"],
            ["run", "--report", "/proc/x.json"],
            ["run", "--trace", file],
            ["run", "--report", Path.Combine(_dir, "r.schedule")],
            ["explore", "--report", _dir, "--seeds", "1"],
        })
        {
            var r = Run([.. args, "--ops", "1"]);
            BadInput(r, args[1]);
            Assert.DoesNotContain("result:", r.Out); // refused before any run
        }
    }

    [Fact]
    public void Two_paths_of_one_command_that_name_the_same_file_are_refused_before_the_run()
    {
        var conf = Conf("hviommu.run.ops = 1");
        var report = Path.Combine(_dir, "same.json");
        var schedule = Path.Combine(_dir, "same.schedule");
        foreach (var args in new[]
        {
            new[] { "run", "--report", report, "--trace", report },
            ["run", "--report", report, "--trace", schedule],
            ["run", "--report", conf, "--config", conf],
            ["explore", "--report", report, "--trace", report, "--seeds", "1"],
            ["explore", "--report", report, "--trace", schedule + "/", "--seeds", "1"],
        })
        {
            var r = Run([.. args, "--ops", "1"]);
            BadInput(r, "is the same path as");
            Assert.DoesNotContain("result:", r.Out); // refused before any run
            Assert.False(Directory.Exists(report) || Directory.Exists(schedule), string.Join(' ', args));
        }
        Assert.Equal("hviommu.run.ops = 1", File.ReadAllText(conf).Trim()); // the config it would have overwritten
    }

    [Fact]
    public void Report_inputs_that_are_directories_or_lack_a_trace_hash_are_bad_input()
    {
        BadInput(Run("replay", "--report", _dir), "is a directory");
        BadInput(Run("minimize", "--report", _dir, "--out", Path.Combine(_dir, "min")), "is a directory");
        var report = Path.Combine(_dir, "r.json");
        var run = Run("run", "--mode", "deterministic", "--ops", "2", "--report", report);
        Assert.Equal(ExitCodes.Matched, run.Code);
        File.WriteAllText(report, File.ReadAllText(report).Replace("\"traceHash\"", "\"traceHashGone\"", StringComparison.Ordinal));
        BadInput(Run("replay", "--report", report), "traceHash");
    }

    [Theory]
    [InlineData("seed -1", "seed")]
    [InlineData("seed 123456789012345678901", "seed")]
    [InlineData("steps 99999999999", "steps")]
    [InlineData("steps 0", "steps")]
    public void A_broken_schedule_file_is_bad_input(string line, string mention)
    {
        var text = "hviommu-schedule 1\nseed 1\nstrategy random\nsteps 2\nchoices 1 1\n";
        text = line.StartsWith("seed", StringComparison.Ordinal)
            ? text.Replace("seed 1", line, StringComparison.Ordinal)
            : text.Replace("steps 2", line, StringComparison.Ordinal).Replace("choices 1 1", line == "steps 0" ? "choices" : "choices 1 1", StringComparison.Ordinal);
        var path = Path.Combine(_dir, "s.schedule");
        File.WriteAllText(path, text);
        BadInput(Run("replay", "--schedule", path), mention, $"--schedule {path}"); // names the file, not only the option
    }

    [Fact]
    public void Options_that_cannot_apply_are_refused()
    {
        BadInput(Run("run", "--strategy", "pct"), "stress mode");
        BadInput(Run("explore", "--seeds", "5", "--duration", "1s"), "not both");
        BadInput(Run("replay", "--report", Path.Combine(_dir, "r.json"), "--config", "x.conf"), "--config");
    }

    [Fact]
    public void A_mistyped_command_gets_a_suggestion()
    {
        var r = Run("explor");
        BadInput(r);
        Assert.Contains("Did you mean", r.Out + r.Err);
        Assert.Contains("explore", r.Out + r.Err);
    }
}
