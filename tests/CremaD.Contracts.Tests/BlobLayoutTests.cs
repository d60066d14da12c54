namespace CremaD.Contracts.Tests;

public sealed class BlobLayoutTests
{
    [Fact]
    public void A_run_has_its_own_folder_named_by_its_id()
    {
        Assert.Equal("runs/5b1f4c2e9a7d4e0b8c632f0d9e1a7b44/", BlobLayout.RunPrefix(SampleMessages.RunId));
        Assert.Throws<ArgumentException>(() => BlobLayout.RunPrefix(Guid.Empty));
    }

    [Fact]
    public void A_runs_model_artefacts_status_lease_and_index_entry_are_under_its_keys()
    {
        var run = BlobLayout.RunPrefix(SampleMessages.RunId);
        Assert.Equal(run + "status.json", BlobLayout.RunStatusKey(SampleMessages.RunId));
        Assert.Equal(run + "model/", BlobLayout.ModelPrefix(run));
        Assert.Equal(BlobLayout.ModelPrefix(run), BlobLayout.ModelPrefix(SampleMessages.RunId));
        Assert.Equal(run + "artifacts/", BlobLayout.ArtifactsPrefix(SampleMessages.RunId));
        Assert.Equal(run + "model/checkpoint.json", BlobLayout.ModelCheckpointKey(BlobLayout.ModelPrefix(run)));
        Assert.Equal(run + "model/g000003/", BlobLayout.ModelGenerationPrefix(BlobLayout.ModelPrefix(run), 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => BlobLayout.ModelGenerationPrefix(BlobLayout.ModelPrefix(run), 0));
        Assert.Equal(run + "trainer.lease", BlobLayout.TrainerLeaseKey(SampleMessages.RunId));
        Assert.Equal(run + "training/attempts.json", BlobLayout.TrainingAttemptsKey(SampleMessages.RunId));
        Assert.Equal(run + "model/best_model", BlobLayout.FileKey(run + "model", "best_model"));

        var index = BlobLayout.RunIndexKey(SampleMessages.RunId, SampleMessages.Start);
        Assert.StartsWith(BlobLayout.RunIndexPrefix, index, StringComparison.Ordinal);
        Assert.Equal(SampleMessages.RunId, BlobLayout.RunIdOfIndexKey(index));
        Assert.Null(BlobLayout.RunIdOfIndexKey(BlobLayout.RunIndexPrefix + "not-an-entry"));
        // Newest submission first in key order.
        Assert.True(string.CompareOrdinal(BlobLayout.RunIndexKey(Guid.NewGuid(), SampleMessages.Start.AddTicks(1)), index) < 0);
    }

    [Fact]
    public void The_trainers_requests_and_stop_records_are_one_blob_per_run()
    {
        var request = BlobLayout.TrainingRequestKey(SampleMessages.RunId);
        Assert.Equal("work/training/5b1f4c2e9a7d4e0b8c632f0d9e1a7b44.json", request);
        Assert.Equal(SampleMessages.RunId, BlobLayout.RunIdOfTrainingRequestKey(request));
        Assert.Null(BlobLayout.RunIdOfTrainingRequestKey("work/training/readme.json"));
        Assert.Null(BlobLayout.RunIdOfTrainingRequestKey(BlobLayout.TrainingStopKey(SampleMessages.RunId)));
        Assert.False(BlobLayout.TrainingStopKey(SampleMessages.RunId).StartsWith(BlobLayout.TrainingRequestsPrefix, StringComparison.Ordinal),
            "a stop record must not be listed as a request");
    }

    [Fact]
    public void A_dataset_name_is_one_folder_under_datasets()
    {
        Assert.Equal("datasets/demo/", BlobLayout.DatasetPrefix("demo"));
        Assert.Throws<ArgumentException>(() => BlobLayout.DatasetPrefix(".."));
        Assert.Throws<ArgumentException>(() => BlobLayout.DatasetPrefix(" "));
    }

    [Fact]
    public void A_feature_store_is_keyed_by_dataset_fingerprint_and_recipe_version()
    {
        Assert.Equal("features/3fa2c9d01b7e4a55/recipe-1/", BlobLayout.FeatureStorePrefix("3fa2c9d01b7e4a55", 1));
        Assert.NotEqual(BlobLayout.FeatureStorePrefix("3fa2c9d01b7e4a55", 1), BlobLayout.FeatureStorePrefix("3fa2c9d01b7e4a55", 2));

        var error = Assert.Throws<ArgumentException>(() => BlobLayout.FeatureStorePrefix("../etc", 1));
        Assert.Contains("'../etc'", error.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => BlobLayout.FeatureStorePrefix("abc", 0));
    }

    [Fact]
    public void Shard_folders_list_in_index_order()
    {
        var store = BlobLayout.FeatureStorePrefix("abc", 1);
        var prefixes = Enumerable.Range(0, 12).Select(i => BlobLayout.ShardPrefix(store, i, 12, 64)).ToList();

        Assert.Equal("features/abc/recipe-1/shards/size-00064/shard-00003-of-00012/", prefixes[3]);
        Assert.Equal(prefixes, prefixes.Order(StringComparer.Ordinal));
        Assert.Throws<ArgumentOutOfRangeException>(() => BlobLayout.ShardPrefix(store, 12, 12, 64));
        Assert.Throws<ArgumentOutOfRangeException>(() => BlobLayout.ShardPrefix(store, -1, 12, 64));
        Assert.Throws<ArgumentOutOfRangeException>(() => BlobLayout.ShardPrefix(store, 0, 12, 0));
        Assert.Contains("must end with '/'", Assert.Throws<ArgumentException>(() => BlobLayout.ShardPrefix("features/abc", 0, 1, 64)).Message);
        // 131 clips make 3 shards of 64 or 3 of 50: two plans, never one key.
        Assert.NotEqual(BlobLayout.ShardPrefix(store, 2, 3, 64), BlobLayout.ShardPrefix(store, 2, 3, 50));

        Assert.Equal(prefixes[3] + "shard.json", BlobLayout.ShardManifestKey(prefixes[3]));
        Assert.True(BlobLayout.IsShardManifestKey(BlobLayout.ShardManifestKey(prefixes[3])));
        Assert.False(BlobLayout.IsShardManifestKey(BlobLayout.ShardFeaturesKey(prefixes[3])));
        Assert.StartsWith(BlobLayout.ShardsPrefix(store), prefixes[3], StringComparison.Ordinal);
        Assert.Equal(store + "parts.json", BlobLayout.FeatureStorePartsKey(store));
        Assert.Equal(store + "dataset.json", BlobLayout.FeatureStoreDatasetKey(store));
    }

    [Theory]
    [InlineData(0, 256, 0)]
    [InlineData(1, 256, 1)]
    [InlineData(256, 256, 1)]
    [InlineData(257, 256, 2)]
    [InlineData(7442, 256, 30)]
    [InlineData(int.MaxValue, 1000, 2147484)]
    public void Shard_count_is_the_ceiling_of_clips_over_shard_size(int clips, int shardSize, int expected)
    {
        Assert.Equal(expected, BlobLayout.ShardCount(clips, shardSize));
    }

    [Theory]
    [InlineData("runs/x/history.json", false, null)]
    [InlineData("runs/x/", true, null)]
    [InlineData("runs/x/", false, "has an empty segment")]
    [InlineData("/runs/x", false, "must be relative (no leading '/')")]
    [InlineData("runs\\x", false, "contains '\\'; separate segments with '/'")]
    [InlineData("runs/./x", false, "has a '.' segment")]
    [InlineData("runs//x", true, "has an empty segment")]
    [InlineData("", true, "is empty")]
    public void Path_rules_catch_structural_mistakes(string value, bool isPrefix, string? expected)
    {
        Assert.Equal(expected, BlobLayout.FindPathProblem(value, isPrefix));
    }

    [Fact]
    public void A_queue_fails_over_to_its_error_queue()
    {
        Assert.Equal("extract-feature-shard_error", QueueNames.ErrorQueue(QueueNames.ExtractFeatureShard));
    }
}
