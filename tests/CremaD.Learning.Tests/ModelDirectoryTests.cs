using CremaD.Datasets;
using CremaD.Evaluation;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn.utils.rnn;

namespace CremaD.Learning.Tests;

public sealed class ModelDirectoryTests
{
    [Fact]
    public void TrainingLeavesASelfDescribingModelDirectory()
    {
        using var directory = new TemporaryDirectory();
        var data = SyntheticData.Data();
        var options = SyntheticData.TinyOptions(TrainingLoop.Fast, epochs: 2);
        var result = Trainer.Train(data, options, directory.Path);

        var files = Directory.GetFiles(directory.Path).Select(path => Path.GetFileName(path)!).Order().ToArray();
        Assert.Equal(new[] { ArtifactNames.History, ModelFiles.BestModel, ModelFiles.Checkpoint, ModelFiles.Manifest }.Order(), files);

        var manifest = ModelManifest.Read(result.ManifestPath);
        Assert.Equal(options.ToModelOptions(3), manifest.Model);
        Assert.Equal(SyntheticData.ClassNames, manifest.ClassNames);
        Assert.Equal(data.Normalisation.Mean, manifest.NormalisationMean);
        Assert.Equal(data.Normalisation.Std, manifest.NormalisationStd);
        Assert.Equal(CremaD.Audio.FeatureRecipe.Version, manifest.FeatureRecipeVersion);
        Assert.Equal(options, manifest.Training!.Options);
        Assert.Equal(result.BestEpoch, manifest.Training.BestEpoch);

        // best_model is plain TorchSharp module.save output: a fresh model of the manifest's shape loads it.
        using var model = new SerModel(manifest.Model);
        model.load(result.BestModelPath);
        Assert.Equal(2, TrainingHistory.Read(Path.Combine(directory.Path, ArtifactNames.History)).Count);
    }

    [Fact]
    public void PredictorGivesTheTrainedModelsAnswer()
    {
        using var directory = new TemporaryDirectory();
        var data = SyntheticData.Data();
        var result = Trainer.Train(data, SyntheticData.TinyOptions(TrainingLoop.Reference, epochs: 2), directory.Path);
        var clips = SyntheticData.Clips(9, seed: 31, "probe", minFrames: 1, maxFrames: 50);

        using var predictor = Predictor.Load(directory.Path, DeviceChoice.Cpu);
        var probabilities = predictor.PredictProbabilities(clips, batchClips: 4);
        var evaluation = predictor.Evaluate(clips);

        // The same weights applied by hand, one clip at a time.
        var manifest = ModelManifest.Read(result.ManifestPath);
        using var model = new SerModel(manifest.Model);
        model.load(result.BestModelPath);
        model.eval();
        using var noGrad = no_grad();
        using var mean = tensor(manifest.NormalisationMean);
        using var std = tensor(manifest.NormalisationStd);
        for (var i = 0; i < clips.Count; i++)
        {
            using var scope = NewDisposeScope();
            var features = (tensor(clips[i].Data, [clips[i].Frames, 80]) - mean) / std;
            var expected = softmax(model.call(pack_sequence([features], enforce_sorted: false)), 1)[0].data<float>().ToArray();
            Assert.Equal(3, probabilities[i].Length);
            for (var c = 0; c < 3; c++) Assert.Equal(expected[c], probabilities[i][c], 4);
            Assert.Equal(Predictor.ArgMax(expected), evaluation.Predicted[i]);
            Assert.Equal(clips[i].Label, evaluation.Labels[i]);
            Assert.Equal(clips[i].Id, evaluation.Ids[i]);
        }
    }

    [Fact]
    public void MissingOrForeignModelFilesAreReportedByName()
    {
        using var directory = new TemporaryDirectory();
        var missing = Assert.Throws<FileNotFoundException>(() => Predictor.Load(directory.Path, DeviceChoice.Cpu));
        Assert.Contains(ModelFiles.Manifest, missing.Message);

        File.WriteAllText(Path.Combine(directory.Path, ModelFiles.Manifest), "{ \"format\": \"something-else\" }");
        var foreign = Assert.Throws<InvalidDataException>(() => Predictor.Load(directory.Path, DeviceChoice.Cpu));
        Assert.Contains(ModelFiles.Manifest, foreign.Message);

        File.WriteAllBytes(Path.Combine(directory.Path, ModelFiles.Checkpoint), [1, 2, 3]);
        var damaged = Assert.Throws<InvalidDataException>(() => Trainer.Resume(SyntheticData.Data(6, 3), directory.Path));
        Assert.Contains(ModelFiles.Checkpoint, damaged.Message);
    }

    [Fact]
    public void AtomicWritesLeaveTheOldFileWhenWritingFails()
    {
        using var directory = new TemporaryDirectory();
        var path = directory.Sub("file");
        AtomicFile.WriteAllText(path, "old");
        Assert.Throws<InvalidOperationException>(() => AtomicFile.Write(path, stream =>
        {
            stream.Write("partial new content"u8);
            throw new InvalidOperationException("disk full");
        }));
        Assert.Equal("old", File.ReadAllText(path));
        Assert.Equal([path], Directory.GetFiles(directory.Path));
        AtomicFile.WriteAllText(path, "new");
        Assert.Equal("new", File.ReadAllText(path));
    }
}
