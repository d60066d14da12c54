using CremaD.Contracts;

namespace CremaD.BlobStaging;

/// <summary>Where a clip's features came from, beyond what <see cref="ExtractedClip"/> says: what the store index records.</summary>
public sealed record ShardClipSource(int SourceSampleRate, long SourceSize, DateTimeOffset SourceLastModified);
