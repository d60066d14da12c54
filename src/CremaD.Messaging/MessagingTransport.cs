namespace CremaD.Messaging;

/// <summary>Which transport carries the messages.</summary>
public enum MessagingTransport
{
    /// <summary>A RabbitMQ broker, from the <c>ConnectionStrings:&lt;name&gt;</c> AMQP URI.</summary>
    RabbitMq,

    /// <summary>
    /// MassTransit's in-process transport: every producer and consumer must be in the same process (the AppHost's
    /// embedded mode). Chosen only when no connection string is configured and <c>Messaging:Transport</c> says
    /// <c>InMemory</c>.
    /// </summary>
    InMemory,
}
