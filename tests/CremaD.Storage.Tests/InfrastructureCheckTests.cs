using CremaD.Testing;

namespace CremaD.Storage.Tests;

/// <summary>
/// CremaD.Testing's InfrastructureCheck (what the RequiresInfrastructure attributes and fixtures skip on) against a
/// made-up machine in a temporary folder, so that every missing piece can be tried without uninstalling anything.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class InfrastructureCheckTests : IDisposable
{
    private readonly TempDirectory _machine = new();
    private readonly InfrastructureLocations _complete;

    public InfrastructureCheckTests()
    {
        var bin = Directory.CreateDirectory(Path.Combine(_machine.Path, "bin")).FullName;
        _complete = new InfrastructureLocations(
            RabbitMqServer: Executable("usr/lib/rabbitmq/bin/rabbitmq-server"),
            Azurite: Executable("repo/node_modules/.bin/azurite"),
            SearchPath: $"{Path.Combine(_machine.Path, "empty")}:{bin}",
            ChromiumOverride: null,
            ChromiumCandidates: [At("usr/lib/chromium/chromium"), Executable("usr/bin/chromium")],
            FontDirectory: At("usr/share/fonts"));
        Executable("bin/node");
        File.WriteAllText(Create("usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"), "not really a font");
    }

    public void Dispose() => _machine.Dispose();

    private const Infrastructure Everything = Infrastructure.RabbitMq | Infrastructure.Azurite | Infrastructure.Chromium | Infrastructure.Fonts;

    [Fact]
    public void Nothing_is_missing_on_a_complete_machine()
    {
        Assert.Null(InfrastructureCheck.Missing(Everything, _complete));
        Assert.Null(InfrastructureCheck.Missing(Infrastructure.None, _complete with { RabbitMqServer = At("nowhere") }));
        Assert.Equal(At("usr/bin/chromium"), InfrastructureCheck.ChromiumPath(_complete));
    }

    [Fact]
    public void A_missing_broker_names_the_script_and_both_ways_to_install_it()
    {
        var server = At("usr/lib/rabbitmq/bin/rabbitmq-server.off");

        Assert.Equal(
            $"needs rabbitmq-server ({server} not found): run ./test.sh, or sudo apt-get install -y rabbitmq-server",
            InfrastructureCheck.Missing(Infrastructure.RabbitMq, _complete with { RabbitMqServer = server }));
        Assert.Null(InfrastructureCheck.Missing(Infrastructure.Azurite, _complete with { RabbitMqServer = server }));
    }

    [Fact]
    public void Azurite_needs_the_npm_launcher_and_node_on_the_path()
    {
        var launcher = At("repo/node_modules/.bin/azurite-missing");
        Assert.Equal(
            $"needs Azurite ({launcher} not found): run ./test.sh, or npm ci (in the repository root)",
            InfrastructureCheck.Missing(Infrastructure.Azurite, _complete with { Azurite = launcher }));

        Assert.Equal(
            "needs Azurite (node is not on PATH): run ./test.sh, or install Node.js 20 (https://nodejs.org)",
            InfrastructureCheck.Missing(Infrastructure.Azurite, _complete with { SearchPath = Path.Combine(_machine.Path, "empty") }));
        Assert.Contains("node is not on PATH", InfrastructureCheck.Missing(Infrastructure.Azurite, _complete with { SearchPath = null }));

        Assert.Contains("no repository root", InfrastructureCheck.Missing(Infrastructure.Azurite, _complete with { Azurite = null }));
    }

    [Fact]
    public void Only_an_executable_node_counts()
    {
        var plain = Create("plain/node");
        File.WriteAllText(plain, "");
        File.SetUnixFileMode(plain, UnixFileMode.UserRead | UnixFileMode.UserWrite);

        Assert.Null(InfrastructureCheck.FindOnPath("node", Path.GetDirectoryName(plain)));
        Assert.Equal(At("bin/node"), InfrastructureCheck.FindOnPath("node", $"{Path.GetDirectoryName(plain)}:{At("bin")}"));
    }

    [Fact]
    public void Chromium_is_the_first_candidate_present_unless_CREMAD_CHROMIUM_names_one()
    {
        var none = _complete with { ChromiumCandidates = [At("usr/lib/chromium/chromium"), At("usr/bin/chromium-browser")] };
        Assert.Equal(
            $"needs Chromium (none of {At("usr/lib/chromium/chromium")}, {At("usr/bin/chromium-browser")} found): run ./test.sh, "
            + "or sudo apt-get install -y chromium",
            InfrastructureCheck.Missing(Infrastructure.Chromium, none));
        var error = Assert.Throws<InvalidOperationException>(() => InfrastructureCheck.ChromiumPath(none));
        Assert.Contains("sudo apt-get install -y chromium", error.Message);

        var custom = Executable("opt/browser/chrome");
        Assert.Equal(custom, InfrastructureCheck.ChromiumPath(none with { ChromiumOverride = custom }));
        // A wrong override is reported as such, not papered over by the Debian paths.
        Assert.Equal(
            $"needs Chromium (CREMAD_CHROMIUM={At("opt/nothing")} not found): run ./test.sh, or sudo apt-get install -y chromium",
            InfrastructureCheck.Missing(Infrastructure.Chromium, _complete with { ChromiumOverride = At("opt/nothing") }));
    }

    [Fact]
    public void Fonts_are_font_files_anywhere_under_the_font_directory()
    {
        var fonts = Directory.CreateDirectory(At("empty-fonts/truetype")).Parent!.FullName;
        File.WriteAllText(Path.Combine(fonts, "truetype", "README"), "");
        var expected = $"needs a font for plot labels (no .ttf/.otf/.ttc/.pfb file under {fonts}): run ./test.sh, "
            + "or sudo apt-get install -y fonts-dejavu-core";

        Assert.Equal(expected, InfrastructureCheck.Missing(Infrastructure.Fonts, _complete with { FontDirectory = fonts }));
        Assert.Contains("no .ttf", InfrastructureCheck.Missing(Infrastructure.Fonts, _complete with { FontDirectory = At("no-such-dir") }));

        File.WriteAllText(Path.Combine(fonts, "truetype", "Some.OTF"), "");
        Assert.Null(InfrastructureCheck.Missing(Infrastructure.Fonts, _complete with { FontDirectory = fonts }));
    }

    [Fact]
    public void Several_missing_pieces_make_one_line_with_every_install_command()
    {
        var bare = _complete with
        {
            RabbitMqServer = At("none/rabbitmq-server"),
            Azurite = At("none/azurite"),
            ChromiumCandidates = [],
            FontDirectory = At("none/fonts"),
        };

        var line = InfrastructureCheck.Missing(Everything, bare);

        Assert.NotNull(line);
        Assert.DoesNotContain('\n', line);
        Assert.StartsWith($"needs rabbitmq-server ({At("none/rabbitmq-server")} not found) and Azurite ({At("none/azurite")} not found) and Chromium", line);
        Assert.EndsWith(": run ./test.sh, or sudo apt-get install -y rabbitmq-server; npm ci (in the repository root); "
            + "sudo apt-get install -y chromium; sudo apt-get install -y fonts-dejavu-core", line);
        Assert.Equal(
            $"needs rabbitmq-server ({At("none/rabbitmq-server")} not found) and a font for plot labels (no .ttf/.otf/.ttc/.pfb file under {At("none/fonts")}): "
            + "run ./test.sh, or sudo apt-get install -y rabbitmq-server; sudo apt-get install -y fonts-dejavu-core",
            InfrastructureCheck.Missing(Infrastructure.RabbitMq | Infrastructure.Fonts, bare));
    }

    [Theory]
    [InlineData(null, false)]
    [InlineData("", false)]
    [InlineData("false", false)]
    [InlineData("False", false)]
    [InlineData("0", false)]
    [InlineData("true", true)]
    [InlineData("TRUE", true)]
    [InlineData("1", true)]
    [InlineData("yes", true)]
    public void Any_CI_value_but_empty_false_or_0_means_continuous_integration(string? value, bool expected) =>
        Assert.Equal(expected, InfrastructureCheck.IsContinuousIntegrationValue(value));

    [Fact]
    public void Outside_CI_a_missing_piece_is_a_skip_reason_and_under_CI_it_is_not()
    {
        const string missing = "needs rabbitmq-server (x not found): run ./test.sh, or sudo apt-get install -y rabbitmq-server";

        Assert.Equal(missing, InfrastructureCheck.SkipReason(missing, continuousIntegration: false));
        Assert.Null(InfrastructureCheck.SkipReason(missing, continuousIntegration: true));
        Assert.Null(InfrastructureCheck.SkipReason(null, continuousIntegration: false));
    }

    [Fact]
    public void The_attributes_skip_exactly_when_the_check_says_so()
    {
        // This machine's answer, whatever it is: the attributes must agree with it (and never skip what needs nothing).
        Assert.Null(new RequiresInfrastructureFactAttribute().Skip);
        Assert.Null(new RequiresInfrastructureTheoryAttribute(Infrastructure.None).Skip);
        foreach (var piece in new[] { Infrastructure.RabbitMq, Infrastructure.Azurite, Infrastructure.Chromium, Infrastructure.Fonts })
        {
            Assert.Equal(InfrastructureCheck.SkipReason(piece), new RequiresInfrastructureFactAttribute(piece).Skip);
            Assert.Equal(InfrastructureCheck.SkipReason(piece), new RequiresInfrastructureTheoryAttribute(piece).Skip);
        }
    }

    private string At(string relative) => Path.Combine(_machine.Path, relative);

    private string Create(string relative)
    {
        var path = At(relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        return path;
    }

    private string Executable(string relative)
    {
        var path = Create(relative);
        File.WriteAllText(path, "#!/bin/sh\n");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return path;
    }
}
