using HvIommu.Model.Driver;

namespace HvIommu.Model.Tests.Driver;

/// <summary><see cref="GuestTask"/>, the driver paths' task type: a path that never suspends, one that suspends
/// several times (its state lives in one object from its first await on), a failure after a suspension, and a path
/// an actor started whose later failure is thrown from the receive that resumes it.</summary>
[Trait("Category", "Model")]
public sealed class GuestTaskTests
{
    /// <summary>Stands in for the vCPU's hypercalls: each call returns a pending task the test completes.</summary>
    private sealed class Calls
    {
        public List<GuestTask<int>> Pending { get; } = [];

        public GuestTask<int> Call()
        {
            var task = new GuestTask<int>();
            Pending.Add(task);
            return task;
        }
    }

    /// <summary>The result of a path that must have ended.</summary>
    private static T Ended<T>(GuestTask<T> task)
    {
        Assert.True(task.IsCompleted);
        return task.GetResult();
    }

    private static async GuestTask NeverSuspends(List<string> log)
    {
        log.Add("ran");
        await GuestTask.Done;
    }

    private static async GuestTask<int> SumOfThree(Calls calls, List<string> log)
    {
        var sum = 0;
        for (var i = 0; i < 3; i++)
        {
            sum += await calls.Call();
            log.Add($"after {i}: {sum}");
        }
        return sum;
    }

    private static async GuestTask Outer(Calls calls, List<string> log)
    {
        var sum = await SumOfThree(calls, log);
        log.Add($"outer got {sum}");
        sum += await calls.Call();
        log.Add($"outer done {sum}");
    }

    private static async GuestTask FailsAfterACall(Calls calls)
    {
        if (await calls.Call() > 0)
            throw new InvalidOperationException("the path failed");
    }

    private static async GuestTask<string> Catches(Calls calls)
    {
        try
        {
            await FailsAfterACall(calls);
            return "no failure";
        }
        catch (InvalidOperationException e)
        {
            return e.Message;
        }
    }

    [Fact]
    public void A_path_that_never_suspends_is_completed_when_it_returns()
    {
        var log = new List<string>();
        var task = NeverSuspends(log);
        Assert.True(task.IsCompleted);
        Assert.False(task.IsFaulted);
        Assert.Equal(["ran"], log);
    }

    [Fact]
    public void A_path_suspended_at_each_call_resumes_in_order_with_each_result_and_completes_its_caller()
    {
        var calls = new Calls();
        var log = new List<string>();
        var task = Outer(calls, log);
        foreach (var value in new[] { 1, 2, 3, 4 })
        {
            Assert.False(task.IsCompleted);
            Assert.Equal(value, calls.Pending.Count);
            calls.Pending[^1].SetResult(value);
        }
        Assert.True(task.IsCompleted);
        Assert.Equal(["after 0: 1", "after 1: 3", "after 2: 6", "outer got 6", "outer done 10"], log);
    }

    [Fact]
    public void A_failure_after_a_suspension_reaches_the_awaiting_path()
    {
        var calls = new Calls();
        var task = Catches(calls);
        Assert.False(task.IsCompleted);
        calls.Pending[0].SetResult(1);
        Assert.Equal("the path failed", Ended(task));
    }

    [Fact]
    public void A_started_path_that_fails_later_throws_from_whoever_resumes_it()
    {
        var calls = new Calls();
        var task = FailsAfterACall(calls);
        task.RethrowFaults();
        var thrown = Assert.Throws<InvalidOperationException>(() => calls.Pending[0].SetResult(1));
        Assert.Equal("the path failed", thrown.Message);
        Assert.True(task.IsFaulted);
    }

    [Fact]
    public void A_started_path_that_ends_well_later_throws_nothing()
    {
        var calls = new Calls();
        var task = FailsAfterACall(calls);
        task.RethrowFaults();
        calls.Pending[0].SetResult(0);
        Assert.True(task.IsCompleted);
        Assert.False(task.IsFaulted);
    }

    [Fact]
    public void A_guest_task_is_awaited_once()
    {
        var task = new GuestTask<int>();
        task.RethrowFaults();
        Assert.Throws<InvalidOperationException>(() => task.OnCompleted(() => { }));
    }
}
