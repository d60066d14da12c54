using CremaD.Contracts;

namespace CremaD.Services.Tests;

/// <summary>Polling until the distributed path reaches a state.</summary>
internal static class Eventually
{
    public static async Task<T> WaitAsync<T>(Func<Task<T?>> probe, Func<T, bool> done, TimeSpan timeout, string what) where T : class
    {
        var deadline = DateTime.UtcNow + timeout;
        T? last = null;
        while (DateTime.UtcNow < deadline)
        {
            last = await probe();
            if (last is not null && done(last)) return last;
            await Task.Delay(100);
        }
        throw new TimeoutException($"Timed out after {timeout.TotalSeconds:0} s waiting for {what}; last seen: {System.Text.Json.JsonSerializer.Serialize(last, ServiceJson.Options)}");
    }
}
