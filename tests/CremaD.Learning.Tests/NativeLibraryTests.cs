using System.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace CremaD.Learning.Tests;

/// <summary>
/// TorchSharp must work inside a plain `dotnet test` with no manual step: Directory.Build.targets patches the
/// output copy of libLibTorchSharp.so where the host's libstdc++ lacks GLIBCXX_3.4.32 (Debian 12).
/// </summary>
public sealed class NativeLibraryTests
{
    private const string Version = "GLIBCXX_3.4.32";
    private const ushort VerFlagWeak = 0x2;

    [Fact]
    public void PackedBidirectionalGruTrainsOnVariableLengthSequences()
    {
        manual_seed(3);
        using var scope = NewDisposeScope();
        using var gru = nn.GRU(inputSize: 5, hiddenSize: 7, numLayers: 2, bidirectional: true);
        var lengths = new[] { 4, 9, 1, 6 };
        var sequences = lengths.Select(length => randn(length, 5)).ToArray();
        var packed = nn.utils.rnn.pack_sequence(sequences, enforce_sorted: false);

        var (output, lastHidden) = gru.call(packed);
        Assert.Equal(new long[] { 4, 4, 7 }, lastHidden.shape);
        Assert.Equal(lengths.Sum(), output.data.shape[0]);
        var loss = lastHidden.pow(2).sum();
        loss.backward();

        var gradients = gru.parameters().Select(p => p.grad).ToArray();
        Assert.All(gradients, gradient =>
        {
            Assert.NotNull(gradient);
            Assert.True(isfinite(gradient!).all().item<bool>());
        });
        Assert.Contains(gradients, gradient => gradient!.abs().sum().item<float>() > 0);
    }

    [Fact]
    public void OutputCopyIsPatchedOnlyWhereTheHostNeedsItAndTheNuGetCacheIsUntouched()
    {
        if (!OperatingSystem.IsLinux()) return; // The patch exists for Linux hosts only.
        var output = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        Assert.True(File.Exists(output), $"missing {output}");
        var cache = NuGetCacheCopy();

        var hostLibrary = LibStdCxxLocator.Find();
        Assert.NotNull(hostLibrary);
        var hostHasVersion = LibStdCxxLocator.Provides(hostLibrary!, Version);

        var outputFlags = TestElf.VersionNeedFlags(File.ReadAllBytes(output), Version);
        Assert.NotNull(outputFlags);
        if (hostHasVersion)
        {
            Assert.Equal(File.ReadAllBytes(cache), File.ReadAllBytes(output));
        }
        else
        {
            Assert.Equal(VerFlagWeak, (ushort)(outputFlags!.Value & VerFlagWeak));
        }

        // The cache keeps the package's bytes: the need is not weak there, and only that flag differs.
        var cacheBytes = File.ReadAllBytes(cache);
        var cacheFlags = TestElf.VersionNeedFlags(cacheBytes, Version);
        Assert.Equal(0, cacheFlags!.Value & VerFlagWeak);
        var outputBytes = File.ReadAllBytes(output);
        Assert.Equal(cacheBytes.Length, outputBytes.Length);
        Assert.True(cacheBytes.Zip(outputBytes).Count(pair => pair.First != pair.Second) <= (hostHasVersion ? 0 : 1));
    }

    [Fact]
    public void PatchCodeMarksTheNeedWeakOnceAndRejectsOtherFiles()
    {
        var original = File.ReadAllBytes(NuGetCacheCopy());
        var image = (byte[])original.Clone();

        Assert.Equal(ElfVersionNeeds.Outcome.Patched, ElfVersionNeeds.MakeWeak(image, Version));
        Assert.Equal(VerFlagWeak, TestElf.VersionNeedFlags(image, Version)!.Value & VerFlagWeak);
        var patchedOnce = (byte[])image.Clone();
        Assert.Equal(ElfVersionNeeds.Outcome.AlreadyWeak, ElfVersionNeeds.MakeWeak(image, Version));
        Assert.Equal(patchedOnce, image);
        Assert.Equal(ElfVersionNeeds.Outcome.NotNeeded, ElfVersionNeeds.MakeWeak((byte[])original.Clone(), "GLIBCXX_9.9.99"));

        Assert.Throws<InvalidDataException>(() => ElfVersionNeeds.MakeWeak(Encoding.ASCII.GetBytes("not an ELF file at all, just text"), Version));
        Assert.Throws<InvalidDataException>(() => ElfVersionNeeds.MakeWeak(original[..4096], Version));
        var wrongClass = (byte[])original.Clone();
        wrongClass[4] = 1; // ELF32
        Assert.Throws<InvalidDataException>(() => ElfVersionNeeds.MakeWeak(wrongClass, Version));
    }

    /// <summary>The package's own copy in the NuGet global packages folder.</summary>
    private static string NuGetCacheCopy()
    {
        var root = Environment.GetEnvironmentVariable("NUGET_PACKAGES");
        if (string.IsNullOrEmpty(root)) root = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        var version = typeof(torch).Assembly.GetName().Version!;
        var path = Path.Combine(root, "torchsharp", $"{version.Major}.{version.Minor}.{version.Build}", "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        Assert.True(File.Exists(path), $"missing {path}");
        return path;
    }
}

/// <summary>
/// An ELF64 reader written independently of the build's patch code, to check its work: the vna_flags of the
/// version need called <c>name</c>, located through .dynamic's DT_VERNEED/DT_VERNEEDNUM and DT_STRTAB
/// (the dynamic loader's own route) rather than the section headers the patch walks.
/// </summary>
internal static class TestElf
{
    public static ushort? VersionNeedFlags(byte[] image, string name)
    {
        Assert.Equal(0x464C457F, BitConverter.ToInt32(image, 0));
        var programHeaders = (long)BitConverter.ToUInt64(image, 0x20);
        var programHeaderSize = BitConverter.ToUInt16(image, 0x36);
        var programHeaderCount = BitConverter.ToUInt16(image, 0x38);
        var loads = new List<(ulong Address, ulong Offset, ulong Size)>();
        (long Offset, long Size)? dynamic = null;
        for (var i = 0; i < programHeaderCount; i++)
        {
            var at = (int)(programHeaders + i * programHeaderSize);
            var type = BitConverter.ToUInt32(image, at);
            var offset = BitConverter.ToUInt64(image, at + 8);
            var address = BitConverter.ToUInt64(image, at + 16);
            var fileSize = BitConverter.ToUInt64(image, at + 32);
            if (type == 1) loads.Add((address, offset, fileSize));        // PT_LOAD
            if (type == 2) dynamic = ((long)offset, (long)fileSize);       // PT_DYNAMIC
        }
        Assert.NotNull(dynamic);
        ulong verneed = 0, verneedCount = 0, strtab = 0;
        for (var at = dynamic!.Value.Offset; at < dynamic.Value.Offset + dynamic.Value.Size; at += 16)
        {
            var tag = BitConverter.ToInt64(image, (int)at);
            var value = BitConverter.ToUInt64(image, (int)at + 8);
            if (tag == 0) break;
            if (tag == 0x6ffffffe) verneed = value;      // DT_VERNEED
            if (tag == 0x6fffffff) verneedCount = value; // DT_VERNEEDNUM
            if (tag == 5) strtab = value;                // DT_STRTAB
        }
        long FileOffset(ulong address)
        {
            var segment = loads.Single(l => address >= l.Address && address < l.Address + l.Size);
            return (long)(address - segment.Address + segment.Offset);
        }
        var strings = FileOffset(strtab);
        var need = FileOffset(verneed);
        for (ulong n = 0; n < verneedCount; n++)
        {
            var auxCount = BitConverter.ToUInt16(image, (int)need + 2);
            var aux = need + BitConverter.ToUInt32(image, (int)need + 8);
            for (var a = 0; a < auxCount; a++)
            {
                var nameOffset = strings + BitConverter.ToUInt32(image, (int)aux + 8);
                var end = Array.IndexOf(image, (byte)0, (int)nameOffset);
                if (Encoding.ASCII.GetString(image, (int)nameOffset, end - (int)nameOffset) == name) return BitConverter.ToUInt16(image, (int)aux + 4);
                aux += BitConverter.ToUInt32(image, (int)aux + 12);
            }
            need += BitConverter.ToUInt32(image, (int)need + 12);
        }
        return null;
    }
}
