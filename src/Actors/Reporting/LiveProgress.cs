using Spectre.Console;

namespace HvIommu.Actors.Reporting;

/// <summary>
/// Progress as a live Spectre.Console bar on an interactive terminal: a spinner, the title with the
/// DMA rate and violation count, a bar when the run has a target number of operations, and the
/// elapsed time. Spectre redraws on its own thread; <see cref="Update"/> only sets values.
/// </summary>
public sealed class LiveProgress(IAnsiConsole console) : IRunProgress
{
    private Task? _rendering;
    private TaskCompletionSource? _stop;
    private ProgressTask? _task;
    private string _title = "run";

    public void Start(string title)
    {
        if (_rendering is not null)
            throw new InvalidOperationException("progress already started");
        _title = title;
        var stop = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _stop = stop;
        var started = new TaskCompletionSource<ProgressTask>(TaskCreationOptions.RunContinuationsAsynchronously);
        _rendering = console.Progress()
            .AutoClear(false)
            .Columns(new SpinnerColumn(), new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .StartAsync(async context =>
            {
                var task = context.AddTask(Markup.Escape(title));
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
        task.Description = Markup.Escape($"{_title}: {PlainProgress.Describe(snapshot)}");
    }

    public void Stop()
    {
        if (_rendering is null)
            return;
        _stop?.TrySetResult();
        _rendering.GetAwaiter().GetResult();
        _rendering = null;
    }
}
