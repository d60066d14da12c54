namespace CremaD.LocalInfrastructure;

/// <summary>A program the real test infrastructure needs (rabbitmq-server, Azurite) is not installed.</summary>
/// <param name="installCommand">The command that installs just this program, for the message, when there is one.</param>
public sealed class InfrastructureNotInstalledException(string program, string lookedAt, string? installCommand = null)
    : Exception($"{program} is not installed (looked for {lookedAt}). Run ./test.sh from the repository root (it installs "
        + "what the tests need, then runs them)" + (installCommand is null ? "." : $", or: {installCommand}"))
{
    public string Program { get; } = program;
}

/// <summary>A private server did not come up; the message carries the tail of its logs.</summary>
/// <param name="ServerExited">True when the server exited while starting (for example because another process took one of its ports); false when it timed out.</param>
public sealed class InfrastructureStartException(string message, bool serverExited, Exception? innerException = null)
    : Exception(message, innerException)
{
    public bool ServerExited { get; } = serverExited;
}
