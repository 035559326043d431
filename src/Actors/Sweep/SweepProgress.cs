using System.Globalization;
using Spectre.Console;

namespace HvIommu.Actors.Sweep;

/// <summary>
/// Progress of a sweep over cells and schedules: two live Spectre.Console bars on an interactive terminal
/// (cells done, schedules run), plain lines at most once a second otherwise (CI logs). A stress sweep counts runs, not
/// schedules (a stress run has no schedule: its actors race on real threads), as <see cref="Runs.Throughput"/> does.
/// </summary>
public sealed class SweepProgress : IDisposable
{
    private readonly TextWriter _plain;
    private readonly bool _live;
    private readonly long _cells;
    private readonly long? _schedules;
    private readonly string _unit;
    private readonly string _units;
    private Task? _rendering;
    private TaskCompletionSource? _stop;
    private ProgressTask? _cellBar;
    private ProgressTask? _scheduleBar;
    private TimeSpan _lastLine = TimeSpan.FromSeconds(-1);

    /// <param name="schedules">Schedules (or stress runs) in all, when known in advance.</param>
    /// <param name="stress">The sweep runs stress runs: say "runs", not "schedules".</param>
    public SweepProgress(TextWriter plain, bool live, long cells, long? schedules, bool stress = false)
    {
        _plain = plain;
        _live = live;
        _cells = cells;
        _schedules = schedules;
        (_unit, _units) = stress ? ("stress run", "stress runs") : ("schedule", "schedules");
        if (!live)
            return;
        var stop = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _stop = stop;
        var started = new TaskCompletionSource<(ProgressTask, ProgressTask)>(TaskCreationOptions.RunContinuationsAsynchronously);
        _rendering = AnsiConsole.Progress().AutoClear(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .StartAsync(async context =>
            {
                var c = context.AddTask("cells", maxValue: Math.Max(1, cells));
                var s = context.AddTask(_units, maxValue: Math.Max(1, schedules ?? 1));
                s.IsIndeterminate = schedules is null;
                started.SetResult((c, s));
                await stop.Task;
                c.StopTask();
                s.StopTask();
            });
        if (Task.WhenAny(started.Task, _rendering).GetAwaiter().GetResult() == started.Task)
            (_cellBar, _scheduleBar) = started.Task.Result;
        else
            _live = false;
    }

    public void Update(long cellsDone, long schedules, long withViolations, TimeSpan elapsed, string extra = "")
    {
        var text = Text(schedules, withViolations, elapsed) + extra;
        if (_live && _cellBar is not null && _scheduleBar is not null)
        {
            _cellBar.Value = Math.Min(cellsDone, _cellBar.MaxValue);
            _cellBar.Description = $"cells {cellsDone}/{_cells}";
            _scheduleBar.Value = Math.Min(schedules, _scheduleBar.MaxValue);
            _scheduleBar.Description = Markup.Escape(text);
            return;
        }
        if (elapsed - _lastLine < TimeSpan.FromSeconds(1))
            return;
        _lastLine = elapsed;
        _plain.WriteLine($"  cells {cellsDone}/{_cells}, {text}, {elapsed.TotalSeconds:0.0} s");
    }

    /// <summary>"3/10 schedules (1.5/s), 0 with violations", or for a stress sweep "0/3 stress runs (0.25/s), …": the
    /// noun agrees with the total (or the count when there is none), the rate keeps its digits.</summary>
    public string Text(long done, long withViolations, TimeSpan elapsed)
    {
        var rate = Runs.Throughput.PerSecond(done / Math.Max(elapsed.TotalSeconds, 1e-3));
        var counted = _schedules is { } t
            ? string.Format(CultureInfo.InvariantCulture, "{0:N0}/{1:N0} {2}", done, t, t == 1 ? _unit : _units)
            : string.Format(CultureInfo.InvariantCulture, "{0:N0} {1}", done, done == 1 ? _unit : _units);
        return string.Format(CultureInfo.InvariantCulture, "{0} ({1}/s), {2:N0} with violations", counted, rate, withViolations);
    }

    public void Dispose()
    {
        if (_rendering is null)
            return;
        _stop?.TrySetResult();
        _rendering.GetAwaiter().GetResult();
        _rendering = null;
    }
}
