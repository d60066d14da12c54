using RabbitMQ.Client;

namespace CremaD.LocalInfrastructure;

/// <summary>
/// How a private RabbitMQ node (Debian's rabbitmq-server) is laid out: its files in one directory, loopback-only
/// listeners on the given ports, and an environment that nothing inherited can redirect. Shared by the test fixtures'
/// <see cref="RabbitMqInstance"/> and the AppHost's <c>messaging</c> resource, so both start the broker the same way
/// (docs/local-infrastructure.md).
/// </summary>
/// <param name="Directory">The node's own directory: configuration, Mnesia database, logs, Erlang cookie.</param>
public sealed record RabbitMqNode(string Directory, string NodeName, int AmqpPort, int DistributionPort, int EpmdPort)
{
    /// <summary>Debian's broker start script (not the /usr/sbin wrapper, which switches to the rabbitmq user).</summary>
    public const string DefaultServerPath = "/usr/lib/rabbitmq/bin/rabbitmq-server";

    /// <summary><c>amqp://guest:guest@127.0.0.1:&lt;port&gt;</c> (guest is allowed on loopback by the configuration).</summary>
    public string ConnectionString => $"amqp://guest:guest@127.0.0.1:{AmqpPort}";

    public string LogDirectory => Path.Combine(Directory, "log");

    /// <summary>Writes the configuration files (no plugins, listener on 127.0.0.1, guest allowed on loopback).</summary>
    public void WriteConfiguration()
    {
        System.IO.Directory.CreateDirectory(Directory);
        File.WriteAllText(Path.Combine(Directory, "enabled_plugins"), "[].\n");
        File.WriteAllText(Path.Combine(Directory, "rabbitmq.conf"),
            $"""
             listeners.tcp.default = 127.0.0.1:{AmqpPort}
             loopback_users = none
             """ + "\n");
    }

    /// <summary>
    /// The environment the broker and its command-line tools run with. Values of null remove an inherited variable:
    /// settings from the caller's environment (RABBITMQ_*, ERL_*) must not redirect this private broker.
    /// </summary>
    /// <param name="inherited">The caller's environment variable names.</param>
    /// <param name="additionalErlangArguments">Appended to the Erlang VM's arguments.</param>
    public Dictionary<string, string?> Environment(IEnumerable<string> inherited, string additionalErlangArguments = "")
    {
        var environment = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (var name in inherited)
        {
            if (name.StartsWith("RABBITMQ_", StringComparison.Ordinal) || name.StartsWith("ERL_", StringComparison.Ordinal))
            {
                environment[name] = null;
            }
        }
        environment["HOME"] = Directory; // the Erlang cookie goes here, shared by server and rabbitmqctl
        environment["RABBITMQ_MNESIA_BASE"] = Path.Combine(Directory, "mnesia");
        environment["RABBITMQ_LOG_BASE"] = LogDirectory;
        environment["RABBITMQ_NODENAME"] = NodeName;
        environment["RABBITMQ_NODE_IP_ADDRESS"] = "127.0.0.1";
        environment["RABBITMQ_NODE_PORT"] = AmqpPort.ToString();
        environment["RABBITMQ_DIST_PORT"] = DistributionPort.ToString();
        environment["ERL_EPMD_PORT"] = EpmdPort.ToString();
        environment["ERL_EPMD_ADDRESS"] = "127.0.0.1";
        environment["RABBITMQ_CONFIG_FILE"] = Path.Combine(Directory, "rabbitmq");
        environment["RABBITMQ_ADVANCED_CONFIG_FILE"] = Path.Combine(Directory, "advanced.config");
        environment["RABBITMQ_ENABLED_PLUGINS_FILE"] = Path.Combine(Directory, "enabled_plugins");
        // Not the system's /etc/rabbitmq/rabbitmq-env.conf, which could set another node name or port.
        environment["RABBITMQ_CONF_ENV_FILE"] = Path.Combine(Directory, "rabbitmq-env.conf");
        // Keep Erlang distribution on the loopback interface too.
        environment["RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS"] = ("-kernel inet_dist_use_interface {127,0,0,1} " + additionalErlangArguments).Trim();
        return environment;
    }

    /// <summary>Opens and closes one AMQP connection: the broker is up only when this succeeds (its port opens earlier).</summary>
    public static async Task CheckAmqpAsync(string connectionString, CancellationToken cancellationToken)
    {
        var factory = new ConnectionFactory
        {
            Uri = new Uri(connectionString),
            RequestedConnectionTimeout = TimeSpan.FromSeconds(5),
            AutomaticRecoveryEnabled = false,
            ClientProvidedName = "cremad-readiness-check",
        };
        await using var connection = await factory.CreateConnectionAsync(cancellationToken).ConfigureAwait(false);
        await connection.CloseAsync(cancellationToken).ConfigureAwait(false);
    }
}
