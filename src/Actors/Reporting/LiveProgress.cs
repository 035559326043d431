using System.Globalization;
using Spectre.Console;

namespace HvIommu.Actors.Reporting;

/// <summary>
/// Progress as a live Spectre.Console bar on an interactive terminal: a spinner, the title with the
/// DMA rate and violation count, a bar when the run has a target number of operations, and the
/// elapsed time. Spectre redraws on its own thread; <see cref="Update"/> only sets values.
/// The line always fits the terminal (<see cref="Spectre.Console.Profile.Width"/>, read at every update, so a
/// resized window is followed): the bar narrows with the width and the description drops detail — memory, then
/// the DMA rate, then the title — before it is cut with an ellipsis; below <see cref="NarrowWidth"/> columns
/// only the spinner and the description remain. A line that wraps would be redrawn one row lower every time.
/// </summary>
public sealed class LiveProgress(IAnsiConsole console) : IRunProgress
{
    /// <summary>Below this many columns the bar, percentage and elapsed time are left out.</summary>
    public const int NarrowWidth = 60;

    private Task? _rendering;
    private TaskCompletionSource? _stop;
    private ProgressTask? _task;
    private string _title = "run";
    private Layout _layout = Layout.For(80);

    public void Start(string title)
    {
        if (_rendering is not null)
            throw new InvalidOperationException("progress already started");
        _title = title;
        _layout = Layout.For(console.Profile.Width);
        var stop = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _stop = stop;
        var started = new TaskCompletionSource<ProgressTask>(TaskCreationOptions.RunContinuationsAsynchronously);
        _rendering = console.Progress()
            .AutoClear(false)
            .Columns(_layout.Columns())
            .StartAsync(async context =>
            {
                var task = context.AddTask(Markup.Escape(Fit(title, null, _layout.DescriptionWidth(console.Profile.Width))));
                task.IsIndeterminate = true;
                started.SetResult(task);
                await stop.Task;
                task.StopTask();
            });
        // Spectre calls the delegate before its first await, or fails: either way this returns promptly.
        _task = Task.WhenAny(started.Task, _rendering).GetAwaiter().GetResult() == started.Task
            ? started.Task.Result
            : throw new InvalidOperationException("the progress display failed to start", _rendering.Exception);
    }

    public void Update(ProgressSnapshot snapshot)
    {
        var task = _task ?? throw new InvalidOperationException("progress not started");
        if (snapshot.TargetOperations is { } target && target > 0)
        {
            task.IsIndeterminate = false;
            task.MaxValue = target;
        }
        task.Value = Math.Min(snapshot.Operations, task.MaxValue);
        task.Description = Markup.Escape(Fit(_title, snapshot, _layout.DescriptionWidth(console.Profile.Width)));
    }

    public void Stop()
    {
        if (_rendering is null)
            return;
        _stop?.TrySetResult();
        _rendering.GetAwaiter().GetResult();
        _rendering = null;
    }

    /// <summary>
    /// The most detailed description of <paramref name="s"/> that fits <paramref name="width"/> characters: with the
    /// title and everything <see cref="PlainProgress.Describe"/> says, then without memory, without the DMA rate,
    /// without the title; the shortest is cut with an ellipsis. Elapsed time and percentage have their own columns.
    /// </summary>
    public static string Fit(string title, ProgressSnapshot? s, int width)
    {
        width = Math.Max(1, width);
        string[] candidates;
        if (s is null)
            candidates = [title];
        else
        {
            var c = CultureInfo.InvariantCulture;
            var ops = s.TargetOperations is { } target && target > 0
                ? string.Format(c, "{0:N0}/{1:N0} ops", s.Operations, target)
                : string.Format(c, "{0:N0} ops", s.Operations);
            var violations = s.Violations == 1 ? "1 violation" : string.Format(c, "{0:N0} violations", s.Violations);
            var rate = string.Format(c, "{0:N0} DMA/s", s.DmaPerSecond);
            var memory = s.Memory is { } m ? ", " + m.Describe() : "";
            candidates =
            [
                $"{title}: {ops}, {rate}, {violations}{memory}",
                $"{title}: {ops}, {rate}, {violations}",
                $"{title}: {ops}, {violations}",
                $"{ops}, {violations}",
            ];
        }
        foreach (var candidate in candidates)
            if (candidate.Length <= width)
                return candidate;
        var last = candidates[^1];
        return width == 1 ? "…" : last[..(width - 1)] + "…";
    }

    /// <summary>The columns for a terminal width, and what they leave the description.</summary>
    private sealed record Layout(bool Narrow, int BarWidth)
    {
        // Spectre pads every column but the last with one space on the right.
        private const int Spinner = 1, Percentage = 4, Elapsed = 8;

        public static Layout For(int width) => width < NarrowWidth ? new Layout(true, 0) : new Layout(false, Math.Clamp(width / 6, 10, 40));

        public ProgressColumn[] Columns() => Narrow
            ? [new SpinnerColumn(), new TaskDescriptionColumn { Alignment = Justify.Left }]
            : [new SpinnerColumn(), new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn { Width = BarWidth }, new PercentageColumn(), new ElapsedTimeColumn()];

        /// <summary>Characters left for the description on a <paramref name="width"/>-column terminal; one column is kept
        /// free, since writing the last column makes some terminals wrap.</summary>
        public int DescriptionWidth(int width) => Narrow
            ? width - 1 - (Spinner + 1)
            : width - 1 - (Spinner + 1) - 1 - (BarWidth + 1) - (Percentage + 1) - Elapsed;
    }
}
