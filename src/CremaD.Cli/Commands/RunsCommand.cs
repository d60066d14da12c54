using System.CommandLine;
using CremaD.Datasets;
using System.Globalization;
using CremaD.Contracts;
using CremaD.Runs.Client;

namespace CremaD.Cli.Commands;

/// <summary>
/// <c>cremad runs list|show|submit|cancel|download</c>: a client of the distributed services' runs API. Every call sends
/// the API key (<c>--api-key-file</c>, or the environment variable <c>CREMAD_RUNS_API_KEY</c>); the AppHost prints the
/// API's address and the key file's path when it starts.
/// </summary>
public static class RunsCommand
{
    public const string ApiVariable = "CREMAD_RUNS_API";
    public const string KeyVariable = "CREMAD_RUNS_API_KEY";

    public static Command Create()
    {
        var command = new Command("runs", "Submit, follow, cancel and download runs of the distributed services (the runs API)");
        command.Subcommands.Add(CreateList());
        command.Subcommands.Add(CreateShow());
        command.Subcommands.Add(CreateSubmit());
        command.Subcommands.Add(CreateSweep());
        command.Subcommands.Add(CreateSweeps());
        command.Subcommands.Add(CreateCancel());
        command.Subcommands.Add(CreateDownload());
        return command;
    }

    private sealed class Connection
    {
        public readonly Option<string?> Api = new("--api")
        {
            Description = $"The runs API's address, e.g. http://localhost:5080/ (default: the environment variable {ApiVariable})",
        };

        public readonly Option<FileInfo?> KeyFile = new("--api-key-file")
        {
            Description = $"A file holding the API key, as the AppHost writes it (default: the key in the environment variable {KeyVariable})",
        };

        public void AddTo(Command command)
        {
            command.Options.Add(Api);
            command.Options.Add(KeyFile);
        }

        public RunsClient Open(ParseResult parseResult)
        {
            var text = parseResult.GetValue(Api) ?? (Environment.GetEnvironmentVariable(ApiVariable) is { Length: > 0 } fromEnvironment
                ? fromEnvironment
                : throw new CliException($"no runs API given: pass --api or set {ApiVariable}"));
            if (!Uri.TryCreate(text, UriKind.Absolute, out var api) || api.Scheme is not ("http" or "https"))
            {
                throw new CliException($"--api must be an http(s) address such as http://localhost:5080/, got '{text}'");
            }
            string key;
            if (parseResult.GetValue(KeyFile) is { } file)
            {
                if (!file.Exists) throw new CliException($"{file.FullName}: no such key file");
                if (file.Length > 4096) throw new CliException($"{file.FullName}: {file.Length} bytes is too long for an API key file");
                key = File.ReadAllText(file.FullName).Trim();
            }
            else
            {
                key = Environment.GetEnvironmentVariable(KeyVariable)?.Trim() is { Length: > 0 } keyFromEnvironment
                    ? keyFromEnvironment
                    : throw new CliException($"no API key given: pass --api-key-file or set {KeyVariable}");
            }
            var baseAddress = api.AbsoluteUri.EndsWith('/') ? api : new Uri(api.AbsoluteUri + "/");
            return new RunsClient(RunsClient.CreateHttpClient(baseAddress, key, TimeSpan.FromMinutes(5)));
        }
    }

    private static Argument<Guid> RunId() => new("run-id") { Description = "The run's id" };

    private static Command CreateList()
    {
        var connection = new Connection();
        var limit = new Option<int>("--limit") { Description = "Runs to show, newest first", DefaultValueFactory = _ => 20 };
        var command = new Command("list", "List the newest runs");
        connection.AddTo(command);
        command.Options.Add(limit);
        CliConsole.SetAction(command, async (parseResult, console, cancellationToken) =>
        {
            var runs = await Call(() => connection.Open(parseResult).ListAsync(cancellationToken, parseResult.GetValue(limit))).ConfigureAwait(false);
            console.Line($"{"run",-36}  {"stage",-10} {"progress",8}  {"submitted (UTC)",-19}  {"test acc",8}  name");
            foreach (var run in runs)
            {
                console.Line(string.Create(CultureInfo.InvariantCulture,
                    $"{run.RunId,-36}  {run.Stage.ToString().ToLowerInvariant(),-10} {run.Progress,8:P0}  {run.Timestamps.SubmittedAt.UtcDateTime,-19:yyyy-MM-dd HH:mm:ss}  {(run.Evaluation is { } e ? e.Accuracy.ToString("P1", CultureInfo.InvariantCulture) : ""),8}  {run.Name}"));
            }
            return CliConsole.ExitOk;
        });
        return command;
    }

    private static Command CreateShow()
    {
        var connection = new Connection();
        var runId = RunId();
        var command = new Command("show", "Show a run's status (JSON, as the API serves it)");
        connection.AddTo(command);
        command.Arguments.Add(runId);
        CliConsole.SetAction(command, async (parseResult, console, cancellationToken) =>
        {
            var id = parseResult.GetValue(runId);
            var status = await Call(() => connection.Open(parseResult).GetAsync(id, cancellationToken)).ConfigureAwait(false)
                         ?? throw new CliException($"no run {id:D}");
            console.Line(System.Text.Json.JsonSerializer.Serialize(status, ServiceJson.Options));
            return status.Stage == RunStage.Failed ? 1 : CliConsole.ExitOk;
        });
        return command;
    }

    private static RunModel Fail(System.CommandLine.Parsing.ArgumentResult result, string message)
    {
        result.AddError(message);
        return default;
    }

    /// <summary><c>cremad runs sweep</c>: a speaker-independent cross-validation through the runs API, one run per fold.</summary>
    private static Command CreateSweep()
    {
        var connection = new Connection();
        var dataset = new Option<string>("--dataset") { Description = "A dataset uploaded with `cremad dataset upload --name NAME`", Required = true };
        var folds = new Option<int>("--folds", "-k") { Description = $"Number of folds (3..{FoldRef.MaxCount})", DefaultValueFactory = _ => 5 };
        var foldSeed = new Option<int>("--fold-seed") { Description = "Seed of the actor shuffle that forms the folds", DefaultValueFactory = _ => 42 };
        var name = new Option<string?>("--name") { Description = "A label for the sweep (its runs are named '<label> (fold k of K)')" };
        var epochs = new Option<int?>("--epochs") { Description = "Maximum epochs (default: the recipe's)" };
        var model = ModelOption();
        var wait = new Option<bool>("--wait") { Description = "Follow the sweep until every fold finished; print the per-fold table and the merged model card" };
        var command = new Command("sweep",
            "Cross-validate through the runs API: one run per speaker-independent fold (sex-balanced actor folds), taken in parallel by the trainer replicas");
        connection.AddTo(command);
        foreach (var option in new Option[] { dataset, folds, foldSeed, name, epochs, model, wait }) command.Options.Add(option);
        CliConsole.SetAction(command, async (parseResult, console, cancellationToken) =>
        {
            var client = connection.Open(parseResult);
            var config = RunConfig.Default with { Model = parseResult.GetValue(model) };
            if (parseResult.GetValue(epochs) is { } n) config = config with { Epochs = n };
            var submitted = await Call(() => client.SubmitSweepAsync(new SubmitSweepRequest(parseResult.GetRequiredValue(dataset), parseResult.GetValue(folds),
                config, parseResult.GetValue(name), parseResult.GetValue(foldSeed)), cancellationToken)).ConfigureAwait(false);
            console.Line(submitted.SweepId.ToString("D"));
            if (!parseResult.GetValue(wait)) return CliConsole.ExitOk;
            SweepStatus? status;
            var shown = "";
            do
            {
                await Task.Delay(TimeSpan.FromSeconds(2), cancellationToken).ConfigureAwait(false);
                status = await Call(() => client.GetSweepAsync(submitted.SweepId, cancellationToken)).ConfigureAwait(false);
                var line = status is null ? "" : string.Join("  ", status.FoldRuns.Select(f =>
                    string.Create(CultureInfo.InvariantCulture, $"fold {f.Fold}: {f.Stage.ToString().ToLowerInvariant()} {f.Progress:P0}")));
                if (line != shown) console.Line(shown = line);
            }
            while (status is null || !(status.Stage == RunStage.Completed || status.FoldRuns.All(f => f.Stage.IsTerminal())));
            foreach (var fold in status.FoldRuns)
            {
                console.Line(string.Create(CultureInfo.InvariantCulture,
                    $"fold {fold.Fold} ({fold.RunId:D}): {fold.Stage.ToString().ToLowerInvariant()}{(fold.Accuracy is { } a ? $", test accuracy {a:P1}, macro F1 {fold.MacroF1:F3}" : "")}{(fold.Worker is { } w ? $", trained on {w}" : "")}"));
            }
            if (status.AccuracyMean is { } mean)
            {
                console.Line(string.Create(CultureInfo.InvariantCulture,
                    $"cross-validation over {status.CompletedFolds} of {status.Folds} folds: accuracy {100 * mean:F1} ± {100 * status.AccuracySd:F1} %, macro-F1 {status.MacroF1Mean:F3} ± {status.MacroF1Sd:F3}"));
            }
            if (status.Stage != RunStage.Completed) return 1;
            console.Line(await Call(() => client.GetSweepModelCardAsync(submitted.SweepId, markdown: true, cancellationToken)).ConfigureAwait(false));
            return CliConsole.ExitOk;
        });
        return command;
    }

    /// <summary><c>cremad runs sweeps</c>: the newest cross-validation sweeps with their mean ± sd.</summary>
    private static Command CreateSweeps()
    {
        var connection = new Connection();
        var limit = new Option<int>("--limit") { Description = "Sweeps to show, newest first (1..100)", DefaultValueFactory = _ => 20 };
        var command = new Command("sweeps", "List the newest cross-validation sweeps: folds done, test accuracy and macro-F1 (mean ± sd over the folds)");
        connection.AddTo(command);
        command.Options.Add(limit);
        CliConsole.SetAction(command, async (parseResult, console, cancellationToken) =>
        {
            var sweeps = await Call(() => connection.Open(parseResult).ListSweepsAsync(cancellationToken, parseResult.GetValue(limit))).ConfigureAwait(false);
            console.Line($"{"sweep",-36}  {"stage",-10} {"folds",5}  {"submitted (UTC)",-19}  {"accuracy",-14}  {"macro-F1",-13}  name");
            foreach (var sweep in sweeps)
            {
                var accuracy = sweep.AccuracyMean is { } a ? string.Create(CultureInfo.InvariantCulture, $"{100 * a:F1} ± {100 * sweep.AccuracySd:F1} %") : "";
                var macroF1 = sweep.MacroF1Mean is { } f ? string.Create(CultureInfo.InvariantCulture, $"{f:F3} ± {sweep.MacroF1Sd:F3}") : "";
                console.Line(string.Create(CultureInfo.InvariantCulture,
                    $"{sweep.SweepId,-36}  {sweep.Stage.ToString().ToLowerInvariant(),-10} {sweep.CompletedFolds + "/" + sweep.Folds,5}  {sweep.SubmittedAt.UtcDateTime,-19:yyyy-MM-dd HH:mm:ss}  {accuracy,-14}  {macroF1,-13}  {sweep.Name}"));
            }
            return CliConsole.ExitOk;
        });
        return command;
    }

    private static Option<RunModel> ModelOption() => new("--model")
    {
        Description = "statpool (the default) or seed (the original model and recipe)",
        DefaultValueFactory = _ => RunConfig.Default.Model,
        CustomParser = r => r.Tokens.Single().Value.ToLowerInvariant() switch
        {
            "statpool" => RunModel.StatPool,
            "seed" => RunModel.Seed,
            var other => Fail(r, $"--model must be statpool or seed, got '{other}'"),
        },
    };

    private static Command CreateSubmit()
    {
        var connection = new Connection();
        var dataset = new Option<string>("--dataset") { Description = "A dataset uploaded with `cremad dataset upload --name NAME`", Required = true };
        var name = new Option<string?>("--name") { Description = "A label for the run" };
        var epochs = new Option<int?>("--epochs") { Description = "Maximum epochs (default: the recipe's)" };
        var wait = new Option<bool>("--wait") { Description = "Follow the run until it finishes; exit code 0 only if it completed" };
        var labelsFrom = CommonOptions.LabelsFrom();
        var model = ModelOption();
        var command = new Command("submit", "Submit a run on an uploaded dataset");
        connection.AddTo(command);
        command.Options.Add(dataset);
        command.Options.Add(name);
        command.Options.Add(epochs);
        command.Options.Add(labelsFrom);
        command.Options.Add(model);
        command.Options.Add(wait);
        CliConsole.SetAction(command, async (parseResult, console, cancellationToken) =>
        {
            var client = connection.Open(parseResult);
            var config = RunConfig.Default with { Model = parseResult.GetValue(model) };
            if (parseResult.GetValue(epochs) is { } n) config = config with { Epochs = n };
            var id = await Call(() => client.SubmitAsync(new SubmitRunRequest(parseResult.GetRequiredValue(dataset), config, parseResult.GetValue(name),
                LabelsFrom: parseResult.GetValue(labelsFrom) == LabelSource.Perceived ? LabelSourceChoice.Perceived : LabelSourceChoice.Acted),
                cancellationToken)).ConfigureAwait(false);
            console.Line(id.ToString("D"));
            if (!parseResult.GetValue(wait)) return CliConsole.ExitOk;
            RunStatus? status;
            var shown = "";
            do
            {
                await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken).ConfigureAwait(false);
                status = await Call(() => client.GetAsync(id, cancellationToken)).ConfigureAwait(false);
                var line = status is null ? "" : string.Create(CultureInfo.InvariantCulture,
                    $"{status.Stage.ToString().ToLowerInvariant()} {status.Progress:P0}, epoch {status.Training.EpochsCompleted}/{status.Config.Epochs}");
                if (line != shown) console.Line(shown = line);
            }
            while (status is null || !status.Stage.IsTerminal());
            foreach (var error in status.Errors) console.Line($"{error.Stage}: {error.Message}");
            if (status.Evaluation is { } evaluation)
            {
                console.Line(string.Create(CultureInfo.InvariantCulture, $"test accuracy {evaluation.Accuracy:P1}, macro F1 {evaluation.MacroF1:F3}"));
            }
            return status.Stage == RunStage.Completed ? CliConsole.ExitOk : 1;
        });
        return command;
    }

    private static Command CreateCancel()
    {
        var connection = new Connection();
        var runId = RunId();
        var command = new Command("cancel", "Cancel a run that has not finished");
        connection.AddTo(command);
        command.Arguments.Add(runId);
        CliConsole.SetAction(command, async (parseResult, console, cancellationToken) =>
        {
            var id = parseResult.GetValue(runId);
            var cancelled = await Call(() => connection.Open(parseResult).CancelAsync(id, cancellationToken)).ConfigureAwait(false);
            console.Line(cancelled ? $"cancelling {id:D}" : $"{id:D} has already finished");
            return CliConsole.ExitOk;
        });
        return command;
    }

    private static Command CreateDownload()
    {
        var connection = new Connection();
        var runId = RunId();
        var output = new Option<DirectoryInfo>("--out", "-o") { Description = "Folder to write the artefacts to", Required = true };
        var command = new Command("download", "Download a run's artefacts (model, plots, reports) and its status");
        connection.AddTo(command);
        command.Arguments.Add(runId);
        command.Options.Add(output);
        CliConsole.SetAction(command, async (parseResult, console, cancellationToken) =>
        {
            var client = connection.Open(parseResult);
            var id = parseResult.GetValue(runId);
            var status = await Call(() => client.GetAsync(id, cancellationToken)).ConfigureAwait(false) ?? throw new CliException($"no run {id:D}");
            var files = await Call(() => client.DownloadArtifactsAsync(status, parseResult.GetRequiredValue(output).FullName, cancellationToken))
                .ConfigureAwait(false);
            foreach (var file in files) console.Line(file);
            return CliConsole.ExitOk;
        });
        return command;
    }

    /// <summary>An API or network failure as a CLI error (one line, the API's own words), not a stack trace.</summary>
    private static async Task<T> Call<T>(Func<Task<T>> call)
    {
        try
        {
            return await call().ConfigureAwait(false);
        }
        catch (Exception e) when (e is InvalidOperationException or HttpRequestException)
        {
            throw new CliException(e.Message);
        }
    }
}
