namespace CremaD.Storage;

/// <summary>
/// Rules for blob keys, the same for every store so that code written against one works on all:
/// a key is a '/'-separated relative path of 1 to 1024 characters with no empty, "." or ".." segment, no
/// backslash and no control character, that does not end with '.' (Azure Blob trims trailing dots) and does
/// not start with the reserved folder <see cref="ReservedFolder"/> (the local store's bookkeeping).
/// </summary>
public static class BlobKey
{
    /// <summary>Top-level folder name reserved for store bookkeeping (temporary files, locks, leases).</summary>
    public const string ReservedFolder = ".cremad-store";

    /// <summary>Azure Blob's limit on blob name length.</summary>
    public const int MaxLength = 1024;

    /// <summary>Throws <see cref="ArgumentException"/> naming the key and the rule it breaks.</summary>
    public static void Validate(string key, string parameterName = "key")
    {
        ArgumentNullException.ThrowIfNull(key, parameterName);
        var problem = FindProblem(key, isPrefix: false);
        if (problem is not null)
        {
            throw new ArgumentException($"Invalid blob key '{key}': {problem}.", parameterName);
        }
    }

    /// <summary>
    /// Throws <see cref="ArgumentException"/> unless <paramref name="prefix"/> is "" or a valid key prefix
    /// (the same rules as keys, except that it may end with '/').
    /// </summary>
    public static void ValidatePrefix(string prefix, string parameterName = "prefix")
    {
        ArgumentNullException.ThrowIfNull(prefix, parameterName);
        if (prefix.Length == 0)
        {
            return;
        }
        var problem = FindProblem(prefix, isPrefix: true);
        if (problem is not null)
        {
            throw new ArgumentException($"Invalid blob key prefix '{prefix}': {problem}.", parameterName);
        }
    }

    /// <summary>True when <paramref name="key"/> is a valid key.</summary>
    public static bool IsValid(string key) => key is not null && FindProblem(key, isPrefix: false) is null;

    /// <summary>Joins segments (each may itself contain '/') into a key and validates it: Combine("runs", id, "history.json").</summary>
    public static string Combine(params string[] segments)
    {
        ArgumentNullException.ThrowIfNull(segments);
        var key = string.Join('/', segments.Select(segment => segment.Trim('/')).Where(segment => segment.Length > 0));
        Validate(key, nameof(segments));
        return key;
    }

    /// <summary>
    /// A folder-style prefix: "" stays "", anything else gets a trailing '/' so that "runs/4" does not also
    /// match "runs/42/...".
    /// </summary>
    public static string AsFolderPrefix(string prefix)
    {
        ValidatePrefix(prefix);
        return prefix.Length == 0 || prefix.EndsWith('/') ? prefix : prefix + "/";
    }

    private static string? FindProblem(string value, bool isPrefix)
    {
        if (value.Length == 0)
        {
            return "it is empty";
        }
        if (value.Length > MaxLength)
        {
            return $"it is {value.Length} characters long, more than {MaxLength}";
        }
        if (value.StartsWith('/'))
        {
            return "it must be relative (no leading '/')";
        }
        if (value.Contains('\\'))
        {
            return "it contains '\\'; separate segments with '/'";
        }
        if (value.Any(char.IsControl))
        {
            return "it contains a control character";
        }
        var body = isPrefix && value.EndsWith('/') ? value[..^1] : value;
        var segments = body.Split('/');
        foreach (var segment in segments)
        {
            if (segment.Length == 0)
            {
                return isPrefix ? "it has an empty segment ('//')" : "it has an empty segment ('//' or a trailing '/')";
            }
            if (segment is "." or "..")
            {
                return $"it has a '{segment}' segment";
            }
        }
        // A prefix may stop in the middle of a segment ("runs/4" lists "runs/42/..."), so only a key's or
        // a complete prefix segment's trailing dot is an error.
        if (!isPrefix && value.EndsWith('.'))
        {
            return "it ends with '.', which Azure Blob Storage drops";
        }
        if (string.Equals(segments[0], ReservedFolder, StringComparison.OrdinalIgnoreCase)
            && (segments.Length > 1 || !isPrefix || value.EndsWith('/')))
        {
            return $"'{ReservedFolder}' is reserved for the store's own bookkeeping";
        }
        return null;
    }
}
