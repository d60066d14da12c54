namespace CremaD.LocalInfrastructure;

/// <summary>Settings for <see cref="RabbitMqInstance.StartAsync(RabbitMqOptions, CancellationToken)"/>.</summary>
public sealed record RabbitMqOptions
{
    /// <summary>Debian's broker start script (not the /usr/sbin wrapper, which switches to the rabbitmq user).</summary>
    public string ServerPath { get; init; } = RabbitMqNode.DefaultServerPath;

    /// <summary>How long to wait for the broker to accept AMQP connections (it takes about 10 s on 2 cores).</summary>
    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(120);
}

/// <summary>
/// A private RabbitMQ broker (Debian's rabbitmq-server) in a temporary directory, on free loopback ports, with
/// its own Erlang node name and epmd, so that any number can run beside each other and beside a system broker.
/// Started as docs/local-infrastructure.md describes; <see cref="DisposeAsync"/> stops it with rabbitmqctl,
/// kills whatever is left of its process group, stops its epmd and deletes its directory. Leftover processes
/// are also killed at process exit and, if the test process is killed outright, by a watchdog.
/// </summary>
public sealed class RabbitMqInstance : InfrastructureInstance
{
    /// <summary>Installs the broker (Debian's package); named in "not installed" messages. No system service is needed.</summary>
    public const string InstallCommand = "sudo apt-get install -y rabbitmq-server";

    private readonly RabbitMqOptions _options;
    private RabbitMqInstance(RabbitMqOptions options) : base("rabbitmq")
    {
        _options = options;
        var ports = FreePorts.Allocate(3);
        (AmqpPort, DistributionPort, EpmdPort) = (ports[0], ports[1], ports[2]);
        NodeName = $"cremad-{InstanceId}@localhost";
    }

    /// <summary>AMQP URI with the default guest account: <c>amqp://guest:guest@127.0.0.1:&lt;port&gt;</c>.</summary>
    public string ConnectionString => Node.ConnectionString;

    public int AmqpPort { get; }

    /// <summary>Erlang distribution port of the broker node.</summary>
    public int DistributionPort { get; }

    /// <summary>Port of the broker's own Erlang port mapper daemon (epmd).</summary>
    public int EpmdPort { get; }

    /// <summary>Erlang node name, unique per instance.</summary>
    public string NodeName { get; }

    /// <summary>Folder of the broker's own log files.</summary>
    public string LogDirectory => Path.Combine(Directory, "log");

    public static Task<RabbitMqInstance> StartAsync(CancellationToken cancellationToken = default) =>
        StartAsync(new RabbitMqOptions(), cancellationToken);

    /// <summary>Starts a broker and returns once it has accepted an AMQP connection.</summary>
    /// <exception cref="InfrastructureNotInstalledException">rabbitmq-server is not installed.</exception>
    public static async Task<RabbitMqInstance> StartAsync(RabbitMqOptions options, CancellationToken cancellationToken = default)
    {
        if (!File.Exists(options.ServerPath))
        {
            throw new InfrastructureNotInstalledException("rabbitmq-server", options.ServerPath, InstallCommand);
        }
        return await StartAsync(() => new RabbitMqInstance(options), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The node's layout: directory, name and ports.</summary>
    public RabbitMqNode Node => new(Directory, NodeName, AmqpPort, DistributionPort, EpmdPort);

    /// <summary>The environment the broker and its command-line tools run with.</summary>
    public IReadOnlyDictionary<string, string?> BrokerEnvironment()
    {
        var environment = BaseEnvironment();
        foreach (var (name, value) in Node.Environment(System.Environment.GetEnvironmentVariables().Keys.Cast<string>()))
        {
            environment[name] = value;
        }
        return environment;
    }

    /// <summary>Also matches by node name and ports, for processes started before the marker existed (none should be).</summary>
    public bool IsInstanceProcess(ProcessEntry process) =>
        Owns(process)
        || process.CommandLine.Any(argument => argument.Contains(NodeName, StringComparison.Ordinal))
        || (process.Environment.TryGetValue("ERL_EPMD_PORT", out var epmdPort) && epmdPort == EpmdPort.ToString())
        || (process.Environment.TryGetValue("RABBITMQ_NODENAME", out var node) && node == NodeName);

    protected override async Task StopAsync()
    {
        var environment = BrokerEnvironment();
        if (Server is not null)
        {
            if (!Server.HasExited)
            {
                await ProcessGroup.RunAsync(RabbitmqCtlPath, ["stop"], environment, Directory,
                    Path.Combine(Directory, "rabbitmqctl.log"), TimeSpan.FromSeconds(60)).ConfigureAwait(false);
                if (!await Server.WaitForExitAsync(TimeSpan.FromSeconds(20)).ConfigureAwait(false))
                {
                    Server.Signal(ProcessGroup.SigKill);
                    await Server.WaitForExitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
                }
            }
            // Helpers of the node (erl_child_setup, inet_gethost) may outlive it briefly.
            Server.Signal(ProcessGroup.SigKill);
            Server.Dispose();
            Server = null;
        }
        // The node started epmd as a daemon on ERL_EPMD_PORT, outside its process group; it survives the node.
        if (File.Exists(EpmdPath))
        {
            await ProcessGroup.RunAsync(EpmdPath, ["-kill"], environment, Directory,
                Path.Combine(Directory, "epmd-kill.log"), TimeSpan.FromSeconds(15)).ConfigureAwait(false);
        }
        await ProcessTable.KillAndWaitAsync(IsInstanceProcess, TimeSpan.FromSeconds(10)).ConfigureAwait(false);
    }

    protected override void KillAll()
    {
        Server?.Signal(ProcessGroup.SigKill);
        foreach (var process in ProcessTable.Find(IsInstanceProcess))
        {
            ProcessGroup.SignalProcess(process.Id, ProcessGroup.SigKill);
        }
    }

    private static string RabbitmqCtlPath => "/usr/lib/rabbitmq/bin/rabbitmqctl";

    private static string EpmdPath => File.Exists("/usr/bin/epmd") ? "/usr/bin/epmd" : "/usr/lib/erlang/bin/epmd";

    protected override string DisplayName => $"RabbitMQ ({NodeName})";

    protected override TimeSpan StartTimeout => _options.StartTimeout;

    protected override string ReadinessDescription => $"an AMQP connection on 127.0.0.1:{AmqpPort}";

    protected override void Launch()
    {
        Node.WriteConfiguration();
        Server = ProcessGroup.Start(_options.ServerPath, [], BrokerEnvironment(), Directory, ConsoleLog);
    }

    protected override async Task<bool> IsReadyAsync(CancellationToken cancellationToken)
    {
        // The port opens before the broker finishes booting, so a refused AMQP handshake means "not yet" too.
        if (!await FreePorts.IsListeningAsync(AmqpPort, cancellationToken).ConfigureAwait(false)) return false;
        await RabbitMqNode.CheckAmqpAsync(ConnectionString, cancellationToken).ConfigureAwait(false);
        return true;
    }

    protected override string Diagnostics() => base.Diagnostics() + LogTail(Path.Combine(LogDirectory, NodeName + ".log"));
}
