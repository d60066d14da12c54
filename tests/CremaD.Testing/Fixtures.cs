using CremaD.LocalInfrastructure;

namespace CremaD.Testing;

/// <summary>
/// One private RabbitMQ broker shared by a test collection. xunit wants the collection definition in the
/// test assembly itself, so each test project declares
/// <c>[CollectionDefinition(RabbitMqFixture.CollectionName)] public sealed class RabbitMqCollection : ICollectionFixture&lt;RabbitMqFixture&gt;;</c>
/// and marks its classes <c>[Collection(RabbitMqFixture.CollectionName)]</c>.
/// </summary>
public sealed class RabbitMqFixture : Xunit.IAsyncLifetime
{
    public const string CollectionName = "RabbitMQ";

    private RabbitMqInstance? _instance;

    public RabbitMqInstance Instance =>
        _instance ?? throw new InvalidOperationException("The RabbitMQ fixture has not been initialised.");

    /// <summary><c>amqp://guest:guest@127.0.0.1:&lt;port&gt;</c>.</summary>
    public string ConnectionString => Instance.ConnectionString;

    public async Task InitializeAsync() => _instance = await RabbitMqInstance.StartAsync().ConfigureAwait(false);

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
/// in the test assembly. Give each test its own container so tests do not see each other's blobs.
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
