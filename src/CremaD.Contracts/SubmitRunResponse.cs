namespace CremaD.Contracts;

/// <summary>The answer to <c>POST /runs</c>.</summary>
public sealed record SubmitRunResponse(Guid RunId, string Status);
