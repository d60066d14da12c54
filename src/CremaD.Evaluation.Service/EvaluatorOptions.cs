using CremaD.Contracts;

namespace CremaD.Evaluation.Service;

/// <summary>Settings of the evaluation service (configuration section <see cref="SectionName"/>).</summary>
public sealed record EvaluatorOptions
{
    public const string SectionName = "Evaluation";

    /// <summary>LibTorch threads; null: every core this container may use (Environment.ProcessorCount).</summary>
    public int? Threads { get; init; }

    public RunDevice Device { get; init; } = RunDevice.Auto;
}
