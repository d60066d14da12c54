using System.Collections.Concurrent;

namespace CremaD.LocalInfrastructure;

/// <summary>
/// Last-resort cleanup when the test process ends without disposing an instance (an aborted run, a fixture
/// that never got disposed): registered actions run on <see cref="AppDomain.ProcessExit"/>, which .NET raises
/// on a normal exit and on SIGTERM. A SIGKILL of the test process is covered by <see cref="OrphanWatchdog"/>.
/// </summary>
internal static class ExitCleanup
{
    private static readonly ConcurrentDictionary<long, Action> Actions = new();
    private static long _nextId;

    static ExitCleanup() => AppDomain.CurrentDomain.ProcessExit += (_, _) => RunAll();

    /// <summary>Registers <paramref name="action"/>; dispose the result once the instance has cleaned up itself.</summary>
    public static IDisposable Register(Action action)
    {
        var id = Interlocked.Increment(ref _nextId);
        Actions[id] = action;
        return new Registration(id);
    }

    private static void RunAll()
    {
        foreach (var id in Actions.Keys)
        {
            if (Actions.TryRemove(id, out var action))
            {
                try
                {
                    action();
                }
                catch (Exception e)
                {
                    // The process is exiting; report and carry on with the other instances.
                    Console.Error.WriteLine($"CremaD.LocalInfrastructure: cleanup at exit failed: {e.Message}");
                }
            }
        }
    }

    private sealed class Registration(long id) : IDisposable
    {
        public void Dispose() => Actions.TryRemove(id, out _);
    }
}
