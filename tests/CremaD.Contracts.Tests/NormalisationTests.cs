using System.Text.Json;
using CremaD.Datasets;
using MassTransit.Serialization;

namespace CremaD.Contracts.Tests;

/// <summary>
/// The distributed normalisation: each shard summarises its train clips into <see cref="BandMoments"/>, the
/// moments travel in <see cref="FeatureShardExtracted"/>, and the coordinator merges them with the same
/// <see cref="NormalisationAccumulator"/> the local feature stage uses.
/// </summary>
public sealed class NormalisationTests
{
    private const int Bands = BandMoments.Bands;

    /// <summary>
    /// Log-mel-like clips: around -40 dB with a spread of a few dB, so a naive sum-of-squares would lose digits to
    /// cancellation. Deterministic.
    /// </summary>
    private static List<float[]> Clips(int count, int seed = 42)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(_ =>
        {
            var frames = random.Next(1, 240);
            var data = new float[frames * Bands];
            for (var f = 0; f < frames; f++)
            {
                for (var b = 0; b < Bands; b++)
                {
                    data[f * Bands + b] = (float)(-40 + b * 0.3 + 4 * Math.Sin(0.1 * f + b) + 2 * (random.NextDouble() - 0.5));
                }
            }
            return data;
        }).ToList();
    }

    /// <summary>Mean and unbiased std of every band over all frames, the textbook two-pass way in float64.</summary>
    private static (double[] Mean, double[] Std, long Frames) TwoPass(IReadOnlyList<float[]> clips)
    {
        var frames = clips.Sum(c => (long)c.Length / Bands);
        var mean = new double[Bands];
        var std = new double[Bands];
        foreach (var clip in clips)
        {
            for (var i = 0; i < clip.Length; i++) mean[i % Bands] += clip[i];
        }
        for (var b = 0; b < Bands; b++) mean[b] /= frames;
        foreach (var clip in clips)
        {
            for (var i = 0; i < clip.Length; i++)
            {
                var d = clip[i] - mean[i % Bands];
                std[i % Bands] += d * d;
            }
        }
        for (var b = 0; b < Bands; b++) std[b] = Math.Sqrt(std[b] / (frames - 1));
        return (mean, std, frames);
    }

    /// <summary>What a feature service puts in its event: the moments of one shard's clips.</summary>
    private static BandMoments ShardMoments(IEnumerable<float[]> clips)
    {
        var shard = new NormalisationAccumulator(Bands);
        foreach (var clip in clips) Assert.True(shard.AddClip(clip, clip.Length / Bands));
        return new BandMoments(shard.Frames, shard.Clips, shard.Mean.ToArray(), shard.M2.ToArray());
    }

    private static BandMoments OverTheWire(BandMoments moments) =>
        JsonSerializer.Deserialize<BandMoments>(JsonSerializer.Serialize(moments, SystemTextJsonMessageSerializer.Options),
            SystemTextJsonMessageSerializer.Options)!;

    private static NormalisationAccumulator Merge(IEnumerable<BandMoments> shards)
    {
        var total = new NormalisationAccumulator(Bands);
        foreach (var moments in shards) total.Merge(moments.Frames, moments.Clips, moments.Mean, moments.M2);
        return total;
    }

    [Fact]
    public void Shards_merged_after_the_wire_give_the_two_pass_normalisation()
    {
        var clips = Clips(23);
        var shards = clips.Chunk(5).Select(ShardMoments).Select(OverTheWire).ToList();
        Assert.All(shards, s => Assert.Empty(s.FindProblems()));

        var normalisation = Merge(shards).ToNormalisation();
        var expected = TwoPass(clips);

        Assert.Equal(expected.Frames, normalisation.Frames);
        for (var b = 0; b < Bands; b++)
        {
            Assert.Equal((float)expected.Mean[b], normalisation.Mean[b]);
            Assert.Equal(expected.Std[b], normalisation.Std[b], 1e-6 * expected.Std[b]);
        }
    }

    [Fact]
    public void Sharding_agrees_with_the_local_stage_clip_by_clip_reduction()
    {
        var clips = Clips(23, seed: 7);
        var local = new NormalisationAccumulator(Bands);
        foreach (var clip in clips) local.AddClip(clip, clip.Length / Bands);

        var distributed = Merge(clips.Chunk(4).Select(ShardMoments).Select(OverTheWire));

        Assert.Equal((local.Frames, local.Clips), (distributed.Frames, distributed.Clips));
        for (var b = 0; b < Bands; b++)
        {
            Assert.Equal(local.Mean[b], distributed.Mean[b], 1e-12 * Math.Abs(local.Mean[b]));
            Assert.Equal(local.M2[b], distributed.M2[b], 1e-10 * local.M2[b]);
        }
        Assert.Equal(local.ToNormalisation().Mean, distributed.ToNormalisation().Mean);
    }

    [Fact]
    public void Merging_in_shard_order_is_reproducible_whichever_shard_finished_first()
    {
        var shards = Clips(30, seed: 3).Chunk(7).Select(ShardMoments).ToList();

        var inOrder = Merge(shards);
        var arrivedShuffled = shards.Select((s, i) => (Index: i, Moments: s)).Reverse().ToList();
        var sortedBeforeMerging = Merge(arrivedShuffled.OrderBy(s => s.Index).Select(s => s.Moments));
        var mergedAsArrived = Merge(arrivedShuffled.Select(s => s.Moments));

        Assert.Equal(inOrder.Mean.ToArray(), sortedBeforeMerging.Mean.ToArray());
        Assert.Equal(inOrder.M2.ToArray(), sortedBeforeMerging.M2.ToArray());
        for (var b = 0; b < Bands; b++) Assert.Equal(inOrder.M2[b], mergedAsArrived.M2[b], 1e-10 * inOrder.M2[b]);
    }

    [Fact]
    public void A_shard_without_train_clips_merges_as_nothing()
    {
        var shards = Clips(6).Chunk(3).Select(ShardMoments).ToList();

        var withEmpty = Merge([shards[0], BandMoments.Empty(), shards[1]]);
        var without = Merge(shards);

        Assert.Equal(without.Mean.ToArray(), withEmpty.Mean.ToArray());
        Assert.Equal(without.M2.ToArray(), withEmpty.M2.ToArray());
        Assert.Equal(without.Clips, withEmpty.Clips);
    }

    [Fact]
    public void A_clip_with_a_non_finite_value_is_left_out()
    {
        var accumulator = new NormalisationAccumulator(Bands);
        var clip = Clips(1)[0];
        clip[17] = float.NaN;

        Assert.False(accumulator.AddClip(clip, clip.Length / Bands));
        Assert.Equal((0L, 0), (accumulator.Frames, accumulator.Clips));
        Assert.Equal("The normalisation needs at least one train frame; none was added.",
            Assert.Throws<InvalidOperationException>(accumulator.ToNormalisation).Message);
    }

    [Fact]
    public void One_frame_has_no_spread_and_mismatched_shapes_are_refused()
    {
        var accumulator = new NormalisationAccumulator(Bands);
        var frame = Enumerable.Range(0, Bands).Select(b => (float)b).ToArray();
        accumulator.AddClip(frame, 1);

        var normalisation = accumulator.ToNormalisation();

        Assert.Equal(frame, normalisation.Mean);
        Assert.All(normalisation.Std, s => Assert.Equal(0f, s));
        Assert.Throws<ArgumentException>(() => accumulator.AddClip(frame, 2));
        Assert.Contains("must have 80 bands, got a mean of 79",
            Assert.Throws<ArgumentException>(() => accumulator.Merge(10, 1, new double[79], new double[80])).Message);
    }
}
