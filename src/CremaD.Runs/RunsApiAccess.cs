using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.HostFiltering;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CremaD.Runs;

/// <summary>
/// Who may call the runs API (section <c>RunsApi</c>): bearer API keys, each naming a submitter. <c>RunsApi:ApiKey</c>
/// is the key the AppHost generates (submitter <see cref="DefaultSubmitter"/>); <c>RunsApi:Keys:&lt;submitter&gt;</c>
/// adds one per further submitter (a team, a CI job), so that the cap on runs in flight is per submitter. The service
/// refuses to start without a key: there is no anonymous mode.
/// </summary>
public sealed class RunsApiAccessOptions
{
    public const string SectionName = "RunsApi";

    /// <summary>The submitter <see cref="ApiKey"/> stands for.</summary>
    public const string DefaultSubmitter = "default";

    /// <summary>Shortest key taken: 32 characters (the AppHost's are 48 letters and digits, ~280 bits).</summary>
    public const int MinKeyLength = 32;

    /// <summary>Longest key taken (and the most of an Authorization header that is looked at).</summary>
    public const int MaxKeyLength = 512;

    /// <summary>Longest submitter name (it becomes part of a blob key).</summary>
    public const int MaxSubmitterLength = 64;

    public string? ApiKey { get; set; }

    public Dictionary<string, string> Keys { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Runs one submitter may have submitted and not yet finished; a further POST /runs gets 429.</summary>
    public int MaxRunsInFlightPerSubmitter { get; set; } = 20;

    /// <summary>Host names the API answers to (<c>AllowedHosts</c>, ';'-separated); /health and /alive answer any.</summary>
    public static readonly string[] DefaultAllowedHosts = ["localhost", "127.0.0.1", "[::1]"];

    /// <summary>The configured keys by submitter; throws naming the setting when there is none or one is unfit.</summary>
    public IReadOnlyList<(string Submitter, string Key)> ValidatedKeys()
    {
        var keys = new List<(string, string)>();
        if (!string.IsNullOrEmpty(ApiKey)) keys.Add((DefaultSubmitter, ApiKey));
        keys.AddRange(Keys.Select(k => (k.Key, k.Value)));
        if (keys.Count == 0)
        {
            throw new InvalidOperationException(
                $"The runs API has no API key: set '{SectionName}:ApiKey' (environment variable {SectionName}__ApiKey) to a secret of at least " +
                $"{MinKeyLength} characters (e.g. `openssl rand -hex 32`). Every request must then carry 'Authorization: Bearer <key>'. " +
                "The AppHost generates one (its parameter runs-api-key).");
        }
        foreach (var (submitter, key) in keys)
        {
            if (submitter.Length is 0 or > MaxSubmitterLength || !submitter.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
            {
                throw new InvalidOperationException(
                    $"'{SectionName}:Keys:{submitter}': a submitter name is 1 to {MaxSubmitterLength} letters, digits, '-', '_' or '.'.");
            }
            if (key is null || key.Length < MinKeyLength || key.Length > MaxKeyLength || key.Any(c => c <= ' ' || c > '~'))
            {
                throw new InvalidOperationException(
                    $"The API key of submitter '{submitter}' is unfit: a key is {MinKeyLength} to {MaxKeyLength} printable ASCII characters without spaces " +
                    $"(it has {key?.Length ?? 0}).");
            }
        }
        if (keys.Select(k => k.Item2).Distinct(StringComparer.Ordinal).Count() != keys.Count)
        {
            throw new InvalidOperationException($"Two submitters of '{SectionName}' share one API key; each needs its own.");
        }
        if (MaxRunsInFlightPerSubmitter < 1)
        {
            throw new InvalidOperationException($"'{SectionName}:MaxRunsInFlightPerSubmitter' must be at least 1, got {MaxRunsInFlightPerSubmitter}.");
        }
        return keys;
    }
}

/// <summary>
/// Authenticates a request by <c>Authorization: Bearer &lt;key&gt;</c>: the key's SHA-256 is compared with every
/// configured key's in constant time (<see cref="CryptographicOperations.FixedTimeEquals"/>, all of them, no early exit),
/// so neither the match nor its position leaks through timing. The principal's name is the submitter.
/// A refusal is 401 with <c>WWW-Authenticate: Bearer</c> and a ProblemDetails body that says what is missing.
/// </summary>
public sealed class RunsApiKeyHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder,
    RunsApiKeys keys) : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "RunsApiKey";

    private const string FailureItem = "cremad.auth_failure";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        string? header = Request.Headers.Authorization;
        if (string.IsNullOrEmpty(header)) return Task.FromResult(Fail("The request has no 'Authorization: Bearer <API key>' header."));
        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return Task.FromResult(Fail("The Authorization header is not 'Bearer <API key>'."));
        }
        var presented = header.AsSpan("Bearer ".Length).Trim();
        var submitter = presented.Length is 0 or > RunsApiAccessOptions.MaxKeyLength ? null : keys.Find(presented);
        if (submitter is null) return Task.FromResult(Fail("The API key is not valid."));
        var identity = new ClaimsIdentity([new Claim(ClaimTypes.Name, submitter)], SchemeName);
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName)));
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.Headers.WWWAuthenticate = "Bearer realm=\"cremad-runs\"";
        var reason = Context.Items[FailureItem] as string ?? "An API key is required.";
        await Results.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "API key required",
            detail: $"{reason} Every runs API request needs 'Authorization: Bearer <API key>'.").ExecuteAsync(Context).ConfigureAwait(false);
    }

    private AuthenticateResult Fail(string reason)
    {
        Context.Items[FailureItem] = reason;
        return AuthenticateResult.Fail(reason);
    }
}

/// <summary>The configured keys, hashed once; <see cref="Find"/> looks one up in constant time.</summary>
public sealed class RunsApiKeys
{
    private readonly (string Submitter, byte[] Hash)[] _keys;

    public RunsApiKeys(IOptions<RunsApiAccessOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _keys = options.Value.ValidatedKeys().Select(k => (k.Submitter, SHA256.HashData(Encoding.UTF8.GetBytes(k.Key)))).ToArray();
    }

    /// <summary>The submitter whose key <paramref name="presented"/> is, or null.</summary>
    public string? Find(ReadOnlySpan<char> presented)
    {
        Span<byte> bytes = stackalloc byte[Encoding.UTF8.GetMaxByteCount(RunsApiAccessOptions.MaxKeyLength)];
        var length = Encoding.UTF8.GetBytes(presented[..Math.Min(presented.Length, RunsApiAccessOptions.MaxKeyLength)], bytes);
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(bytes[..length], hash);
        string? found = null;
        // Every key is compared, whatever matched before: the time taken does not depend on which one matches.
        foreach (var (submitter, expected) in _keys)
        {
            if (CryptographicOperations.FixedTimeEquals(hash, expected)) found = submitter;
        }
        return found;
    }
}

public static class RunsApiAccess
{
    /// <summary>The authorization policy every runs API endpoint requires: an authenticated submitter.</summary>
    public const string PolicyName = "runs-api-key";

    /// <summary>
    /// Bearer API key authentication (<see cref="RunsApiKeyHandler"/>), checked at start (a missing or weak key stops
    /// the host with a message naming the setting), and the options of host filtering.
    /// </summary>
    public static TBuilder AddRunsApiAccess<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddOptions<RunsApiAccessOptions>().Bind(builder.Configuration.GetSection(RunsApiAccessOptions.SectionName))
            .Validate(o => o.ValidatedKeys().Count > 0).ValidateOnStart();
        builder.Services.AddSingleton<RunsApiKeys>();
        builder.Services.AddAuthentication(RunsApiKeyHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, RunsApiKeyHandler>(RunsApiKeyHandler.SchemeName, _ => { });
        builder.Services.AddAuthorizationBuilder()
            .AddPolicy(PolicyName, policy => policy.AddAuthenticationSchemes(RunsApiKeyHandler.SchemeName).RequireAuthenticatedUser());
        // The web host's own host filtering (the AllowedHosts setting, applied to every path) is opened up: the one
        // UseRunsApiHostFiltering adds reads the same setting but lets the health probes through, which the platform
        // sends to the container's IP address.
        builder.Services.PostConfigure<HostFilteringOptions>(o => o.AllowedHosts = ["*"]);
        return builder;
    }

    /// <summary>
    /// Host filtering on everything but /health and /alive: a request whose Host header is not one of
    /// <c>AllowedHosts</c> (';'-separated; <see cref="RunsApiAccessOptions.DefaultAllowedHosts"/> when unset) gets 400.
    /// </summary>
    public static IApplicationBuilder UseRunsApiHostFiltering(this IApplicationBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var configuration = app.ApplicationServices.GetRequiredService<IConfiguration>();
        var hosts = configuration["AllowedHosts"]?.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var filtering = new HostFilteringOptions
        {
            AllowedHosts = hosts is { Length: > 0 } ? hosts : RunsApiAccessOptions.DefaultAllowedHosts,
            AllowEmptyHosts = false,
            IncludeFailureMessage = true,
        };
        return app.UseWhen(context => !IsHealthProbe(context.Request.Path),
            branch => branch.UseMiddleware<HostFilteringMiddleware>(new StaticOptionsMonitor<HostFilteringOptions>(filtering)));
    }

    private static bool IsHealthProbe(PathString path) => path.Equals("/health", StringComparison.OrdinalIgnoreCase)
                                                          || path.Equals("/alive", StringComparison.OrdinalIgnoreCase);

    private sealed class StaticOptionsMonitor<T>(T value) : IOptionsMonitor<T>
    {
        public T CurrentValue => value;

        public T Get(string? name) => value;

        public IDisposable? OnChange(Action<T, string?> listener) => null;
    }
}
