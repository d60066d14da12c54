using System.CommandLine;
using CremaD.Cli.Commands;

namespace CremaD.Cli;

/// <summary>The <c>cremad</c> command tree. Each command lives in Commands/ with a static <c>Create()</c>.</summary>
public static class CremaDCommandLine
{
    public static RootCommand CreateRootCommand()
    {
        var root = new RootCommand("CremaD: speech-emotion recognition on CREMA-D — features, training, evaluation.")
        {
            CommonOptions.Verbose(),
        };
        root.Subcommands.Add(LogmelCommand.Create());
        root.Subcommands.Add(FeaturesCommand.Create());
        root.Subcommands.Add(DatasetCommand.Create());
        root.Subcommands.Add(TrainCommand.Create());
        root.Subcommands.Add(EvaluateCommand.Create());
        root.Subcommands.Add(PredictCommand.Create());
        root.Subcommands.Add(RunCommand.Create());
        root.Subcommands.Add(RunsCommand.Create());
        root.Subcommands.Add(BaselineCommand.Create());
        root.Subcommands.Add(CrossValidationCommand.Create());
        root.Subcommands.Add(BenchmarkCommand.Create());
        return root;
    }

    /// <summary>Parses and runs <paramref name="args"/>; output and error go to the given writers (default: the console).</summary>
    public static Task<int> InvokeAsync(string[] args, TextWriter? output = null, TextWriter? error = null, CancellationToken cancellationToken = default)
    {
        var configuration = new InvocationConfiguration();
        if (output is not null) configuration.Output = output;
        if (error is not null) configuration.Error = error;
        return CreateRootCommand().Parse(args).InvokeAsync(configuration, cancellationToken);
    }
}
