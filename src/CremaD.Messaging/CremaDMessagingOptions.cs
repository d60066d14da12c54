using System.Globalization;
using Microsoft.Extensions.Configuration;

namespace CremaD.Messaging;

/// <summary>
/// Bus settings beyond the connection string, from the configuration section <see cref="SectionName"/>
/// (environment variables <c>Messaging__Transport</c>, <c>Messaging__RetryIntervals__0</c>, ...).
/// </summary>
public sealed record CremaDMessagingOptions
{
    public const string SectionName = "Messaging";

    /// <summary>The transport asked for; a configured connection string means RabbitMQ whatever this says.</summary>
    public MessagingTransport? Transport { get; init; }

    /// <summary>
    /// Waits between immediate redeliveries of a message whose consumer failed with a transient error (broker or
    /// storage hiccup, timeout). After the last one the message goes to the endpoint's <c>_error</c> queue.
    /// <see cref="CremaD.Contracts.InvalidMessageException"/> and <see cref="ArgumentException"/> are never retried.
    /// </summary>
    public IReadOnlyList<TimeSpan> RetryIntervals { get; init; } = DefaultRetryIntervals;

    /// <summary>
    /// Deliveries of one command's work a consumer may start without finishing it before the command is refused and its run
    /// fails (<see cref="DeliveryLimitFilter{T}"/>); <c>Messaging:MaxDeliveries</c>, default 5.
    /// </summary>
    public int MaxDeliveries { get; init; } = 5;

    /// <summary>
    /// Waits between redeliveries on the <c>run-events</c> queue, whose consumer fails only when storage is away: 1 s to
    /// 60 s, about 5 minutes in all (<c>Messaging:OutageRetryIntervals:N</c>).
    /// </summary>
    public IReadOnlyList<TimeSpan> OutageRetryIntervals { get; init; } =
        [.. new[] { 1, 2, 5, 10, 15, 30, 60, 60, 60, 60 }.Select(seconds => TimeSpan.FromSeconds(seconds))];

    /// <summary>1 s, 5 s, 15 s: enough to ride out a broker failover or a storage throttling burst.</summary>
    public static IReadOnlyList<TimeSpan> DefaultRetryIntervals { get; } =
        [TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(15)];

    /// <summary>Reads and checks the section; errors name the setting and say what is accepted.</summary>
    /// <exception cref="InvalidOperationException">A value is malformed.</exception>
    public static CremaDMessagingOptions FromConfiguration(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var section = configuration.GetSection(SectionName);
        var options = new CremaDMessagingOptions();

        var transport = section["Transport"];
        if (!string.IsNullOrWhiteSpace(transport))
        {
            options = options with
            {
                Transport = transport.Trim().ToLowerInvariant() switch
                {
                    "rabbitmq" => MessagingTransport.RabbitMq,
                    "inmemory" or "in-memory" => MessagingTransport.InMemory,
                    _ => throw new InvalidOperationException(
                        $"Configuration '{SectionName}:Transport' is '{transport}'; expected 'RabbitMq' or 'InMemory'."),
                },
            };
        }

        if (section["MaxDeliveries"] is { } maxDeliveries)
        {
            if (!int.TryParse(maxDeliveries, NumberStyles.None, CultureInfo.InvariantCulture, out var max) || max is < 1 or > 1000)
            {
                throw new InvalidOperationException($"Configuration '{SectionName}:MaxDeliveries' is '{maxDeliveries}'; expected a whole number in [1, 1000].");
            }
            options = options with { MaxDeliveries = max };
        }

        if (ReadIntervals(section.GetSection("RetryIntervals")) is { } retry) options = options with { RetryIntervals = retry };
        if (ReadIntervals(section.GetSection("OutageRetryIntervals")) is { } outage) options = options with { OutageRetryIntervals = outage };
        return options;
    }

    private static List<TimeSpan>? ReadIntervals(IConfigurationSection intervals)
    {
        if (!intervals.Exists()) return null;
        var parsed = new List<TimeSpan>();
        foreach (var child in intervals.GetChildren().OrderBy(c => int.TryParse(c.Key, out var i) ? i : int.MaxValue))
        {
            if (!TimeSpan.TryParse(child.Value, CultureInfo.InvariantCulture, out var interval) || interval < TimeSpan.Zero)
            {
                throw new InvalidOperationException(
                    $"Configuration '{child.Path}' is '{child.Value}'; expected a non-negative time span such as 00:00:05.");
            }
            parsed.Add(interval);
        }
        return parsed;
    }
}
