using System.Collections.Concurrent;

namespace CremaD.Evaluation.Service;

/// <summary>
/// The runs this process has heard are stopped (<see cref="Contracts.RunCancelled"/>, <see cref="Contracts.RunFailed"/>,
/// through <see cref="EvaluationStopConsumer"/>) and the evaluations it is running, so that a stop cancels an evaluation
/// under way and skips one not yet begun. In memory, as an evaluation is short: the coordinator sends EvaluateModel only
/// for a run still going and ignores the outcome of one stopped meanwhile, so this saves work, it decides nothing.
/// </summary>
public sealed class EvaluationStops
{
    private readonly ConcurrentDictionary<Guid, bool> _stopped = new();
    private readonly ConcurrentDictionary<RunningEvaluation, bool> _running = new();

    /// <summary>Marks the run stopped and cancels its evaluations in this process.</summary>
    public void Stop(Guid runId)
    {
        _stopped[runId] = true;
        foreach (var evaluation in _running.Keys.Where(e => e.RunId == runId)) evaluation.Stop();
    }

    /// <summary>
    /// An evaluation of <paramref name="runId"/> begins: its token is cancelled with <paramref name="cancellationToken"/>
    /// or when the run is stopped (already stopped: at once). Dispose it when the evaluation ends.
    /// </summary>
    public RunningEvaluation Begin(Guid runId, CancellationToken cancellationToken)
    {
        var evaluation = new RunningEvaluation(this, runId, cancellationToken);
        _running[evaluation] = true;
        // Looked at after registering, so a stop that arrives in between is not missed.
        if (_stopped.ContainsKey(runId)) evaluation.Stop();
        return evaluation;
    }

    /// <summary>One evaluation under way.</summary>
    public sealed class RunningEvaluation : IDisposable
    {
        private readonly EvaluationStops _owner;
        private readonly CancellationTokenSource _cancellation;
        private volatile bool _stopped;

        internal RunningEvaluation(EvaluationStops owner, Guid runId, CancellationToken cancellationToken)
        {
            _owner = owner;
            RunId = runId;
            _cancellation = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        }

        public Guid RunId { get; }

        public CancellationToken Token => _cancellation.Token;

        /// <summary>The run was cancelled or failed: the evaluation is not to be reported.</summary>
        public bool Stopped => _stopped;

        internal void Stop()
        {
            _stopped = true;
            try
            {
                _cancellation.Cancel();
            }
            catch (ObjectDisposedException)
            {
                // Ended meanwhile.
            }
        }

        public void Dispose()
        {
            _owner._running.TryRemove(this, out _);
            _cancellation.Dispose();
        }
    }
}
