using CremaD.LocalInfrastructure;

namespace CremaD.Testing;

/// <summary>
/// One private RabbitMQ broker shared by a test collection. xunit wants the collection definition in the
/// test assembly itself, so each test project declares
/// <c>[CollectionDefinition(RabbitMqFixture.CollectionName)] public sealed class RabbitMqCollection : ICollectionFixture&lt;RabbitMqFixture&gt;;</c>
/// and marks its classes <c>[Collection(RabbitMqFixture.CollectionName)]</c>, and their tests
/// <c>[RequiresInfrastructureFact(Infrastructure.RabbitMq)]</c>.
/// </summary>
public sealed class RabbitMqFixture : Xunit.IAsyncLifetime
{
    public const string CollectionName = "RabbitMQ";

    private RabbitMqInstance? _instance;
    private string? _notStarted;

    public RabbitMqInstance Instance => _instance ?? throw InfrastructureFixture.NotStarted("RabbitMQ", Infrastructure.RabbitMq, _notStarted);

    /// <summary><c>amqp://guest:guest@127.0.0.1:&lt;port&gt;</c>.</summary>
    public string ConnectionString => Instance.ConnectionString;

    public async Task InitializeAsync()
    {
        // xunit creates a collection's fixtures even when all its tests are skipped; a fixture that threw here would
        // fail them all instead. Under CI SkipReason is null, so a missing broker still fails loudly (StartAsync throws).
        _notStarted = InfrastructureCheck.SkipReason(Infrastructure.RabbitMq);
        if (_notStarted is null)
        {
            _instance = await RabbitMqInstance.StartAsync().ConfigureAwait(false);
        }
    }

    public async Task DisposeAsync()
    {
        if (_instance is not null)
        {
            await _instance.DisposeAsync().ConfigureAwait(false);
        }
    }
}

/// <summary>
/// One private Azurite shared by a test collection; declare
/// <c>[CollectionDefinition(AzuriteFixture.CollectionName)] public sealed class AzuriteCollection : ICollectionFixture&lt;AzuriteFixture&gt;;</c>
/// in the test assembly, and mark its tests <c>[RequiresInfrastructureFact(Infrastructure.Azurite)]</c>. Give each test
/// its own container so tests do not see each other's blobs.
/// </summary>
public sealed class AzuriteFixture : Xunit.IAsyncLifetime
{
    public const string CollectionName = "Azurite";

    private AzuriteInstance? _instance;

    public AzuriteInstance Instance =>
        _instance ?? throw new InvalidOperationException("The Azurite fixture has not been initialised.");

    /// <summary>The Aspire-style blob connection string.</summary>
    public string ConnectionString => Instance.ConnectionString;

    public async Task InitializeAsync() => _instance = await AzuriteInstance.StartAsync().ConfigureAwait(false);

    public async Task DisposeAsync()
    {
        if (_instance is not null)
        {
            await _instance.DisposeAsync().ConfigureAwait(false);
        }
    }
}

internal static class InfrastructureFixture
{
    /// <summary>A test used a fixture that was not started: not initialised yet, or its piece is missing and the test lacks the attribute that would have skipped it.</summary>
    public static InvalidOperationException NotStarted(string name, Infrastructure piece, string? missing) =>
        new(missing is null
            ? $"The {name} fixture has not been initialised."
            : $"The {name} fixture was not started: it {missing}. Mark the test "
              + $"[RequiresInfrastructureFact(Infrastructure.{piece})] (or the Theory variant) so that it is skipped instead.");
}
