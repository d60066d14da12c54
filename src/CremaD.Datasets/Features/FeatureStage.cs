using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using CremaD.Audio;

namespace CremaD.Datasets;

/// <summary>
/// Turns a dataset into a feature store (see <see cref="FeatureStoreFiles"/>): every clip's log-mel matrix,
/// the train-set normalisation, and an auditable record of what was done. Runs incrementally: a clip whose
/// audio file has the same size and modification time as when its features were made (with the same recipe
/// version) is not decoded again, and the normalisation is recomputed only when the train set changed.
/// </summary>
public static class FeatureStage
{
    private const int Bands = FeatureRecipe.MelBands;

    /// <summary>Version of this library, recorded in every store.</summary>
    public static string ToolVersion { get; } =
        typeof(FeatureStage).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? typeof(FeatureStage).Assembly.GetName().Version?.ToString()
        ?? "unknown";

    public static async Task<FeatureStageResult> RunAsync(
        Dataset dataset,
        string outputDir,
        FeatureStageOptions? options = null,
        IProgress<FeatureProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        options ??= new FeatureStageOptions();
        if (options.NumWorkers < 1) throw new ArgumentOutOfRangeException(nameof(options), options.NumWorkers, "NumWorkers must be at least 1");
        var run = new Run(dataset, Path.GetFullPath(outputDir), options, progress, cancellationToken);
        return await run.ExecuteAsync().ConfigureAwait(false);
    }

    /// <summary>One clip that must be decoded.</summary>
    private readonly record struct WorkItem(int ClipIndex, string SourcePath, SourceStamp Stamp);

    /// <summary>Parts smaller than this are merged with each other when a run changes the store.</summary>
    private const long SmallPartBytes = 1 << 20;

    /// <summary>
    /// Appends clip matrices to a new part file: one write per clip, no file created per clip. Created on the
    /// first clip, so a worker that extracts nothing leaves no empty part behind.
    /// </summary>
    private sealed class PartWriter(string path) : IDisposable
    {
        private Microsoft.Win32.SafeHandles.SafeFileHandle? _handle;
        private long _length;

        /// <summary>Writes <paramref name="data"/> (little-endian) at the end of the part; returns its byte offset.</summary>
        public long Append(ReadOnlySpan<float> data)
        {
            if (BitConverter.IsLittleEndian) return AppendBytes(MemoryMarshal.AsBytes(data));
            var swapped = new int[data.Length];
            BinaryPrimitives.ReverseEndianness(MemoryMarshal.Cast<float, int>(data), swapped);
            return AppendBytes(MemoryMarshal.AsBytes(swapped.AsSpan()));
        }

        public long AppendBytes(ReadOnlySpan<byte> bytes)
        {
            _handle ??= File.OpenHandle(path, FileMode.CreateNew, FileAccess.Write, FileShare.Read);
            var offset = _length;
            RandomAccess.Write(_handle, bytes, offset);
            _length += bytes.Length;
            return offset;
        }

        public void Dispose() => _handle?.Dispose();
    }

    /// <summary>Time one worker spent on each step, in Stopwatch ticks (summed at the end; no shared counters).</summary>
    private sealed class WorkerClock
    {
        public long Read, Features, Stats, Write;
    }

    private sealed class Run(Dataset dataset, string outputDir, FeatureStageOptions options, IProgress<FeatureProgress>? progress, CancellationToken cancellationToken)
    {
        private readonly Stopwatch _clock = new();
        private readonly int _clipCount = dataset.Clips.Count;
        private FeatureStoreEntry?[] _entries = [];
        private RejectedClip?[] _rejections = [];
        private SourceStamp[] _stamps = [];
        private long[] _statCounts = [];
        private double[] _statMeans = [];
        private double[] _statM2 = [];
        private int _done, _extracted, _reused, _rejected;
        private int _firstNewPart;
        private string _phase = "extracting";

        public async Task<FeatureStageResult> ExecuteAsync()
        {
            var startedUtc = DateTime.UtcNow;
            _clock.Start();
            Directory.CreateDirectory(Path.Combine(outputDir, FeatureStoreFiles.FeaturesFolder));
            var previous = options.Force ? PreviousStore.Empty : PreviousStore.Load(outputDir);

            // Plan: one stat per clip decides reuse; nothing is decoded yet.
            _entries = new FeatureStoreEntry?[_clipCount];
            _rejections = new RejectedClip?[_clipCount];
            _stamps = new SourceStamp[_clipCount];
            _statCounts = new long[_clipCount];
            _statMeans = new double[_clipCount * Bands];
            _statM2 = new double[_clipCount * Bands];
            var work = new List<WorkItem>();
            for (var i = 0; i < _clipCount; i++)
            {
                var clip = dataset.Clips[i];
                var source = dataset.FullPath(clip);
                var stamp = _stamps[i] = SourceStamp.Of(source);
                if (stamp == SourceStamp.Missing)
                {
                    _rejections[i] = new RejectedClip(clip.RelativePath, "audio file not found", "audio", clip.Label, clip.Partition);
                    _rejected++;
                }
                else if (previous.ReusableEntry(clip, stamp, outputDir) is { } entry)
                {
                    _entries[i] = entry with { Id = clip.Id, Label = clip.Label, Partition = clip.Partition, Actor = clip.Actor };
                    _reused++;
                }
                else if (previous.ReusableRejection(clip, stamp) is { } rejection)
                {
                    _rejections[i] = rejection with { Label = clip.Label, Partition = clip.Partition };
                    _rejected++;
                }
                else
                {
                    work.Add(new WorkItem(i, source, stamp));
                }
            }
            _done = _reused + _rejected;
            _firstNewPart = NextPartNumber();
            var fingerprint = DatasetFingerprint.Compute(dataset.Clips.Select((c, i) => (c, _stamps[i])));
            var planSeconds = _clock.Elapsed.TotalSeconds;

            // A store that already matches the dataset is left untouched: a second run does no work.
            var datasetPaths = dataset.Clips.Select(c => c.RelativePath).ToHashSet(StringComparer.Ordinal);
            var removedPaths = previous.Entries.Keys.Where(p => !datasetPaths.Contains(p)).ToList();
            if (work.Count == 0 && removedPaths.Count == 0 && previous.IsCompleteFor(fingerprint, RejectedList().Count, outputDir))
            {
                Report("done");
                return Result(_reused, 0, 0, false, true, fingerprint,
                    new FeatureStageTimings(planSeconds, 0, 0, 0, 0, 0, 0, 0), RejectedList(), 0);
            }

            // From here on the store changes: without metadata.json it reads as incomplete until the run finishes.
            DeleteIfExists(Path.Combine(outputDir, FeatureStoreFiles.Metadata));

            var extractStart = _clock.Elapsed;
            var clocks = await ExtractAsync(work).ConfigureAwait(false);
            var extractSeconds = (_clock.Elapsed - extractStart).TotalSeconds;
            var extractedAudioSeconds = work.Sum(w => _entries[w.ClipIndex]?.DurationSeconds ?? 0);
            var decoded = work.Count;

            // Normalisation: all train frames, recomputed only when the train clips changed.
            _phase = "normalising";
            Report(_phase);
            var normalisationStart = _clock.Elapsed;
            var trainFingerprint = TrainFingerprint();
            var normalisationPath = Path.Combine(outputDir, FeatureStoreFiles.Normalisation);
            var recomputed = false;
            NormalisationFile? normalisation = previous.Normalisation is { } kept
                && kept.TrainFingerprint == trainFingerprint && kept.RecipeVersion == FeatureRecipe.Version && File.Exists(normalisationPath)
                ? kept
                : null;
            if (normalisation is null)
            {
                await LoadMissingTrainStatisticsAsync().ConfigureAwait(false);
                normalisation = ComputeNormalisation(trainFingerprint);
                recomputed = true;
            }
            var normalisationSeconds = (_clock.Elapsed - normalisationStart).TotalSeconds;

            // Write the store's description; metadata.json goes last and marks the store complete.
            _phase = "writing";
            Report(_phase);
            var writeStart = _clock.Elapsed;
            var accepted = Compact(_entries.Where(e => e is not null).Select(e => e!).ToList(), _firstNewPart + Math.Max(1, clocks.Length));
            if (normalisation is null) DeleteIfExists(normalisationPath);
            else if (recomputed) FeatureStoreFiles.Write(normalisationPath, normalisation);
            FeatureStoreFiles.Write(Path.Combine(outputDir, FeatureStoreFiles.Index),
                new FeatureStoreIndex(FeatureStoreFiles.FormatVersion, FeatureRecipe.Version, Bands, ToolVersion, accepted));
            DeleteUnreferencedParts(accepted);
            var removed = removedPaths.Count;
            var rejected = RejectedList();
            FeatureStoreFiles.Write(Path.Combine(outputDir, FeatureStoreFiles.Rejected), new RejectedFileList(ToolVersion, rejected.Count, rejected));
            WriteLabels(accepted);
            var writeSeconds = (_clock.Elapsed - writeStart).TotalSeconds;

            var seconds = _clock.Elapsed.TotalSeconds;
            var toSeconds = 1.0 / Stopwatch.Frequency;
            var timings = new FeatureStageTimings(planSeconds, extractSeconds, normalisationSeconds, writeSeconds,
                clocks.Sum(c => c.Read) * toSeconds, clocks.Sum(c => c.Features) * toSeconds,
                clocks.Sum(c => c.Stats) * toSeconds, clocks.Sum(c => c.Write) * toSeconds);
            var clipsPerSecond = seconds > 0 ? decoded / seconds : 0;
            var runSummary = new FeatureRunSummary(startedUtc, Math.Min(options.NumWorkers, Math.Max(1, work.Count)),
                _extracted, _reused, rejected.Count, removed, recomputed, seconds, clipsPerSecond, timings);
            FeatureStoreFiles.Write(Path.Combine(outputDir, FeatureStoreFiles.Metadata),
                BuildMetadata(accepted, rejected.Count, fingerprint, runSummary));
            Report("done");
            return Result(accepted.Count, removed, decoded, recomputed, false, fingerprint, timings, rejected, extractedAudioSeconds);
        }

        /// <param name="decoded">Clips whose audio this run read (extracted or newly rejected).</param>
        private FeatureStageResult Result(int clips, int removed, int decoded, bool recomputed, bool upToDate,
            string fingerprint, FeatureStageTimings timings, IReadOnlyList<RejectedClip> rejected, double audioSeconds)
        {
            var seconds = _clock.Elapsed.TotalSeconds;
            return new FeatureStageResult(outputDir, clips, _extracted, _reused, rejected.Count, removed, recomputed, upToDate,
                seconds, seconds > 0 ? decoded / seconds : 0, audioSeconds, fingerprint, timings, rejected);
        }

        private void Report(string phase) =>
            progress?.Report(new FeatureProgress(Volatile.Read(ref _done), _clipCount, Volatile.Read(ref _extracted),
                _reused, Volatile.Read(ref _rejected), _clock.Elapsed, phase));

        // ---- extraction -------------------------------------------------------------------------------

        private async Task<WorkerClock[]> ExtractAsync(List<WorkItem> work)
        {
            var workerCount = Math.Min(options.NumWorkers, Math.Max(1, work.Count));
            var clocks = Enumerable.Range(0, workerCount).Select(_ => new WorkerClock()).ToArray();
            if (work.Count == 0) return clocks;

            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var next = -1;
            var workers = new Task[workerCount];
            for (var w = 0; w < workerCount; w++)
            {
                var clock = clocks[w];
                var workerNumber = w;
                workers[w] = Task.Factory.StartNew(() =>
                {
                    try
                    {
                        RunWorker(work, ref next, workerNumber, clock, stop.Token);
                    }
                    catch
                    {
                        stop.Cancel(); // one failing worker stops the others
                        throw;
                    }
                }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            }

            var all = Task.WhenAll(workers);
            while (!all.IsCompleted)
            {
                await Task.WhenAny(all, Task.Delay(options.ProgressInterval, CancellationToken.None)).ConfigureAwait(false);
                Report(_phase);
            }

            if (all.IsFaulted)
            {
                // Surface the real failure, not the cancellations it caused in the other workers.
                var failure = all.Exception!.InnerExceptions.FirstOrDefault(e => e is not OperationCanceledException) ?? all.Exception.InnerException!;
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
            }
            if (cancellationToken.IsCancellationRequested)
            {
                SavePartialIndex();
                cancellationToken.ThrowIfCancellationRequested();
            }
            return clocks;
        }

        private void RunWorker(List<WorkItem> work, ref int next, int workerNumber, WorkerClock clock, CancellationToken token)
        {
            var extractor = new ClipFeatureExtractor();
            var buffer = new byte[256 * 1024];
            var partFile = FeatureStoreFiles.PartFile(_firstNewPart + workerNumber);
            using var part = new PartWriter(Path.Combine(outputDir, partFile));
            while (!token.IsCancellationRequested)
            {
                var index = Interlocked.Increment(ref next);
                if (index >= work.Count) return;
                var item = work[index];
                var clip = dataset.Clips[item.ClipIndex];

                var t0 = Stopwatch.GetTimestamp();
                int length;
                try
                {
                    length = ReadWholeFile(item.SourcePath, ref buffer);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    Reject(item, clip, $"cannot read: {e.Message}");
                    continue;
                }
                var t1 = Stopwatch.GetTimestamp();
                clock.Read += t1 - t0;

                ClipFeatures features;
                try
                {
                    features = extractor.FromBytes(buffer.AsSpan(0, length), clip.RelativePath);
                }
                catch (AudioFormatException e)
                {
                    clock.Features += Stopwatch.GetTimestamp() - t1;
                    Reject(item, clip, e.Reason);
                    continue;
                }
                var t2 = Stopwatch.GetTimestamp();
                clock.Features += t2 - t1;

                if (features.Frames <= 0)
                {
                    Reject(item, clip, "no feature frames");
                    continue;
                }
                var data = features.Data.AsSpan(0, features.Frames * Bands);
                var mean = _statMeans.AsSpan(item.ClipIndex * Bands, Bands);
                BandStatistics.OfClip(data, features.Frames, mean, _statM2.AsSpan(item.ClipIndex * Bands, Bands));
                var t3 = Stopwatch.GetTimestamp();
                clock.Stats += t3 - t2;
                if (!BandStatistics.AllFinite(mean))
                {
                    // The extractor guarantees finite output; this keeps a bug from poisoning the normalisation.
                    Reject(item, clip, "features contain NaN or infinity");
                    continue;
                }
                _statCounts[item.ClipIndex] = features.Frames;

                var offset = part.Append(data);
                clock.Write += Stopwatch.GetTimestamp() - t3;

                _entries[item.ClipIndex] = new FeatureStoreEntry(clip.Id, clip.RelativePath, clip.Label, clip.Partition, clip.Actor,
                    features.Frames, features.DurationSeconds, features.SourceSampleRate, item.Stamp.Size,
                    new DateTime(item.Stamp.LastWriteTicksUtc, DateTimeKind.Utc), partFile, offset,
                    features.Warnings.Count == 0 ? [] : features.Warnings.ToArray());
                Interlocked.Increment(ref _extracted);
                Interlocked.Increment(ref _done);
            }
        }

        private void Reject(WorkItem item, ClipEntry clip, string reason)
        {
            _rejections[item.ClipIndex] = new RejectedClip(clip.RelativePath, reason, "audio", clip.Label, clip.Partition,
                item.Stamp.Size, new DateTime(item.Stamp.LastWriteTicksUtc, DateTimeKind.Utc));
            Interlocked.Increment(ref _rejected);
            Interlocked.Increment(ref _done);
        }

        /// <summary>Open, size, one read (a short read only on a file that shrank meanwhile), close.</summary>
        private static int ReadWholeFile(string path, ref byte[] buffer)
        {
            using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
            var length = RandomAccess.GetLength(handle);
            if (length > Array.MaxLength) throw new IOException($"file is too large ({length} bytes)");
            if (buffer.Length < length) buffer = new byte[Math.Max(length, Math.Min(Array.MaxLength, buffer.Length * 2L))];
            var total = 0;
            while (total < length)
            {
                var read = RandomAccess.Read(handle, buffer.AsSpan(total, (int)length - total), total);
                if (read == 0) break;
                total += read;
            }
            return total;
        }

        // ---- normalisation ----------------------------------------------------------------------------

        private string TrainFingerprint()
        {
            var text = new StringBuilder($"cremad-train-v{FeatureStoreFiles.FormatVersion}-recipe{FeatureRecipe.Version}\n");
            foreach (var entry in _entries.Where(e => e is { Partition: Partition.Train }).OrderBy(e => e!.Path, StringComparer.Ordinal))
            {
                text.Append(entry!.Path).Append('\t').Append(entry.SourceSize.ToString(CultureInfo.InvariantCulture)).Append('\t')
                    .Append(entry.SourceMtimeUtc.Ticks.ToString(CultureInfo.InvariantCulture)).Append('\n');
            }
            return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
        }

        /// <summary>Train clips reused from the store have no statistics yet: read their matrices (no decoding).</summary>
        private Task LoadMissingTrainStatisticsAsync()
        {
            var missing = Enumerable.Range(0, _clipCount)
                .Where(i => _entries[i] is { Partition: Partition.Train } && _statCounts[i] == 0)
                .ToList();
            if (missing.Count == 0) return Task.CompletedTask;
            return Task.Run(() =>
            {
                var handles = missing.Select(i => _entries[i]!.FeatureFile).Distinct(StringComparer.Ordinal)
                    .ToDictionary(p => p, p => FeatureStore.OpenPart(Path.Combine(outputDir, p)), StringComparer.Ordinal);
                try
                {
                    Parallel.ForEach(missing,
                        new ParallelOptions { MaxDegreeOfParallelism = options.NumWorkers, CancellationToken = cancellationToken },
                        () => Array.Empty<float>(),
                        (i, _, buffer) =>
                        {
                            var entry = _entries[i]!;
                            buffer = FeatureStore.ReadMatrix(handles[entry.FeatureFile], Path.Combine(outputDir, entry.FeatureFile), entry.Offset, entry.Frames, buffer);
                            BandStatistics.OfClip(buffer.AsSpan(0, entry.Frames * Bands), entry.Frames,
                                _statMeans.AsSpan(i * Bands, Bands), _statM2.AsSpan(i * Bands, Bands));
                            _statCounts[i] = entry.Frames;
                            return buffer;
                        },
                        _ => { });
                }
                finally
                {
                    foreach (var handle in handles.Values) handle.Dispose();
                }
            }, cancellationToken);
        }

        private NormalisationFile? ComputeNormalisation(string trainFingerprint)
        {
            var train = new NormalisationAccumulator(Bands);
            for (var i = 0; i < _clipCount; i++)
            {
                if (_entries[i] is not { Partition: Partition.Train }) continue;
                train.Merge(_statCounts[i], 1, _statMeans.AsSpan(i * Bands, Bands), _statM2.AsSpan(i * Bands, Bands));
            }
            if (train.Frames == 0) return null;
            var normalisation = train.ToNormalisation();
            return new NormalisationFile(normalisation.Mean, normalisation.Std, train.Frames, train.Clips, 1, FeatureRecipe.Version, trainFingerprint);
        }

        // ---- store maintenance ------------------------------------------------------------------------

        private List<RejectedClip> RejectedList() =>
            dataset.Rejected.Select(r => new RejectedClip(r.Path, r.Reason, "dataset"))
                .Concat(_rejections.Where(r => r is not null).Select(r => r!))
                .ToList();

        private int NextPartNumber() =>
            Directory.EnumerateFiles(Path.Combine(outputDir, FeatureStoreFiles.FeaturesFolder))
                .Select(FeatureStoreFiles.PartNumber)
                .DefaultIfEmpty(0)
                .Max() + 1;

        /// <summary>
        /// Rewrites the live clips of parts that are mostly dead (clips changed or removed since) or small (left by
        /// small incremental runs) into one new part, so the store neither grows without bound nor fragments.
        /// </summary>
        private List<FeatureStoreEntry> Compact(List<FeatureStoreEntry> accepted, int partNumber)
        {
            var live = accepted.GroupBy(e => e.FeatureFile, StringComparer.Ordinal)
                .ToDictionary(g => g.Key, g => g.Sum(e => FeatureStoreFiles.ByteLength(e.Frames)), StringComparer.Ordinal);
            var sizes = live.Keys.ToDictionary(p => p, p => new FileInfo(Path.Combine(outputDir, p)).Length, StringComparer.Ordinal);
            var mostlyDead = live.Keys.Where(p => live[p] * 2 < sizes[p]).ToList();
            var small = live.Keys.Where(p => sizes[p] < SmallPartBytes).ToList();
            var compacted = mostlyDead.Union(small).ToHashSet(StringComparer.Ordinal);
            if (mostlyDead.Count == 0 && small.Count < 2) return accepted;

            var partFile = FeatureStoreFiles.PartFile(partNumber);
            var handles = compacted.ToDictionary(p => p, p => FeatureStore.OpenPart(Path.Combine(outputDir, p)), StringComparer.Ordinal);
            try
            {
                using var writer = new PartWriter(Path.Combine(outputDir, partFile));
                var buffer = Array.Empty<float>();
                return accepted.Select(entry =>
                {
                    if (!compacted.Contains(entry.FeatureFile)) return entry;
                    buffer = FeatureStore.ReadMatrix(handles[entry.FeatureFile], Path.Combine(outputDir, entry.FeatureFile), entry.Offset, entry.Frames, buffer);
                    var offset = writer.AppendBytes(MemoryMarshal.AsBytes(buffer.AsSpan(0, entry.Frames * Bands)));
                    return entry with { FeatureFile = partFile, Offset = offset };
                }).ToList();
            }
            finally
            {
                foreach (var handle in handles.Values) handle.Dispose();
            }
        }

        /// <summary>After the new index is written: parts it does not refer to hold only dead clips.</summary>
        private void DeleteUnreferencedParts(List<FeatureStoreEntry> accepted)
        {
            var referenced = accepted.Select(e => Path.GetFileName(e.FeatureFile)).ToHashSet(StringComparer.Ordinal);
            foreach (var file in Directory.EnumerateFiles(Path.Combine(outputDir, FeatureStoreFiles.FeaturesFolder)).ToList())
            {
                if (FeatureStoreFiles.PartNumber(file) >= 0 && !referenced.Contains(Path.GetFileName(file))) File.Delete(file);
            }
        }

        /// <summary>On cancellation, keeps what was extracted so the next run resumes instead of starting over.</summary>
        private void SavePartialIndex()
        {
            var done = _entries.Where(e => e is not null).Select(e => e!).ToList();
            FeatureStoreFiles.Write(Path.Combine(outputDir, FeatureStoreFiles.Index),
                new FeatureStoreIndex(FeatureStoreFiles.FormatVersion, FeatureRecipe.Version, Bands, ToolVersion, done));
        }

        private void WriteLabels(List<FeatureStoreEntry> accepted)
        {
            var text = new StringBuilder("path,class,partition\n");
            foreach (var entry in accepted)
            {
                text.Append(Csv.Escape(entry.Path)).Append(',').Append(entry.Label.ToString(CultureInfo.InvariantCulture))
                    .Append(',').Append(entry.Partition.ToName()).Append('\n');
            }
            AtomicFile.WriteAllText(Path.Combine(outputDir, FeatureStoreFiles.Labels), text.ToString());
        }

        private FeatureStoreMetadata BuildMetadata(List<FeatureStoreEntry> accepted, int rejected, string fingerprint, FeatureRunSummary run) =>
            FeatureStoreMetadata.Describe(accepted, rejected, dataset.Root, dataset.Layout, dataset.LabelsPath, dataset.SplitSeed,
                dataset.DemographicsPath, fingerprint, run, dataset.LabelsFrom);
    }

    private static void DeleteIfExists(string path)
    {
        if (File.Exists(path)) File.Delete(path);
    }

    /// <summary>What an earlier run left in the output folder, as far as it can be trusted.</summary>
    private sealed class PreviousStore
    {
        public static PreviousStore Empty { get; } = new();

        /// <summary>Entries by clip path (all of them, also when incompatible: their files may need deleting).</summary>
        public Dictionary<string, FeatureStoreEntry> Entries { get; private init; } = new(StringComparer.Ordinal);

        private Dictionary<string, RejectedClip> Rejections { get; init; } = new(StringComparer.Ordinal);
        private bool Compatible { get; init; }
        public NormalisationFile? Normalisation { get; private init; }
        public FeatureStoreMetadata? Metadata { get; private init; }

        public static PreviousStore Load(string outputDir)
        {
            var indexPath = Path.Combine(outputDir, FeatureStoreFiles.Index);
            if (!File.Exists(indexPath)) return Empty;
            FeatureStoreIndex index;
            try
            {
                index = FeatureStoreFiles.Read<FeatureStoreIndex>(indexPath);
            }
            catch (DatasetFormatException)
            {
                return Empty; // an unreadable cache is rebuilt, not fatal
            }
            var compatible = index.Format == FeatureStoreFiles.FormatVersion && index.RecipeVersion == FeatureRecipe.Version && index.MelBands == Bands;
            var rejections = new Dictionary<string, RejectedClip>(StringComparer.Ordinal);
            var rejectedPath = Path.Combine(outputDir, FeatureStoreFiles.Rejected);
            if (compatible && File.Exists(rejectedPath))
            {
                try
                {
                    var list = FeatureStoreFiles.Read<RejectedFileList>(rejectedPath);
                    // A newer tool may decode what an older one rejected: retry those.
                    if (list.ToolVersion == ToolVersion)
                    {
                        foreach (var r in list.Clips.Where(r => r.Stage == "audio" && r.SourceSize is not null)) rejections[r.Path] = r;
                    }
                }
                catch (DatasetFormatException)
                {
                }
            }
            return new PreviousStore
            {
                Entries = (index.Clips ?? []).GroupBy(e => e.Path, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal),
                Rejections = rejections,
                Compatible = compatible,
                Normalisation = compatible ? TryRead<NormalisationFile>(Path.Combine(outputDir, FeatureStoreFiles.Normalisation)) : null,
                Metadata = TryRead<FeatureStoreMetadata>(Path.Combine(outputDir, FeatureStoreFiles.Metadata)),
            };
        }

        private static T? TryRead<T>(string path) where T : class
        {
            if (!File.Exists(path)) return null;
            try
            {
                return FeatureStoreFiles.Read<T>(path);
            }
            catch (DatasetFormatException)
            {
                return null;
            }
        }

        private readonly Dictionary<string, long> _partLengths = new(StringComparer.Ordinal);

        public FeatureStoreEntry? ReusableEntry(ClipEntry clip, SourceStamp stamp, string outputDir)
        {
            if (!Compatible || !Entries.TryGetValue(clip.RelativePath, out var entry) || !FeatureStoreFiles.IsPartPath(entry.FeatureFile)) return null;
            if (entry.SourceSize != stamp.Size || entry.SourceMtimeUtc.Ticks != stamp.LastWriteTicksUtc) return null;
            if (!_partLengths.TryGetValue(entry.FeatureFile, out var partLength))
            {
                var part = new FileInfo(Path.Combine(outputDir, entry.FeatureFile));
                _partLengths[entry.FeatureFile] = partLength = part.Exists ? part.Length : -1;
            }
            return entry.Offset >= 0 && entry.Offset + FeatureStoreFiles.ByteLength(entry.Frames) <= partLength ? entry : null;
        }

        public RejectedClip? ReusableRejection(ClipEntry clip, SourceStamp stamp) =>
            Rejections.TryGetValue(clip.RelativePath, out var r) && r.SourceSize == stamp.Size
            && r.SourceMtimeUtc?.Ticks == stamp.LastWriteTicksUtc
                ? r
                : null;

        /// <summary>True when the store was completed by this tool version for exactly this dataset.</summary>
        public bool IsCompleteFor(string fingerprint, int rejected, string outputDir) =>
            Compatible && Metadata is not null && Metadata.DatasetFingerprint == fingerprint && Metadata.ToolVersion == ToolVersion
            && Metadata.Rejected == rejected
            && File.Exists(Path.Combine(outputDir, FeatureStoreFiles.Rejected))
            && (Normalisation is not null || Metadata.ClipsPerPartition.GetValueOrDefault(Partition.Train.ToName()) == 0);
    }
}
