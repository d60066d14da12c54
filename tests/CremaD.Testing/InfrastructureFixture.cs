
namespace CremaD.Testing;

/// <summary>
/// One private server shared by a test collection: started before its first test, stopped after its last. xunit wants
/// the collection definition in the test assembly itself, so each test project declares
/// <c>[CollectionDefinition(RabbitMqFixture.CollectionName)] public sealed class RabbitMqCollection : ICollectionFixture&lt;RabbitMqFixture&gt;;</c>
/// (likewise for Azurite) and marks its classes <c>[Collection(RabbitMqFixture.CollectionName)]</c>. Give each test its
/// own queues or container, so tests do not see each other's messages or blobs.
/// </summary>
public abstract class InfrastructureFixture<TInstance>(string name, Func<Task<TInstance>> start) : Xunit.IAsyncLifetime
    where TInstance : class, IAsyncDisposable
{
    private TInstance? _instance;

    public TInstance Instance => _instance ?? throw new InvalidOperationException($"The {name} fixture has not been initialised.");

    public async Task InitializeAsync() => _instance = await start().ConfigureAwait(false);

    public async Task DisposeAsync()
    {
        if (_instance is not null) await _instance.DisposeAsync().ConfigureAwait(false);
    }
}
