namespace HvIommu.Actors;

public static class Program
{
    public static int Main(string[] args)
    {
        // The first Ctrl-C asks the running command to stop gracefully (summary, partial report); a second one
        // is not intercepted and ends the process at once.
        using var interrupt = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            if (interrupt.IsCancellationRequested)
                return;
            e.Cancel = true;
            Console.Error.WriteLine("interrupted: stopping after the current step; press Ctrl-C again to abort");
            interrupt.Cancel();
        };
        return Cli.CommandLine.Run(args, Console.Out, Console.Error, interrupt.Token);
    }
}
