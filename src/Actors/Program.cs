namespace HvIommu.Actors;

public static class Program
{
    public static int Main(string[] args) => Cli.CommandLine.Run(args, Console.Out, Console.Error);
}
