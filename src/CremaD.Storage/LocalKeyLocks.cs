using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;

namespace CremaD.Storage;

/// <summary>
/// Mutual exclusion per key for <see cref="LocalFolderBlobStore"/>, inside this process and across
/// processes that use the same folder. Keys are hashed onto a fixed set of stripes so the bookkeeping stays
/// bounded however many keys are written; two keys on one stripe merely wait for each other briefly.
/// Each stripe is a process-wide semaphore (shared by every store instance over the same folder) plus an
/// exclusive lock on a stripe file: .NET takes flock(LOCK_EX) on Unix for <see cref="FileShare.None"/>, which
/// other processes running this code respect. That advisory lock is not honoured by programs that do not
/// take it, and not at all when DOTNET_SYSTEM_IO_DISABLEFILELOCKING is set.
/// </summary>
internal sealed class LocalKeyLocks(string lockDirectory)
{
    private const int StripeCount = 64;
    private static readonly TimeSpan CrossProcessWaitLimit = TimeSpan.FromSeconds(60);
    private static readonly ConcurrentDictionary<string, SemaphoreSlim> ProcessWideGates = new(StringComparer.Ordinal);

    public async Task<IAsyncDisposable> AcquireAsync(string key, CancellationToken cancellationToken)
    {
        var stripeFile = Path.Combine(lockDirectory, $"stripe-{StripeOf(key):D2}.lock");
        var gate = ProcessWideGates.GetOrAdd(stripeFile, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var fileLock = await LockFileAsync(stripeFile, cancellationToken).ConfigureAwait(false);
            return new Held(gate, fileLock);
        }
        catch
        {
            gate.Release();
            throw;
        }
    }

    private static int StripeOf(string key)
    {
        // A stable hash (string.GetHashCode differs between processes): the first byte of SHA-256; 64
        // divides 256, so stripes are equally likely.
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(Encoding.UTF8.GetBytes(key), hash);
        return hash[0] % StripeCount;
    }

    private static async Task<FileStream> LockFileAsync(string path, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var deadline = DateTime.UtcNow + CrossProcessWaitLimit;
        var delay = TimeSpan.FromMilliseconds(2);
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (DateTime.UtcNow < deadline && File.Exists(path))
            {
                // Held by another process: poll with a growing delay.
                await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
                delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 50));
            }
            catch (IOException e) when (File.Exists(path))
            {
                throw new TimeoutException(
                    $"Waited {CrossProcessWaitLimit.TotalSeconds:0} s for the lock file {path}; another process still holds it.", e);
            }
        }
    }

    private sealed class Held(SemaphoreSlim gate, FileStream fileLock) : IAsyncDisposable
    {
        private int _released;

        public async ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                await fileLock.DisposeAsync().ConfigureAwait(false);
                gate.Release();
            }
        }
    }
}
