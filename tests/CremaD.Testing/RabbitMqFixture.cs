using CremaD.LocalInfrastructure;

namespace CremaD.Testing;

/// <summary>One private RabbitMQ broker shared by a test collection.</summary>
public sealed class RabbitMqFixture() : InfrastructureFixture<RabbitMqInstance>("RabbitMQ", Infrastructure.RabbitMq, () => RabbitMqInstance.StartAsync())
{
    public const string CollectionName = "RabbitMQ";

    /// <summary><c>amqp://guest:guest@127.0.0.1:&lt;port&gt;</c>.</summary>
    public string ConnectionString => Instance.ConnectionString;
}
