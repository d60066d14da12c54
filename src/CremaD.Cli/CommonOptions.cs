using CremaD.Datasets;
using System.CommandLine;

namespace CremaD.Cli;

/// <summary>Options several commands share, so they are spelled and validated the same way everywhere.</summary>
public static class CommonOptions
{
    public const string VerboseName = "--verbose";

    /// <summary>Added once, to the root; applies to every subcommand: show stack traces and extra detail.</summary>
    public static Option<bool> Verbose() => new(VerboseName, "-v")
    {
        Description = "Show details, and stack traces on errors",
        Recursive = true,
    };

    public static Option<DirectoryInfo> DataRoot(bool required = true) => new("--data-root")
    {
        Description = "Dataset folder: labels.csv (course layout) or AudioWAV/ (official layout)"
            + (required ? "" : "; default: the built-in demo dataset"),
        Required = required,
    };

    public static Option<int> NumWorkers()
    {
        var option = new Option<int>("--num-workers", "-j")
        {
            Description = "Worker threads for feature extraction (default: one per processor)",
            DefaultValueFactory = _ => Environment.ProcessorCount,
        };
        option.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() < 1) result.AddError("--num-workers must be at least 1");
        });
        return option;
    }

    public static Option<int> Seed() => new("--seed")
    {
        Description = "Seed of the speaker-independent actor split (official layout)",
        DefaultValueFactory = _ => 42,
    };

    public static Option<FileInfo?> Labels() => new("--labels")
    {
        Description = "A labels.csv other than <data-root>/labels.csv (its paths are relative to its own folder)",
    };

    public static Option<LabelSource> LabelsFrom() => new("--labels-from")
    {
        Description = "acted: the emotion the actor portrayed (file name or labels.csv); perceived: the majority of CREMA-D's " +
            "crowd ratings of the voice (summaryTable.csv, built in), clips without a single voice vote set aside as rejected",
        DefaultValueFactory = _ => LabelSource.Acted,
    };

    public static Option<FileInfo?> Demographics() => new("--demographics")
    {
        Description = "VideoDemographics.csv for a sex-balanced split, if not beside AudioWAV/",
    };
}
