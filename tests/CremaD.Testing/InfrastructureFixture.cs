namespace CremaD.Testing;

/// <summary>
/// One private server shared by a test collection: started before its first test, stopped after its last. xunit wants
/// the collection definition in the test assembly itself, so each test project declares
/// <c>[CollectionDefinition(RabbitMqFixture.CollectionName)] public sealed class RabbitMqCollection : ICollectionFixture&lt;RabbitMqFixture&gt;;</c>
/// (likewise for Azurite), marks its classes <c>[Collection(RabbitMqFixture.CollectionName)]</c> and their tests
/// <c>[RequiresInfrastructureFact(Infrastructure.RabbitMq)]</c>. Give each test its own queues or container, so tests
/// do not see each other's messages or blobs.
/// </summary>
public abstract class InfrastructureFixture<TInstance>(string name, Infrastructure piece, Func<Task<TInstance>> start) : Xunit.IAsyncLifetime
    where TInstance : class, IAsyncDisposable
{
    private TInstance? _instance;
    private string? _notStarted;

    public TInstance Instance => _instance ?? throw new InvalidOperationException(_notStarted is null
        ? $"The {name} fixture has not been initialised."
        : $"The {name} fixture was not started: it {_notStarted}. Mark the test "
          + $"[RequiresInfrastructureFact(Infrastructure.{piece})] (or the Theory variant) so that it is skipped instead.");

    public async Task InitializeAsync()
    {
        // xunit creates a collection's fixtures even when all its tests are skipped; a fixture that threw here would
        // fail them all instead. Under CI SkipReason is null, so a missing server still fails loudly (start throws).
        _notStarted = InfrastructureCheck.SkipReason(piece);
        if (_notStarted is null)
        {
            _instance = await start().ConfigureAwait(false);
        }
    }

    public async Task DisposeAsync()
    {
        if (_instance is not null) await _instance.DisposeAsync().ConfigureAwait(false);
    }
}
