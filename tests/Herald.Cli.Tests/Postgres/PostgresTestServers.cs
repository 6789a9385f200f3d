using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Herald.Postgres;
using Npgsql;

namespace Herald.Cli.Tests.Postgres;

/// <summary>
/// The PostgreSQL server CI provides (<c>HERALD_TEST_PG</c>, password in <c>PGPASSWORD</c>; <c>.ci/postgres.sh</c>
/// starts one): each test gets its own database, dropped at the end. Without the variable the tests fail; they never skip.
/// </summary>
internal sealed class SharedTestDatabase : IAsyncDisposable
{
    private readonly PostgresAddress _server;

    private SharedTestDatabase(PostgresAddress server, string name)
    {
        _server = server;
        Name = name;
    }

    public string Name { get; }

    /// <summary>The <c>--db</c> value (no password in it: herald reads <c>PGPASSWORD</c>).</summary>
    public string Address => (_server with { Database = Name }).ToString();

    /// <summary>What a herald process needs in its environment to reach the database.</summary>
    public IReadOnlyDictionary<string, string> Environment => new Dictionary<string, string> { ["PGPASSWORD"] = _server.ResolvePassword() ?? "" };

    public static async Task<SharedTestDatabase> CreateAsync(CancellationToken cancellationToken)
    {
        var value = System.Environment.GetEnvironmentVariable("HERALD_TEST_PG");
        if (string.IsNullOrWhiteSpace(value))
        {
            throw new InvalidOperationException("HERALD_TEST_PG is not set: start a private server with `source .ci/postgres.sh` (it exports HERALD_TEST_PG and PGPASSWORD).");
        }

        var server = PostgresAddress.Parse(value);
        var name = $"herald_test_{Guid.NewGuid():N}"[..28];
        await ExecuteAsync(server, server.ResolvePassword(), $"CREATE DATABASE {name}", cancellationToken);
        return new SharedTestDatabase(server, name);
    }

    public NpgsqlConnection Open() => new((_server with { Database = Name }).ToConnectionString(_server.ResolvePassword()));

    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        await ExecuteAsync(_server, _server.ResolvePassword(), $"DROP DATABASE IF EXISTS {Name} WITH (FORCE)", CancellationToken.None);
    }

    internal static async Task ExecuteAsync(PostgresAddress server, string? password, string sql, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(server.ToConnectionString(password));
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}

/// <summary>
/// A PostgreSQL cluster of this test's own (Debian's binaries, <c>initdb</c> in a temporary folder as the
/// <c>postgres</c> user, a free loopback port), so that the test may stop and start it: never the shared one.
/// </summary>
internal sealed class PrivateCluster : IAsyncDisposable
{
    private readonly string _folder;
    private readonly string _bin;

    private PrivateCluster(string folder, string bin, int port, string password)
    {
        _folder = folder;
        _bin = bin;
        Port = port;
        Password = password;
    }

    public int Port { get; }

    public string Password { get; }

    public string Address => string.Create(CultureInfo.InvariantCulture, $"postgresql://herald@127.0.0.1:{Port}/herald");

    public IReadOnlyDictionary<string, string> Environment => new Dictionary<string, string> { ["PGPASSWORD"] = Password };

    private static bool IsRoot => System.Environment.UserName == "root";

    public static async Task<PrivateCluster> StartAsync(CancellationToken cancellationToken)
    {
        var bin = System.Environment.GetEnvironmentVariable("HERALD_PG_BIN") is { Length: > 0 } given
            ? given
            : Directory.Exists("/usr/lib/postgresql")
                ? Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin"))
                    .Where(d => File.Exists(Path.Combine(d, "initdb"))).OrderBy(d => d, StringComparer.Ordinal).LastOrDefault()
                : null;
        if (bin is null)
        {
            throw new InvalidOperationException("PostgreSQL's binaries are not installed (apt-get install postgresql; .ci/postgres.sh does it).");
        }

        var folder = Directory.CreateTempSubdirectory("herald-private-pg-").FullName;
        // The postgres user must reach its data folder inside it.
        await RunAsync("chmod", ["755", folder], asPostgres: false, cancellationToken);
        var password = Convert.ToHexString(RandomNumberGenerator.GetBytes(12));
        var passwordFile = Path.Combine(folder, "pwfile");
        await File.WriteAllTextAsync(passwordFile, password + "\n", cancellationToken);
        if (IsRoot)
        {
            await RunAsync("chown", ["-R", "postgres:", folder], asPostgres: false, cancellationToken);
        }

        await RunAsync(Path.Combine(bin, "initdb"), ["-D", Path.Combine(folder, "data"), "-U", "herald", $"--pwfile={passwordFile}", "--auth=scram-sha-256", "-E", "UTF8", "--no-sync"], IsRoot, cancellationToken);
        File.Delete(passwordFile);
        var cluster = new PrivateCluster(folder, bin, FreePort(), password);
        await cluster.StartServerAsync(cancellationToken);
        await SharedTestDatabase.ExecuteAsync(cluster.Server("postgres"), password, "CREATE DATABASE herald", cancellationToken);
        return cluster;
    }

    /// <summary><c>pg_ctl start</c>, waiting until it accepts connections.</summary>
    public Task StartServerAsync(CancellationToken cancellationToken) =>
        RunAsync(Path.Combine(_bin, "pg_ctl"), ["-D", Path.Combine(_folder, "data"), "-l", Path.Combine(_folder, "server.log"), "-w", "-t", "60",
            "-o", string.Create(CultureInfo.InvariantCulture, $"-c listen_addresses=127.0.0.1 -p {Port} -k {_folder}"), "start"], IsRoot, cancellationToken);

    /// <summary><c>pg_ctl stop -m fast</c>: every session is cut, as in a restart or a failover.</summary>
    public Task StopServerAsync(CancellationToken cancellationToken) =>
        RunAsync(Path.Combine(_bin, "pg_ctl"), ["-D", Path.Combine(_folder, "data"), "-m", "fast", "-w", "-t", "60", "stop"], IsRoot, cancellationToken);

    public NpgsqlConnection Open() => new(Server("herald").ToConnectionString(Password));

    /// <summary>The address of a database on this cluster.</summary>
    internal PostgresAddress Server(string database) =>
        PostgresAddress.Parse(string.Create(CultureInfo.InvariantCulture, $"postgresql://herald@127.0.0.1:{Port}/{database}"));

    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        try
        {
            await StopServerAsync(CancellationToken.None);
        }
        catch (InvalidOperationException)
        {
            // Already stopped.
        }

        Directory.Delete(_folder, recursive: true);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static async Task RunAsync(string program, IReadOnlyList<string> args, bool asPostgres, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(asPostgres ? "runuser" : program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (asPostgres)
        {
            foreach (var arg in new[] { "-u", "postgres", "--", program })
            {
                start.ArgumentList.Add(arg);
            }
        }

        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var error = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken).WaitAsync(TimeSpan.FromSeconds(120), cancellationToken);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} {string.Join(' ', args)} exited {process.ExitCode}: {await output}{await error}");
        }
    }
}
