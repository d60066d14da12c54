using System.CommandLine;
using System.Globalization;
using CremaD.Datasets;

namespace CremaD.Cli.Commands;

/// <summary>
/// The options that pick a dataset (--data-root, --labels, --seed, --demographics, --labels-from), added to a command
/// together and turned into a <see cref="Dataset"/> in one place.
/// </summary>
public sealed class DatasetArguments(bool dataRootRequired = true)
{
    public Option<DirectoryInfo> DataRoot { get; } = CommonOptions.DataRoot(dataRootRequired);
    public Option<FileInfo?> Labels { get; } = CommonOptions.Labels();
    public Option<int> Seed { get; } = CommonOptions.Seed();
    public Option<FileInfo?> Demographics { get; } = CommonOptions.Demographics();
    public Option<LabelSource> LabelsFrom { get; } = CommonOptions.LabelsFrom();

    public void AddTo(Command command)
    {
        command.Options.Add(DataRoot);
        command.Options.Add(Labels);
        command.Options.Add(Seed);
        command.Options.Add(Demographics);
        command.Options.Add(LabelsFrom);
    }

    public DatasetOptions Options(ParseResult parseResult, DatasetLayout? layout = null) => new()
    {
        Layout = layout,
        LabelsPath = parseResult.GetValue(Labels)?.FullName,
        Seed = parseResult.GetValue(Seed),
        DemographicsPath = parseResult.GetValue(Demographics)?.FullName,
        LabelsFrom = parseResult.GetValue(LabelsFrom),
    };

    public Dataset Open(ParseResult parseResult, DatasetLayout? layout = null) =>
        DatasetReader.Open(parseResult.GetRequiredValue(DataRoot).FullName, Options(parseResult, layout));

    /// <summary>"course layout, 131 clips (train 87, validation 22, test 22), 6 actors".</summary>
    public static string Describe(Dataset dataset)
    {
        var partitions = string.Join(", ", Enum.GetValues<Partition>().Select(p => $"{p.ToName()} {dataset.Count(p)}"));
        var actors = dataset.Actors().Count;
        var text = $"{dataset.Layout.ToString().ToLowerInvariant()} layout, {dataset.Clips.Count} clips ({partitions})"
            + (actors > 0 ? $", {actors} actors" : "");
        if (dataset.Layout == DatasetLayout.Official)
        {
            text += $", split by actor with seed {dataset.SplitSeed?.ToString(CultureInfo.InvariantCulture)}"
                + (dataset.DemographicsPath is null ? " (no VideoDemographics.csv: not balanced by sex)" : ", balanced by sex");
        }
        if (dataset.LabelsFrom == LabelSource.Perceived)
            text += $"; labels: perceived emotion (CREMA-D voice votes), {dataset.Rejected.Count} files set aside";
        return text;
    }
}
