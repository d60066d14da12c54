using System.CommandLine;
using System.Diagnostics;
using CremaD.Audio;
using CremaD.Datasets;
using Spectre.Console;

namespace CremaD.Cli;

/// <summary>A user-facing error: printed as one line, exit code 1.</summary>
public sealed class CliException(string message) : Exception(message);

/// <summary>
/// Where a command writes, and the shared way commands report errors and progress. Output goes to the
/// invocation's writers (the console, or a StringWriter in tests); a live progress bar is drawn only on an
/// interactive terminal, otherwise progress is a plain line every few seconds.
/// </summary>
public sealed class CliConsole
{
    public const int ExitOk = 0;
    /// <summary>Bad input: a missing or malformed file, a bad argument.</summary>
    public const int ExitBadInput = 1;
    /// <summary>A bug or an unexpected failure (EX_SOFTWARE).</summary>
    public const int ExitInternalError = 70;
    /// <summary>Interrupted (128 + SIGINT).</summary>
    public const int ExitCancelled = 130;

    private static readonly TimeSpan PlainProgressInterval = TimeSpan.FromSeconds(2);

    private CliConsole(TextWriter output, TextWriter error, bool verbose)
    {
        Out = output;
        Error = error;
        Verbose = verbose;
    }

    public TextWriter Out { get; }

    public TextWriter Error { get; }

    public bool Verbose { get; }

    /// <summary>True on a terminal a progress bar can redraw (not redirected, not CI, not a test writer).</summary>
    public bool IsInteractive =>
        ReferenceEquals(Out, Console.Out) && !Console.IsOutputRedirected
        && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("CI"))
        && AnsiConsole.Profile.Capabilities.Interactive;

    public static CliConsole From(ParseResult parseResult) =>
        new(parseResult.InvocationConfiguration.Output, parseResult.InvocationConfiguration.Error,
            parseResult.GetValue<bool>(CommonOptions.VerboseName));

    public void Line(string text = "") => Out.WriteLine(text);

    public void Warning(string text) => Error.WriteLine($"warning: {text}");

    /// <summary>
    /// Sets <paramref name="command"/>'s action to <paramref name="run"/>, turning the failures a user can fix
    /// into a one-line message naming the file and the reason (stack trace only with --verbose).
    /// </summary>
    public static void SetAction(Command command, Func<ParseResult, CliConsole, CancellationToken, Task<int>> run)
    {
        command.SetAction(async (parseResult, cancellationToken) =>
        {
            var console = From(parseResult);
            try
            {
                return await run(parseResult, console, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                console.Error.WriteLine("cancelled");
                return ExitCancelled;
            }
            catch (Exception e) when (e is CliException or DatasetFormatException or AudioFormatException
                or IOException or UnauthorizedAccessException)
            {
                console.Error.WriteLine($"error: {e.Message}");
                if (console.Verbose) console.Error.WriteLine(e);
                return ExitBadInput;
            }
            catch (Exception e)
            {
                console.Error.WriteLine($"error: unexpected {e.GetType().Name}: {e.Message}");
                console.Error.WriteLine(console.Verbose ? e.ToString() : "(run with --verbose for the stack trace)");
                return ExitInternalError;
            }
        });
    }

    /// <summary>Runs the feature stage (or anything reporting <see cref="FeatureProgress"/>) with a progress display.</summary>
    public async Task<T> WithFeatureProgressAsync<T>(string title, Func<IProgress<FeatureProgress>, Task<T>> work)
    {
        if (!IsInteractive)
        {
            var plain = new PlainProgress(Out, title);
            var result = await work(plain).ConfigureAwait(false);
            plain.Finish();
            return result;
        }

        return await AnsiConsole.Progress()
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
            .StartAsync(async context =>
            {
                var task = context.AddTask(title, autoStart: true);
                var display = new SyncProgress(p =>
                {
                    task.MaxValue = Math.Max(1, p.Total);
                    task.Value = p.Done;
                    task.Description = $"{title} {p.Done}/{p.Total} clips, {p.ClipsPerSecond:F0} clips/s"
                        + (p.Rejected > 0 ? $", {p.Rejected} rejected" : "")
                        + (p.Phase is "extracting" or "done" ? "" : $" ({p.Phase})");
                });
                var result = await work(display).ConfigureAwait(false);
                task.Value = task.MaxValue;
                return result;
            })
            .ConfigureAwait(false);
    }

    /// <summary>Reports on the reporting thread (Progress&lt;T&gt; would post to the thread pool and reorder updates).</summary>
    private sealed class SyncProgress(Action<FeatureProgress> report) : IProgress<FeatureProgress>
    {
        private readonly Lock _lock = new();

        public void Report(FeatureProgress value)
        {
            lock (_lock) report(value);
        }
    }

    /// <summary>One line every couple of seconds, for logs and redirected output.</summary>
    private sealed class PlainProgress(TextWriter output, string title) : IProgress<FeatureProgress>
    {
        private readonly Lock _lock = new();
        private readonly Stopwatch _sincePrinted = Stopwatch.StartNew();
        private FeatureProgress? _last;
        private bool _printed;

        public void Report(FeatureProgress value)
        {
            lock (_lock)
            {
                _last = value;
                if (_sincePrinted.Elapsed < PlainProgressInterval || value.Phase == "done") return;
                Print(value);
            }
        }

        public void Finish()
        {
            lock (_lock)
            {
                // Long runs end with a last progress line; short ones print nothing beyond the command's summary.
                if (_printed && _last is { } last) Print(last);
            }
        }

        private void Print(FeatureProgress p)
        {
            var percent = p.Total == 0 ? 100 : 100.0 * p.Done / p.Total;
            output.WriteLine($"{title}: {p.Done}/{p.Total} clips ({percent:F0}%), {p.ClipsPerSecond:F0} clips/s, {p.Rejected} rejected, {p.Elapsed.TotalSeconds:F1} s [{p.Phase}]");
            _sincePrinted.Restart();
            _printed = true;
        }
    }
}
