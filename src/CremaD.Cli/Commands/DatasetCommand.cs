using System.CommandLine;
using CremaD.Datasets;

namespace CremaD.Cli.Commands;

/// <summary><c>cremad dataset split|info</c>: look at a dataset and turn the official layout into course labels.</summary>
public static class DatasetCommand
{
    public static Command Create()
    {
        var command = new Command("dataset", "Inspect a dataset, or split an official-layout one by actor into a labels.csv");
        command.Subcommands.Add(CreateSplit());
        command.Subcommands.Add(CreateInfo());
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
