using System.CommandLine;
using CremaD.BlobStaging;
using CremaD.Datasets;
using CremaD.Storage;

namespace CremaD.Cli.Commands;

/// <summary><c>cremad dataset split|info</c>: look at a dataset and turn the official layout into course labels.</summary>
public static class DatasetCommand
{
    public static Command Create()
    {
        var command = new Command("dataset", "Inspect a dataset, or split an official-layout one by actor into a labels.csv");
        command.Subcommands.Add(CreateSplit());
        command.Subcommands.Add(CreateInfo());
        command.Subcommands.Add(CreateUpload());
        return command;
    }

    private static Command CreateUpload()
    {
        var directory = new Argument<DirectoryInfo>("dir") { Description = "The dataset folder (course or official layout)" };
        var name = new Option<string>("--name") { Description = "Dataset name: it is stored under datasets/<name>/", Required = true };
        var connection = new Option<string?>("--connection-string")
        {
            Description = "Blob storage: an account/Azurite connection string, a blob endpoint URI, or a local folder " +
                          "(default: the ConnectionStrings__blobs environment variable, as the services read it)",
        };
        var container = new Option<string>("--container") { Description = "Blob container", DefaultValueFactory = _ => "cremad" };
        var packClips = new Option<int>("--pack-clips")
        {
            Description = "Clips per pack blob (the feature services read a pack's clips in a few requests, not one each); " +
                          "0 uploads one blob per file",
            DefaultValueFactory = _ => DatasetPacks.DefaultClipsPerPack,
        };
        packClips.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() is < 0 or > 100_000) result.AddError("--pack-clips must be in [0, 100000]");
        });
        var command = new Command("upload", "Upload a local dataset into blob storage, where the distributed services read it");
        command.Arguments.Add(directory);
        command.Options.Add(name);
        command.Options.Add(connection);
        command.Options.Add(container);
        command.Options.Add(packClips);
        CliConsole.SetAction(command, async (parseResult, console, cancellationToken) =>
        {
            var connectionString = parseResult.GetValue(connection) ?? Environment.GetEnvironmentVariable("ConnectionStrings__blobs")
                ?? throw new CliException("no blob storage given: pass --connection-string or set ConnectionStrings__blobs");
            IBlobStore store;
            try
            {
                store = BlobStoreFactory.FromConnectionString(connectionString, parseResult.GetRequiredValue(container));
            }
            catch (FormatException e)
            {
                throw new CliException(e.Message);
            }
            var (prefix, files, data) = await BlobDataset.UploadAsync(store, parseResult.GetRequiredValue(directory).FullName,
                parseResult.GetRequiredValue(name), clipsPerPack: parseResult.GetValue(packClips), cancellationToken: cancellationToken).ConfigureAwait(false);
            console.Line($"dataset: {data.Root} ({DatasetArguments.Describe(data)})");
            console.Line(parseResult.GetValue(packClips) > 0
                ? $"uploaded {data.Clips.Count} clips in packs and the other files, {files} blobs, to {prefix} in {store.Location}"
                : $"uploaded {files} files to {prefix} in {store.Location}");
            return CliConsole.ExitOk;
        });
        return command;
    }

    private static Command CreateSplit()
    {
        var dataset = new DatasetArguments();
        var output = new Option<FileInfo>("--out", "-o")
        {
            Description = "labels.csv to write (paths in it are relative to its folder)",
            Required = true,
        };
        var command = new Command("split",
            "Split an official-layout dataset (AudioWAV/*.wav) by actor, 70/15/15 and balanced by sex, and write course-layout labels");
        dataset.AddTo(command);
        command.Options.Add(output);
        CliConsole.SetAction(command, (parseResult, console, _) =>
        {
            var data = dataset.Open(parseResult, DatasetLayout.Official);
            var outputPath = parseResult.GetRequiredValue(output).FullName;
            LabelsCsv.Write(data, outputPath);
            PrintCounts(console, data);
            console.Line($"wrote {outputPath} ({data.Clips.Count} clips)");
            return Task.FromResult(CliConsole.ExitOk);
        });
        return command;
    }

    private static Command CreateInfo()
    {
        var dataset = new DatasetArguments();
        var command = new Command("info", "Show a dataset's layout, partitions, actors and class counts (reads no audio)");
        dataset.AddTo(command);
        CliConsole.SetAction(command, (parseResult, console, _) =>
        {
            var data = dataset.Open(parseResult);
            PrintCounts(console, data);
            console.Line($"fingerprint: {DatasetFingerprint.Compute(data)}");
            return Task.FromResult(CliConsole.ExitOk);
        });
        return command;
    }

    private static void PrintCounts(CliConsole console, Dataset data)
    {
        console.Line($"dataset: {data.Root} ({DatasetArguments.Describe(data)})");
        var demographics = data.DemographicsPath is null ? null : ActorDemographics.Read(data.DemographicsPath);
        string Sexes(IReadOnlyList<string> actors)
        {
            if (demographics is null) return "";
            var male = actors.Count(a => demographics.TryGetValue(a, out var info) && info.Sex == "Male");
            var female = actors.Count(a => demographics.TryGetValue(a, out var info) && info.Sex == "Female");
            return $" {$"{male}/{female}",7}";
        }
        console.Line($"{"partition",-11} {"actors",6}{(demographics is null ? "" : $" {"M/F",7}")} {"clips",6}  {string.Join(" ", Emotions.Codes.Select(c => $"{c,5}"))}");
        foreach (var partition in Enum.GetValues<Partition>())
        {
            var counts = data.CountByClass(partition);
            var actors = data.Actors(partition);
            console.Line($"{partition.ToName(),-11} {actors.Count,6}{Sexes(actors)} {data.Count(partition),6}  {string.Join(" ", counts.Select(c => $"{c,5}"))}");
        }
        foreach (var rejected in data.Rejected) console.Line($"rejected: {rejected.Path}: {rejected.Reason}");
    }
}
