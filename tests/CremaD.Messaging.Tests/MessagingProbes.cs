using System.Collections.Concurrent;
using System.Text;
using CremaD.Contracts;
using MassTransit;
using RabbitMQ.Client;
using CremaD.Testing;

namespace CremaD.Messaging.Tests;

/// <summary>What the probe consumers saw, keyed by a value each test makes unique (a run id or a reason).</summary>
public sealed class Inbox
{
    private readonly ConcurrentDictionary<string, int> _attempts = new();
    private readonly ConcurrentDictionary<string, TaskCompletionSource<(object Message, Guid? CorrelationId)>> _received = new();

    /// <summary>Counts a delivery attempt and returns its number (1 for the first).</summary>
    public int Attempt(string key) => _attempts.AddOrUpdate(key, 1, (_, n) => n + 1);

    public int Attempts(string key) => _attempts.GetValueOrDefault(key);

    public void Received(string key, object message, Guid? correlationId) => Slot(key).TrySetResult((message, correlationId));

    public Task<(object Message, Guid? CorrelationId)> WaitAsync(string key) => Slot(key).Task.WaitAsync(TestApp.Timeout);

    private TaskCompletionSource<(object, Guid?)> Slot(string key) =>
        _received.GetOrAdd(key, _ => new TaskCompletionSource<(object, Guid?)>(TaskCreationOptions.RunContinuationsAsynchronously));
}

/// <summary>Receives FeaturesReady on the queue "features-ready-probe".</summary>
public sealed class FeaturesReadyProbeConsumer(Inbox inbox) : IConsumer<FeaturesReady>
{
    public Task Consume(ConsumeContext<FeaturesReady> context)
    {
        inbox.Attempt(context.Message.RunId.ToString("D"));
        inbox.Received(context.Message.RunId.ToString("D"), context.Message, context.CorrelationId);
        return Task.CompletedTask;
    }
}

/// <summary>
/// Receives CancelRun on the queue "cancel-run-probe" and fails as its reason says: "transient:N" throws a
/// transient error on the first N attempts, "invalid:..." an <see cref="InvalidMessageException"/>, "argument:..."
/// an <see cref="ArgumentOutOfRangeException"/>. Keyed by the reason.
/// </summary>
public sealed class CancelRunProbeConsumer(Inbox inbox) : IConsumer<CancelRun>
{
    public Task Consume(ConsumeContext<CancelRun> context)
    {
        var reason = context.Message.Reason ?? "";
        var attempt = inbox.Attempt(reason);
        if (reason.StartsWith("transient:", StringComparison.Ordinal) && attempt <= int.Parse(reason.Split(':')[1]))
        {
            throw new InvalidOperationException($"transient failure on attempt {attempt}");
        }
        if (reason.StartsWith("invalid:", StringComparison.Ordinal))
        {
            throw new InvalidMessageException(nameof(CancelRun), context.Message.RunId, ["the run does not exist"]);
        }
        if (reason.StartsWith("argument:", StringComparison.Ordinal))
        {
            throw new ArgumentOutOfRangeException(nameof(context), "a value out of range");
        }
        inbox.Received(reason, context.Message, context.CorrelationId);
        return Task.CompletedTask;
    }
}

/// <summary>Reads a queue straight from the broker and keeps what it read, so several tests' markers can be found.</summary>
internal sealed class QueueReader(string connectionString, string queue) : IAsyncDisposable
{
    private readonly List<(string Body, IDictionary<string, object?> Headers)> _read = [];
    private IConnection? _connection;
    private IChannel? _channel;

    /// <summary>True when the broker has the queue.</summary>
    public async Task<bool> ExistsAsync()
    {
        var channel = await ChannelAsync();
        try
        {
            await channel.QueueDeclarePassiveAsync(queue);
            return true;
        }
        catch (RabbitMQ.Client.Exceptions.OperationInterruptedException)
        {
            // A failed passive declare closes the channel.
            await channel.DisposeAsync();
            _channel = null;
            return false;
        }
    }

    /// <summary>The first message whose body contains <paramref name="marker"/>, with its headers decoded to strings.</summary>
    public async Task<(string Body, IReadOnlyDictionary<string, string> Headers)> WaitForAsync(string marker)
    {
        var deadline = DateTime.UtcNow + TestApp.Timeout;
        while (true)
        {
            var match = _read.FirstOrDefault(m => m.Body.Contains(marker, StringComparison.Ordinal));
            if (match.Body is not null)
            {
                return (match.Body, match.Headers.ToDictionary(h => h.Key, h => h.Value switch
                {
                    byte[] bytes => Encoding.UTF8.GetString(bytes),
                    var other => other?.ToString() ?? "",
                }));
            }
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"No message containing '{marker}' arrived in queue '{queue}'.");
            BasicGetResult? result;
            try
            {
                result = await (await ChannelAsync()).BasicGetAsync(queue, autoAck: true);
            }
            catch (RabbitMQ.Client.Exceptions.OperationInterruptedException e) when (e.ShutdownReason?.ReplyCode == 404)
            {
                // MassTransit declares an error queue with its first fault, which may not have happened yet.
                await _channel!.DisposeAsync();
                _channel = null;
                result = null;
            }
            if (result is null)
            {
                await Task.Delay(100);
                continue;
            }
            _read.Add((Encoding.UTF8.GetString(result.Body.Span), result.BasicProperties.Headers ?? new Dictionary<string, object?>()));
        }
    }

    private async Task<IChannel> ChannelAsync()
    {
        _connection ??= await new ConnectionFactory { Uri = new Uri(connectionString) }.CreateConnectionAsync();
        return _channel ??= await _connection.CreateChannelAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (_channel is not null) await _channel.DisposeAsync();
        if (_connection is not null) await _connection.DisposeAsync();
    }
}
