using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace CremaD.Orchestration.Dashboard;

/// <summary>
/// Browser-token login, as Aspire's dashboard does it: <c>/login?t=TOKEN</c> sets an HttpOnly, SameSite=Strict cookie;
/// scripts send <c>Authorization: Bearer TOKEN</c> instead. Routes carrying <see cref="RequiresLogin"/> metadata answer
/// 401 to API callers and redirect browsers to the login page until then.
/// </summary>
internal sealed class DashboardAuth
{
    /// <summary>Name of the session cookie.</summary>
    public const string CookieName = "cremad_dashboard";

    /// <summary>Endpoint metadata of every route that needs a login.</summary>
    public static readonly object RequiresLogin = new LoginRequired();

    private readonly byte[] _token;
    private readonly byte[] _cookieValue;

    public DashboardAuth(string token)
    {
        _token = Encoding.UTF8.GetBytes(token);
        // The cookie holds a value derived from the token rather than the token itself, so a cookie read off a disk
        // cannot be turned back into a login URL for another browser.
        _cookieValue = Encoding.ASCII.GetBytes(Convert.ToHexStringLower(HMACSHA256.HashData(_token, "cremad dashboard session"u8)));
    }

    public bool IsToken(string? candidate) =>
        candidate is not null && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(candidate), _token);

    public bool IsSignedIn(HttpContext context)
    {
        if (context.Request.Cookies.TryGetValue(CookieName, out var cookie)
            && CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(cookie ?? ""), _cookieValue))
        {
            return true;
        }
        var authorization = context.Request.Headers.Authorization.ToString();
        return authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) && IsToken(authorization["Bearer ".Length..].Trim());
    }

    /// <summary>Gives the browser its session cookie (a session cookie: it ends with the browser, like the AppHost's token).</summary>
    public void SignIn(HttpContext context) =>
        context.Response.Cookies.Append(CookieName, Encoding.ASCII.GetString(_cookieValue), new CookieOptions
        {
            HttpOnly = true,
            SameSite = SameSiteMode.Strict,
            Path = "/",
            IsEssential = true,
        });

    public Task Middleware(HttpContext context, RequestDelegate next)
    {
        if (context.GetEndpoint()?.Metadata.GetMetadata<LoginRequired>() is null || IsSignedIn(context)) return next(context);
        if (context.Request.Path.StartsWithSegments("/api"))
        {
            context.Response.StatusCode = StatusCodes.Status401Unauthorized;
            context.Response.Headers.WWWAuthenticate = "Bearer";
            return context.Response.WriteAsJsonAsync(new { error = "Log in first: open the login URL the AppHost printed, or send Authorization: Bearer <token>." });
        }
        context.Response.Redirect("/login");
        return Task.CompletedTask;
    }

    private sealed class LoginRequired;
}
