namespace CremaD.Testing;

/// <summary>
/// A test class whose every test has a <see cref="TempDirectory"/> of its own (xunit makes an instance per test),
/// deleted after it.
/// </summary>
public abstract class TempDirectoryTests : IDisposable
{
    protected TempDirectory Temp { get; } = new();

    public void Dispose()
    {
        Dispose(disposing: true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
        if (disposing) Temp.Dispose();
    }
}
