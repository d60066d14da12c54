using CremaD.Contracts;
using CremaD.Messaging;
using CremaD.Telemetry;
using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Microsoft.Extensions.Hosting;

/// <summary>The bus every CremaD service talks over: MassTransit on RabbitMQ (or in memory for embedded runs).</summary>
public static class MessagingExtensions
{
    /// <summary>Name of the bus health check (tags <c>ready</c> and <c>messaging</c>; /health runs it).</summary>
    public const string HealthCheckName = "messaging";

    private static readonly object CorrelationLock = new();
    private static bool _correlationConfigured;

    /// <summary>
    /// Registers MassTransit with the consumers <paramref name="configureConsumers"/> adds, on:
    /// <list type="bullet">
    /// <item>RabbitMQ, when <c>ConnectionStrings:&lt;connectionName&gt;</c> (environment <c>ConnectionStrings__messaging</c>)
    /// holds the broker URI <c>amqp://&lt;user&gt;:&lt;password&gt;@&lt;host&gt;:&lt;port&gt;</c> (user and password URI-encoded;
    /// <c>amqps://</c> for TLS; an optional path is the virtual host);</item>
    /// <item>the in-process transport, when there is no connection string and <c>Messaging:Transport</c> is <c>InMemory</c>;</item>
    /// <item>otherwise it fails at once, naming the missing setting.</item>
    /// </list>
    /// Every receive endpoint gets: a kebab-case queue name (consumer <c>TrainModelConsumer</c> → queue <c>train-model</c>);
    /// immediate retries at <see cref="CremaDMessagingOptions.RetryIntervals"/> for transient faults, none for
    /// <see cref="InvalidMessageException"/> or <see cref="ArgumentException"/> (straight to <c>&lt;queue&gt;_error</c>); an in-memory outbox (sends and publishes leave when the consumer has
    /// finished); the delivery limit (<see cref="DeliveryLimitFilter{T}"/>); validation of incoming run messages. Outgoing run messages are validated too, the run id is the
    /// CorrelationId of every run message, and the bus health check is tagged <c>ready</c> so /health includes it.
    /// The bus connects in the background: the host starts (and /alive answers) while the broker is still down,
    /// and /health reports Unhealthy until the bus is connected.
    /// </summary>
    /// <exception cref="InvalidOperationException">The connection string is missing (and the in-memory transport not chosen) or malformed.</exception>
    public static TBuilder AddCremaDMessaging<TBuilder>(this TBuilder builder, Action<IBusRegistrationConfigurator> configureConsumers,
        string connectionName = "messaging") where TBuilder : IHostApplicationBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configureConsumers);
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionName);

        var options = CremaDMessagingOptions.FromConfiguration(builder.Configuration);
        var connectionString = builder.Configuration.GetConnectionString(connectionName);
        Uri? brokerAddress = null;
        if (!string.IsNullOrWhiteSpace(connectionString))
        {
            brokerAddress = ParseBrokerAddress(connectionString, connectionName);
        }
        else if (options.Transport != MessagingTransport.InMemory)
        {
            throw new InvalidOperationException(
                $"Messaging is not configured: the connection string 'ConnectionStrings:{connectionName}' (environment variable " +
                $"ConnectionStrings__{connectionName}) is missing or empty. Set it to the RabbitMQ broker URI " +
                $"amqp://<user>:<password>@<host>:<port>, or set '{CremaDMessagingOptions.SectionName}:Transport' to 'InMemory' " +
                "to run every service in one process without a broker.");
        }
        options = options with { Transport = brokerAddress is null ? MessagingTransport.InMemory : MessagingTransport.RabbitMq };
        builder.Services.AddSingleton(options);
        ConfigureRunMessageCorrelation();

        var clientName = builder.Environment.ApplicationName;
        builder.Services.AddMassTransit(bus =>
        {
            // MassTransit 8.4+ reports anonymous usage data to its vendor after start; a service has no business
            // calling out of its network (and cannot, in a locked-down environment).
            bus.DisableUsageTelemetry();
            bus.SetKebabCaseEndpointNameFormatter();
            bus.ConfigureHealthCheckOptions(health =>
            {
                health.Name = HealthCheckName;
                health.Tags.Add(HealthCheckTags.Ready);
                health.Tags.Add(HealthCheckName);
                // Starting or disconnected is Unhealthy, not Degraded: the AppHost's WaitFor and readiness
                // probes must not treat a bus that cannot deliver as ready.
                health.MinimalFailureStatus = HealthStatus.Unhealthy;
            });
            bus.AddConfigureEndpointsCallback((context, name, endpoint) =>
            {
                // One DI scope per message, around everything below: the outbox sends after the consumer is done, and
                // the scoped send and publish filters must still find the message's scope alive then.
                endpoint.UseMessageScope(context);
                // A per-message-type filter: it runs inside the retries and the outbox below, whatever the order here.
                endpoint.UseConsumeFilter(typeof(DeliveryLimitFilter<>), context);
                // Run events are folded into the run's status: nothing in them can be wrong that validation did not
                // catch, so a fold fails only while storage is away, and is retried long enough to ride out an outage
                // (otherwise a progress report would be lost to the error queue).
                var intervals = name == QueueNames.RunEvents ? options.OutageRetryIntervals : options.RetryIntervals;
                endpoint.UseMessageRetry(retry =>
                {
                    if (intervals.Count == 0) retry.None();
                    else retry.Intervals(intervals.ToArray());
                    // The message itself is wrong: no attempt can succeed.
                    retry.Ignore<InvalidMessageException>();
                    retry.Ignore<ArgumentException>();
                });
                // Inside the retries: what a consumer sends or publishes leaves only when it has finished, so a failed
                // attempt sends nothing and its retry does not send twice. (The inbox's part, dropping a message handled
                // before, is the consumers' own: each folds into durable state that ignores what it has seen.)
                endpoint.UseInMemoryOutbox(context);
                endpoint.UseConsumeFilter(typeof(RunMessageValidationFilter<>), context);
            });

            configureConsumers(bus);

            if (brokerAddress is not null)
            {
                bus.UsingRabbitMq((context, rabbit) =>
                {
                    rabbit.Host(brokerAddress, host => host.ConnectionName(clientName));
                    ConfigureBus(rabbit, context);
                });
            }
            else
            {
                bus.UsingInMemory((context, memory) => ConfigureBus(memory, context));
            }
        });
        return builder;
    }

    /// <summary>
    /// The broker address of an AMQP URI, checked so that a typo gives a message naming the setting (never the password).
    /// </summary>
    /// <exception cref="InvalidOperationException">Not an absolute amqp://, amqps://, rabbitmq:// or rabbitmqs:// URI with a host.</exception>
    public static Uri ParseBrokerAddress(string connectionString, string connectionName = "messaging")
    {
        ArgumentNullException.ThrowIfNull(connectionString);
        var value = connectionString.Trim();
        if (!Uri.TryCreate(value, UriKind.Absolute, out var uri) || string.IsNullOrEmpty(uri.Host))
        {
            throw new InvalidOperationException(
                $"The connection string 'ConnectionStrings:{connectionName}' is not a broker URI; expected amqp://<user>:<password>@<host>:<port> " +
                "(user and password URI-encoded).");
        }
        if (uri.Scheme is not ("amqp" or "amqps" or "rabbitmq" or "rabbitmqs"))
        {
            throw new InvalidOperationException(
                $"The connection string 'ConnectionStrings:{connectionName}' has the scheme '{uri.Scheme}'; expected amqp:// or amqps:// " +
                $"(broker {uri.Host}:{(uri.IsDefaultPort ? "default port" : uri.Port)}).");
        }
        return uri;
    }

    private static void ConfigureBus<TEndpoint>(IBusFactoryConfigurator<TEndpoint> bus, IBusRegistrationContext context)
        where TEndpoint : IReceiveEndpointConfigurator
    {
        // IRunMessage and IRunEvent describe the records; they are not messages of their own, so no exchange
        // (and no polymorphic copy of every message) is made for them.
        bus.Publish<IRunMessage>(publish => publish.Exclude = true);
        bus.Publish<IRunEvent>(publish => publish.Exclude = true);
        bus.UsePublishFilter(typeof(RunMessageValidationFilter<>), context);
        bus.UseSendFilter(typeof(RunMessageValidationFilter<>), context);
        bus.ConfigureEndpoints(context);
    }

    /// <summary>MassTransit keeps message correlation globally, so it is set once per process.</summary>
    private static void ConfigureRunMessageCorrelation()
    {
        lock (CorrelationLock)
        {
            if (_correlationConfigured) return;
            var correlate = typeof(MessagingExtensions).GetMethod(nameof(CorrelateByRunId),
                System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!;
            foreach (var type in RunMessageTypes.All)
            {
                correlate.MakeGenericMethod(type).Invoke(null, null);
            }
            _correlationConfigured = true;
        }
    }

    private static void CorrelateByRunId<T>() where T : class, IRunMessage =>
        MessageCorrelation.UseCorrelationId<T>(message => message.RunId);
}
