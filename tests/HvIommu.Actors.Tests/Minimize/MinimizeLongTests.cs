using HvIommu.Actors.Minimize;
using System.Diagnostics;
using HvIommu.Actors.Tests.Scenarios;
using Xunit.Abstractions;

namespace HvIommu.Actors.Tests.Minimize;

/// <summary>
/// Every wrong scenario minimized (opt-in, <see cref="LongFactAttribute"/>): each must still fail with the same
/// kind and be no larger; prints original and minimal delivered messages and steps and the time taken.
/// </summary>
public sealed class MinimizeLongTests(ITestOutputHelper output)
{
    [LongFact]
    [Trait("Category", "Long")]
    public void Every_wrong_scenario_minimizes()
    {
        var failures = new List<string>();
        output.WriteLine($"{"scenario",-28} {"kind",-24} {"messages",17} {"steps",17} {"seconds",8}");
        foreach (var file in ScenarioFiles.All().Where(f => !ScenarioFiles.IsRight(f)))
        {
            var name = ScenarioFiles.Stem(file);
            var dir = Directory.CreateTempSubdirectory("hviommu-minimize-").FullName;
            try
            {
                var r = MinimizeFixture.ExploreAndMinimize(name, dir, "60s");
                output.WriteLine($"{name,-28} {r.Kind,-24} {r.OriginalMessages,7:N0} → {r.MinimalMessages,7:N0} {r.OriginalSteps,7:N0} → {r.MinimalSteps,7:N0} {r.Seconds,8:0.0}");
                if (r.Exit != 0 || r.MinimalMessages > r.OriginalMessages || r.MinimalSteps > r.OriginalSteps)
                    failures.Add($"{name}: exit {r.Exit}, messages {r.OriginalMessages} → {r.MinimalMessages}, steps {r.OriginalSteps} → {r.MinimalSteps}");
                else if (MinimizeFixture.Read(Path.Combine(r.Dir, "report.json")).Kind != r.Kind)
                    failures.Add($"{name}: the minimal run's first violation is not {r.Kind}");
            }
            finally
            {
                Directory.Delete(dir, recursive: true);
            }
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }
}
