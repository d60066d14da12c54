using System.Collections.Concurrent;
using System.Text.Json;
using MassTransit;
using MassTransit.Serialization;
using MassTransit.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace CremaD.Contracts.Tests;

/// <summary>The first message of each type the recording consumers received.</summary>
public sealed class Deliveries
{
    private readonly ConcurrentDictionary<Type, TaskCompletionSource<object>> _first = new();

    public void Add<T>(T message) where T : class => Slot(typeof(T)).TrySetResult(message);

    public Task<object> FirstAsync<T>() => Slot(typeof(T)).Task.WaitAsync(TimeSpan.FromSeconds(30));

    private TaskCompletionSource<object> Slot(Type type) =>
        _first.GetOrAdd(type, _ => new TaskCompletionSource<object>(TaskCreationOptions.RunContinuationsAsynchronously));
}

/// <summary>Receives any message type and hands it to <see cref="Deliveries"/>.</summary>
public sealed class RecordingConsumer<T>(Deliveries deliveries) : IConsumer<T> where T : class
{
    public Task Consume(ConsumeContext<T> context)
    {
        deliveries.Add(context.Message);
        return Task.CompletedTask;
    }
}

// Consumers named as the services will name theirs: "<Command>Consumer" gets the queue QueueNames.<Command>.
public sealed class SubmitRunConsumer(Deliveries deliveries) : IConsumer<SubmitRun>
{
    public Task Consume(ConsumeContext<SubmitRun> context)
    {
        deliveries.Add(context.Message);
        return Task.CompletedTask;
    }
}

public sealed class ExtractFeatureShardConsumer(Deliveries deliveries) : IConsumer<ExtractFeatureShard>
{
    public Task Consume(ConsumeContext<ExtractFeatureShard> context)
    {
        deliveries.Add(context.Message);
        return Task.CompletedTask;
    }
}

public sealed class TrainModelConsumer(Deliveries deliveries) : IConsumer<TrainModel>
{
    public Task Consume(ConsumeContext<TrainModel> context)
    {
        deliveries.Add(context.Message);
        return Task.CompletedTask;
    }
}

public sealed class EvaluateModelConsumer(Deliveries deliveries) : IConsumer<EvaluateModel>
{
    public Task Consume(ConsumeContext<EvaluateModel> context)
    {
        deliveries.Add(context.Message);
        return Task.CompletedTask;
    }
}

public sealed class CancelRunConsumer(Deliveries deliveries) : IConsumer<CancelRun>
{
    public Task Consume(ConsumeContext<CancelRun> context)
    {
        deliveries.Add(context.Message);
        return Task.CompletedTask;
    }
}

/// <summary>One in-memory test harness with a <see cref="RecordingConsumer{T}"/> for every message type.</summary>
public sealed class RecordingHarness : IAsyncLifetime
{
    private ServiceProvider? _provider;

    public Deliveries Deliveries { get; } = new();

    public ITestHarness Harness => _provider?.GetRequiredService<ITestHarness>()
        ?? throw new InvalidOperationException("The harness has not been started.");

    public async Task InitializeAsync()
    {
        _provider = new ServiceCollection()
            .AddSingleton(Deliveries)
            .AddMassTransitTestHarness(bus =>
            {
                bus.DisableUsageTelemetry();
                foreach (var type in RunMessageTypes.All) bus.AddConsumer(typeof(RecordingConsumer<>).MakeGenericType(type));
            })
            .BuildServiceProvider(validateScopes: true);
        Harness.TestTimeout = TimeSpan.FromSeconds(30);
        await Harness.Start();
    }

    public async Task DisposeAsync()
    {
        if (_provider is null) return;
        await Harness.Stop();
        await _provider.DisposeAsync();
    }
}

/// <summary>Every message type through MassTransit's in-memory test harness: published, serialised, consumed.</summary>
public sealed class MassTransitHarnessTests(RecordingHarness recording) : IClassFixture<RecordingHarness>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Theory]
    [MemberData(nameof(SampleMessages.AllTypes), MemberType = typeof(SampleMessages))]
    public Task A_published_message_reaches_its_consumer_intact(Type type) =>
        (Task)typeof(MassTransitHarnessTests).GetMethod(nameof(PublishAndConsume), System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)!
            .MakeGenericMethod(type).Invoke(this, [SampleMessages.ByType[type]])!;

    private async Task PublishAndConsume<T>(T message) where T : class, IRunMessage
    {
        await recording.Harness.Bus.Publish(message);

        var received = (T)await recording.Deliveries.FirstAsync<T>();
        Assert.NotSame(message, received);
        Assert.Equal(Json(message), Json(received));
        Assert.Equal(message.RunId, received.RunId);
        Assert.Empty(received.FindProblems());
    }

    [Fact]
    public async Task Commands_sent_to_their_queue_names_reach_consumers_named_after_them()
    {
        var deliveries = new Deliveries();
        await using var provider = new ServiceCollection()
            .AddSingleton(deliveries)
            .AddMassTransitTestHarness(bus =>
            {
                bus.DisableUsageTelemetry();
                bus.SetKebabCaseEndpointNameFormatter();
                bus.AddConsumer<SubmitRunConsumer>();
                bus.AddConsumer<ExtractFeatureShardConsumer>();
                bus.AddConsumer<TrainModelConsumer>();
                bus.AddConsumer<EvaluateModelConsumer>();
                bus.AddConsumer<CancelRunConsumer>();
            })
            .BuildServiceProvider(validateScopes: true);
        var harness = provider.GetRequiredService<ITestHarness>();
        harness.TestTimeout = Timeout;
        await harness.Start();
        try
        {
            await Send(harness, QueueNames.SubmitRun, SampleMessages.SubmitRun);
            await Send(harness, QueueNames.ExtractFeatureShard, SampleMessages.ExtractShard(0));
            await Send(harness, QueueNames.TrainModel, SampleMessages.TrainModel);
            await Send(harness, QueueNames.EvaluateModel, SampleMessages.EvaluateModel);
            await Send(harness, QueueNames.CancelRun, SampleMessages.CancelRun);

            Assert.Equal(SampleMessages.SubmitRun, await deliveries.FirstAsync<SubmitRun>());
            Assert.Equal(SampleMessages.ExtractShard(0).ShardIndex, ((ExtractFeatureShard)await deliveries.FirstAsync<ExtractFeatureShard>()).ShardIndex);
            Assert.Equal(SampleMessages.TrainModel.OutputPrefix, ((TrainModel)await deliveries.FirstAsync<TrainModel>()).OutputPrefix);
            Assert.Equal(SampleMessages.EvaluateModel, await deliveries.FirstAsync<EvaluateModel>());
            Assert.Equal(SampleMessages.CancelRun, await deliveries.FirstAsync<CancelRun>());
        }
        finally
        {
            await harness.Stop();
        }
    }

    private static async Task Send<T>(ITestHarness harness, string queue, T message) where T : class
    {
        var endpoint = await harness.Bus.GetSendEndpoint(new Uri($"queue:{queue}"));
        await endpoint.Send(message);
    }

    private static string Json(object message) => JsonSerializer.Serialize(message, message.GetType(), SystemTextJsonMessageSerializer.Options);
}
