using MassTransit;

namespace CremaD.Runs;

/// <summary>
/// Which failures of a command are an outage (storage or the broker unreachable, timing out or answering 5xx) rather
/// than something wrong with the command: those delay a run, they never fail it. Told from the fault's exception types
/// (a Fault carries the exception's type name and message, not the exception), the exception and its inner ones.
/// </summary>
public static class TransientFaults
{
    private static readonly HashSet<string> TransientTypes = new(StringComparer.Ordinal)
    {
        "Azure.RequestFailedException",
        "System.Net.Http.HttpRequestException",
        "System.Net.Sockets.SocketException",
        "System.TimeoutException",
        "System.Threading.Tasks.TaskCanceledException",
        "System.IO.IOException",
        "MassTransit.RequestTimeoutException",
        "RabbitMQ.Client.Exceptions.BrokerUnreachableException",
        "RabbitMQ.Client.Exceptions.AlreadyClosedException",
        "RabbitMQ.Client.Exceptions.OperationInterruptedException",
        "CremaD.Training.Service.TrainingStepException",
    };

    /// <summary>Whether the fault's exception, or one inside it, is an outage's.</summary>
    public static bool IsTransient(ExceptionInfo exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        for (ExceptionInfo? current = exception; current is not null; current = current.InnerException)
        {
            if (current.ExceptionType is { } type && TransientTypes.Contains(type)) return true;
        }
        return false;
    }
}
