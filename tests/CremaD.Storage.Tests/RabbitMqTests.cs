using System.Text;
using CremaD.LocalInfrastructure;
using CremaD.Testing;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using RabbitMQ.Client;

namespace CremaD.Storage.Tests;

public sealed record FeaturesReady(Guid RunId, string Prefix);

/// <summary>Hands each received message to the test that waits for it.</summary>
public sealed class FeaturesReadyConsumer(TaskCompletionSource<FeaturesReady> received) : IConsumer<FeaturesReady>
{
    public Task Consume(ConsumeContext<FeaturesReady> context)
    {
        received.TrySetResult(context.Message);
        return Task.CompletedTask;
    }
}

public sealed class RabbitMqInstanceTests
{
    private static readonly TimeSpan DeliveryTimeout = TimeSpan.FromSeconds(60);

    [RequiresInfrastructureFact(Infrastructure.RabbitMq)]
    public async Task A_masstransit_bus_publishes_to_a_consumer_and_disposal_leaves_no_broker_process()
    {
        var broker = await RabbitMqInstance.StartAsync();
        var directory = broker.Directory;
        try
        {
            Assert.StartsWith("amqp://guest:guest@127.0.0.1:", broker.ConnectionString);
            var running = ProcessTable.Find(broker.IsInstanceProcess);
            Assert.Contains(running, process => process.Name == "beam.smp");
            Assert.Contains(running, process => process.Name == "epmd");
            Assert.True(await FreePorts.IsListeningAsync(broker.EpmdPort));

            var received = new TaskCompletionSource<FeaturesReady>(TaskCreationOptions.RunContinuationsAsynchronously);
            var services = new ServiceCollection();
            services.AddSingleton(received);
            services.AddMassTransit(bus =>
            {
                // MassTransit 8.5 reports usage to its vendor by default; nothing here may leave the machine.
                bus.DisableUsageTelemetry();
                bus.AddConsumer<FeaturesReadyConsumer>();
                bus.UsingRabbitMq((context, rabbit) =>
                {
                    rabbit.Host(new Uri(broker.ConnectionString));
                    rabbit.ConfigureEndpoints(context);
                });
            });
            await using var provider = services.BuildServiceProvider();
            var busControl = provider.GetRequiredService<IBusControl>();
            using var startTimeout = new CancellationTokenSource(DeliveryTimeout);
            await busControl.StartAsync(startTimeout.Token);
            try
            {
                var message = new FeaturesReady(Guid.NewGuid(), "runs/r1/features/");
                await busControl.Publish(message);

                Assert.Equal(message, await received.Task.WaitAsync(DeliveryTimeout));
            }
            finally
            {
                await busControl.StopAsync();
            }
        }
        finally
        {
            await broker.DisposeAsync();
        }

        Assert.Empty(ProcessTable.Find(broker.IsInstanceProcess));
        Assert.False(await FreePorts.IsListeningAsync(broker.AmqpPort));
        Assert.False(await FreePorts.IsListeningAsync(broker.EpmdPort));
        Assert.False(Directory.Exists(directory));
        await broker.DisposeAsync(); // idempotent
    }

    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public async Task A_server_that_dies_while_starting_is_reported_with_its_output()
    {
        using var folder = new TempDirectory();
        var server = Path.Combine(folder.Path, "rabbitmq-server");
        await File.WriteAllTextAsync(server, "#!/bin/sh\necho \"ERROR: could not bind to $RABBITMQ_NODE_PORT\"\nexit 3\n");
        File.SetUnixFileMode(server, UnixFileMode.UserRead | UnixFileMode.UserExecute);

        var error = await Assert.ThrowsAsync<InfrastructureStartException>(
            () => RabbitMqInstance.StartAsync(new RabbitMqOptions { ServerPath = server }));

        Assert.True(error.ServerExited);
        Assert.Contains("exited with code 3 while starting", error.Message);
        Assert.Matches(@"ERROR: could not bind to \d+", error.Message);
    }

    [Fact]
    public async Task A_missing_server_says_how_to_install_it()
    {
        var error = await Assert.ThrowsAsync<InfrastructureNotInstalledException>(
            () => RabbitMqInstance.StartAsync(new RabbitMqOptions { ServerPath = "/nonexistent/rabbitmq-server" }));

        Assert.Contains("/nonexistent/rabbitmq-server", error.Message);
        Assert.Contains("./test.sh", error.Message);
        Assert.Contains("sudo apt-get install -y rabbitmq-server", error.Message);
    }
}

[Collection(RabbitMqFixture.CollectionName)]
public sealed class RabbitMqFixtureTests(RabbitMqFixture rabbit)
{
    [RequiresInfrastructureFact(Infrastructure.RabbitMq)]
    public async Task The_shared_broker_routes_a_message_through_a_queue()
    {
        var factory = new ConnectionFactory { Uri = new Uri(rabbit.ConnectionString) };
        await using var connection = await factory.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        var queue = (await channel.QueueDeclareAsync(queue: "", durable: false, exclusive: true, autoDelete: true)).QueueName;

        await channel.BasicPublishAsync(exchange: "", routingKey: queue, body: Encoding.UTF8.GetBytes("features ready"));

        BasicGetResult? result = null;
        for (var attempt = 0; attempt < 50 && result is null; attempt++)
        {
            result = await channel.BasicGetAsync(queue, autoAck: true);
            if (result is null)
            {
                await Task.Delay(100);
            }
        }
        Assert.NotNull(result);
        Assert.Equal("features ready", Encoding.UTF8.GetString(result.Body.Span));
    }

    [RequiresInfrastructureFact(Infrastructure.RabbitMq)]
    public void The_shared_broker_listens_on_loopback_only_with_its_own_node_and_ports()
    {
        var broker = rabbit.Instance;

        Assert.Matches(@"^cremad-rabbitmq-\d+-[0-9a-f]{8}@localhost$", broker.NodeName);
        Assert.Equal(3, new[] { broker.AmqpPort, broker.DistributionPort, broker.EpmdPort }.Distinct().Count());
        var listeners = ListeningSockets();
        Assert.Contains(("127.0.0.1", broker.AmqpPort), listeners);
        Assert.Contains(("127.0.0.1", broker.DistributionPort), listeners);
        Assert.DoesNotContain(listeners, socket => socket.Port == broker.AmqpPort && socket.Address != "127.0.0.1");
        Assert.DoesNotContain(listeners, socket => socket.Port == broker.DistributionPort && socket.Address != "127.0.0.1");
    }

    /// <summary>Listening TCP sockets from /proc/net/tcp and tcp6, as (address, port).</summary>
    private static List<(string Address, int Port)> ListeningSockets()
    {
        var sockets = new List<(string, int)>();
        foreach (var table in new[] { "/proc/net/tcp", "/proc/net/tcp6" })
        {
            if (!File.Exists(table))
            {
                continue;
            }
            foreach (var line in File.ReadLines(table).Skip(1))
            {
                var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (fields[3] != "0A") // TCP_LISTEN
                {
                    continue;
                }
                var local = fields[1].Split(':');
                var address = local[0] switch
                {
                    "0100007F" => "127.0.0.1",
                    "00000000" => "0.0.0.0",
                    "00000000000000000000000001000000" => "::1",
                    "00000000000000000000000000000000" => "::",
                    var other => other,
                };
                sockets.Add((address, Convert.ToInt32(local[1], 16)));
            }
        }
        return sockets;
    }
}
