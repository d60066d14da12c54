using CremaD.Contracts;
using MassTransit;

namespace CremaD.Evaluation.Service;

/// <summary>
/// A temporary queue per process (<c>evaluation-stop-&lt;instance&gt;</c>, removed when the process stops): the stops are
/// fanned out to every instance rather than shared among them, and none are kept for an instance that is gone.
/// </summary>
public sealed class EvaluationStopConsumerDefinition : ConsumerDefinition<EvaluationStopConsumer>
{
    public EvaluationStopConsumerDefinition() => Endpoint(endpoint =>
    {
        endpoint.InstanceId = Guid.NewGuid().ToString("N")[..12];
        endpoint.Temporary = true;
    });
}
