using CremaD.Benchmarks.Services;

// Exit codes as the cremad CLI's: 0 success, 1 bad arguments, 70 internal error, 130 interrupted.
BenchmarkOptions? options;
try
{
    options = BenchmarkOptions.Parse(args);
}
catch (BenchmarkUsageException e)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 1;
}
if (options is null)
{
    Console.WriteLine(BenchmarkOptions.Usage);
    return 0;
}

using var interrupt = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    interrupt.Cancel();
};
try
{
    // Progress goes to standard error, so that --json leaves standard output to the results.
    if (options.SweepFolds > 0)
    {
        var sweeps = await new SweepBenchmark(options, Console.Error).RunAsync(interrupt.Token);
        var sweepJson = SweepBenchmark.ToJson(sweeps);
        if (options.OutputFile is { } sweepFile) await File.WriteAllTextAsync(sweepFile, sweepJson + Environment.NewLine);
        Console.WriteLine(options.Json ? sweepJson : SweepBenchmark.ToText(sweeps, options.SweepFolds));
        return 0;
    }
    var results = await new ServicesBenchmark(options, Console.Error).RunAsync(interrupt.Token);
    var json = results.ToJson();
    if (options.OutputFile is { } file) await File.WriteAllTextAsync(file, json + Environment.NewLine);
    Console.WriteLine(options.Json ? json : results.ToText());
    return 0;
}
catch (OperationCanceledException) when (interrupt.IsCancellationRequested)
{
    Console.Error.WriteLine("interrupted");
    return 130;
}
catch (Exception e)
{
    Console.Error.WriteLine($"error: {e}");
    return 70;
}
