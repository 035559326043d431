using System.Globalization;

namespace HvIommu.Actors.Runs;

/// <summary>
/// The one line explore, a cluster explore and sweep print on how much ran and how fast, worded for the mode: a
/// deterministic schedule has steps; a stress run has none (its actors run on real threads), so it says runs and no steps.
/// </summary>
public static class Throughput
{
    /// <summary>"schedules 12, steps 3,456, 1.5 schedules/s, 460 steps/s" or, for stress runs, "stress runs 3, 0.077 runs/s".</summary>
    public static string Of(long schedules, long steps, TimeSpan elapsed, bool stress)
    {
        var seconds = Math.Max(elapsed.TotalSeconds, 1e-3);
        return stress
            ? $"stress runs {schedules.ToString("N0", CultureInfo.InvariantCulture)}, {PerSecond(schedules / seconds)} runs/s"
            : $"schedules {schedules.ToString("N0", CultureInfo.InvariantCulture)}, steps {steps.ToString("N0", CultureInfo.InvariantCulture)}, {PerSecond(schedules / seconds)} schedules/s, {PerSecond(steps / seconds)} steps/s";
    }

    /// <summary>A rate with the digits it needs: "1,234", "7.5", "0.077" — a slow rate never reads as 0.</summary>
    public static string PerSecond(double perSecond) =>
        perSecond >= 10 ? perSecond.ToString("N0", CultureInfo.InvariantCulture)
        : perSecond >= 1 ? perSecond.ToString("N1", CultureInfo.InvariantCulture)
        : perSecond == 0 ? "0"
        : perSecond.ToString("0.###", CultureInfo.InvariantCulture) is var s && s != "0" ? s : perSecond.ToString("0.#####E+0", CultureInfo.InvariantCulture);
}
