namespace CremaD.Contracts;

/// <summary>
/// Every message of the run lifecycle is about one run and carries its id. Hosts built with
/// <c>AddCremaDMessaging</c> use <see cref="RunId"/> as MassTransit's CorrelationId, so logs and traces of all
/// services group by run. The interface is not a message type of its own: the hosts exclude it from the broker
/// topology (no exchange is created for it), so publishing a concrete record reaches only that record's consumers.
/// </summary>
public interface IRunMessage
{
    Guid RunId { get; }

    /// <summary>
    /// What is wrong with the message, one sentence per problem naming the field; empty when it is valid.
    /// Checks only what the message alone can tell (ranges, required fields, internal consistency); whether a
    /// blob exists is for the consumer to find out. <see cref="RunMessageValidation.ThrowIfInvalid"/> turns the
    /// list into an <see cref="InvalidMessageException"/>.
    /// </summary>
    IReadOnlyList<string> FindProblems();
}

/// <summary>
/// An event of the run lifecycle (something that happened), published by the service that did it. The runs API
/// folds them into a <see cref="RunStatus"/> with <see cref="RunStatus.Apply"/>.
/// </summary>
public interface IRunEvent : IRunMessage
{
    /// <summary>When it happened, by the clock of the service that publishes the event.</summary>
    DateTimeOffset Timestamp { get; }
}

/// <summary>
/// A message that can never be processed as it is (a missing field, an impossible value, an inconsistent shard
/// plan). Retrying cannot help, so hosts built with <c>AddCremaDMessaging</c> do not retry it: it goes straight to
/// the endpoint's <c>_error</c> queue with this exception's text, and the coordinator fails the run.
/// </summary>
public sealed class InvalidMessageException : Exception
{
    public InvalidMessageException(string messageType, Guid? runId, IReadOnlyList<string> problems)
        : base(Describe(messageType, runId, problems))
    {
        MessageType = messageType;
        RunId = runId;
        Problems = problems;
    }

    /// <summary>Name of the message type, e.g. "ExtractFeatureShard".</summary>
    public string MessageType { get; }

    public Guid? RunId { get; }

    /// <summary>One sentence per problem.</summary>
    public IReadOnlyList<string> Problems { get; }

    private static string Describe(string messageType, Guid? runId, IReadOnlyList<string> problems)
    {
        ArgumentNullException.ThrowIfNull(problems);
        var run = runId is { } id ? $" for run {id:D}" : "";
        return problems.Count == 0
            ? $"{messageType}{run} is invalid."
            : $"{messageType}{run} is invalid: {string.Join(" ", problems)}";
    }
}

/// <summary>Validation entry points shared by every message.</summary>
public static class RunMessageValidation
{
    /// <summary>Throws <see cref="InvalidMessageException"/> listing every problem of <paramref name="message"/>.</summary>
    public static T ThrowIfInvalid<T>(this T message) where T : class, IRunMessage
    {
        ArgumentNullException.ThrowIfNull(message);
        var problems = message.FindProblems();
        if (problems.Count > 0)
        {
            throw new InvalidMessageException(message.GetType().Name, message.RunId == Guid.Empty ? null : message.RunId, problems);
        }
        return message;
    }

    /// <summary>True when <paramref name="message"/> has no problems.</summary>
    public static bool IsValid(this IRunMessage message) => message.FindProblems().Count == 0;
}

/// <summary>Collects problems with their field names; the checks every message shares.</summary>
internal sealed class Problems
{
    private readonly List<string> _problems = [];

    public IReadOnlyList<string> List => _problems;

    /// <summary>Adds <paramref name="problem"/> unless it is null (a check that found nothing).</summary>
    public Problems Add(string? problem)
    {
        if (problem is not null) _problems.Add(problem);
        return this;
    }

    /// <summary>Adds a nested object's problems, prefixed with its field name ("config: epochs must ...").</summary>
    public Problems AddNested(string field, IEnumerable<string>? nested)
    {
        if (nested is null) return this;
        foreach (var problem in nested) _problems.Add($"{field}: {problem}");
        return this;
    }

    public Problems RunId(Guid runId) =>
        runId == Guid.Empty ? Add("runId must not be empty.") : this;

    public Problems Required(string field, object? value) =>
        value is null ? Add($"{field} is required.") : this;

    public Problems NotBlank(string field, string? value) =>
        string.IsNullOrWhiteSpace(value) ? Add($"{field} must not be empty.") : this;

    /// <summary>A blob key or prefix as the storage port accepts them: relative, '/'-separated, no '.'/'..' segment.</summary>
    public Problems BlobPath(string field, string? value, bool isPrefix)
    {
        if (string.IsNullOrWhiteSpace(value)) return Add($"{field} must not be empty.");
        if (BlobLayout.FindPathProblem(value, isPrefix) is { } problem) Add($"{field} '{value}' {problem}.");
        return this;
    }

    public Problems Finite(string field, double value) =>
        double.IsFinite(value) ? this : Add($"{field} must be a finite number, got {value}.");

    public Problems AtLeast(string field, long value, long minimum) =>
        value >= minimum ? this : Add($"{field} must be at least {minimum}, got {value}.");

    public Problems AtMost(string field, long value, long maximum) =>
        value <= maximum ? this : Add($"{field} must be at most {maximum}, got {value}.");

    public Problems Fraction(string field, double value) =>
        value is >= 0 and <= 1 ? this : Add($"{field} must be in [0, 1], got {value}.");

    public Problems Defined<TEnum>(string field, TEnum value) where TEnum : struct, Enum =>
        Enum.IsDefined(value) ? this : Add($"{field} has the unknown value {value}.");

    public Problems Each<T>(string field, IReadOnlyList<T>? items, Func<T, IEnumerable<string>> problemsOf)
    {
        if (items is null) return Add($"{field} is required.");
        for (var i = 0; i < items.Count; i++)
        {
            if (items[i] is null)
            {
                Add($"{field}[{i}] is null.");
                continue;
            }
            AddNested($"{field}[{i}]", problemsOf(items[i]));
        }
        return this;
    }
}
