using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Herald.Cli.Tests;

/// <summary>Runs the real <c>herald</c> tool as a child process.</summary>
internal static class HeraldProcess
{
    public const string TestSecret = "test-secret-0123456789abcdef";

    public static readonly TimeSpan Bound = TimeSpan.FromSeconds(120);

    public static Process Start(IReadOnlyDictionary<string, string>? environment, params string[] args) => StartIn(null, environment, args);

    /// <summary>Starts the tool in <paramref name="workingDirectory"/> (null: this process's).</summary>
    public static Process StartIn(string? workingDirectory, IReadOnlyDictionary<string, string>? environment, params string[] args)
    {
        var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet";
        // Through env(1) with SIGINT and SIGQUIT back to their defaults (env execs, so the process id is herald's): a
        // test run started in the background by a shell without job control inherits them ignored, and the runtime
        // then never delivers the Ctrl-C a test sends (a send ran to its end and exited 0).
        var env = File.Exists("/usr/bin/env") ? "/usr/bin/env" : null;
        var start = new ProcessStartInfo(env ?? dotnet)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? string.Empty,
        };
        if (env is not null)
        {
            start.ArgumentList.Add("--default-signal=INT,QUIT");
            start.ArgumentList.Add(dotnet);
        }

        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "herald.dll"));
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["HERALD_SECRET"] = TestSecret;
        start.Environment.Remove("HERALD_DB");
        // The store rule ends in the user's data folder: give every test its own, so no test reads another's store
        // (or the developer's).
        start.Environment["XDG_DATA_HOME"] = DataHome();
        // serve's event journal for a PostgreSQL store lives in the state folder: the test's own too.
        start.Environment["XDG_STATE_HOME"] = Path.Combine(DataHome(), "state");
        start.Environment.Remove("HERALD_DASHBOARD_TOKEN");
        if (environment is not null)
        {
            foreach (var (key, value) in environment)
            {
                start.Environment[key] = value;
            }
        }

        return Process.Start(start)!;
    }

    /// <summary>The XDG data folder of the running test: the default store is <c>DataHome()/herald/herald.db</c>.</summary>
    public static string DataHome()
    {
        var test = TestContext.Current.Test?.UniqueID ?? "no-test";
        var folder = Path.Combine(TestEnvironment.RunFolder, "xdg", test[..Math.Min(test.Length, 32)]);
        Directory.CreateDirectory(folder);
        return folder;
    }

    /// <summary>The store a command of the running test uses when no herald.db is found above its folder and no --db is given.</summary>
    public static string DefaultStore => Path.Combine(DataHome(), "herald", "herald.db");

    /// <summary>Runs to completion within <see cref="Bound"/> and returns exit code, stdout and stderr.</summary>
    public static Task<(int Exit, string Out, string Error)> RunAsync(params string[] args) => RunAsync(Bound, args);

    /// <summary>Runs to completion (bounded) and returns exit code, stdout and stderr.</summary>
    public static Task<(int Exit, string Out, string Error)> RunAsync(TimeSpan bound, params string[] args) => RunInAsync(null, null, bound, args);

    /// <summary>Runs to completion (bounded) in a folder, with extra environment variables.</summary>
    public static async Task<(int Exit, string Out, string Error)> RunInAsync(string? workingDirectory, IReadOnlyDictionary<string, string>? environment, TimeSpan bound, params string[] args)
    {
        using var process = StartIn(workingDirectory, environment, args);
        var stdout = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        try
        {
            await process.WaitForExitAsync(TestContext.Current.CancellationToken).WaitAsync(bound, TestContext.Current.CancellationToken);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }

        return (process.ExitCode, await stdout, await stderr);
    }

    /// <summary>Reads the <c>listening on 127.0.0.1:PORT</c> line a sink prints first.</summary>
    public static async Task<int> ReadSinkPortAsync(Process sink)
    {
        var line = await sink.StandardOutput.ReadLineAsync(TestContext.Current.CancellationToken).AsTask()
            .WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
        const string prefix = "listening on 127.0.0.1:";
        Assert.NotNull(line);
        Assert.StartsWith(prefix, line, StringComparison.Ordinal);
        return int.Parse(line[prefix.Length..], CultureInfo.InvariantCulture);
    }

    /// <summary>Complete lines of a file another process is appending to (a sink's log); 0 when it does not exist yet.</summary>
    public static int CountLines(string path)
    {
        if (!File.Exists(path))
        {
            return 0;
        }

        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream);
        var count = 0;
        while (reader.ReadLine() is { Length: > 0 })
        {
            count++;
        }

        return count;
    }

    /// <summary>Holds a SQLite database with <c>BEGIN EXCLUSIVE</c> until the connection is disposed: every other writer waits, then fails busy.</summary>
    public static async Task<Microsoft.Data.Sqlite.SqliteConnection> LockSqliteAsync(string database)
    {
        var connection = new Microsoft.Data.Sqlite.SqliteConnection(new Microsoft.Data.Sqlite.SqliteConnectionStringBuilder { DataSource = database, Pooling = false }.ToString());
        await connection.OpenAsync(TestContext.Current.CancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "BEGIN EXCLUSIVE;";
        await command.ExecuteNonQueryAsync(TestContext.Current.CancellationToken);
        return connection;
    }

    public static void KillQuietly(Process process)
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }

    /// <summary>A small but complete campaign with <paramref name="recipients"/> recipients.</summary>
    public static string WriteCampaign(string folder, int recipients, int port, int connections, string extra = "")
    {
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "campaign.yml"), $"""
            id: crash-test
            from: "Example Shop <news@shop.example.com>"
            subject: "{"{{"} first_name {"}}"}, your spring picks"
            html: body.html
            recipients: recipients.csv
            tracking: {"{"} base_url: "https://t.shop.example.com", clicks: true, opens: true {"}"}
            postal_address: "Example Shop Inc., 1 Market St, Springfield"
            relays:
              - url: smtp://127.0.0.1:{port}
                connections: {connections}
            {extra}
            """);
        File.WriteAllText(Path.Combine(folder, "body.html"), """
            <html><body><h1>Hello {{ first_name }}</h1>
            <p><a href="https://shop.example.com/spring?c={{ recipient_id }}">Spring sale</a></p>
            <p><a href="{{ unsubscribe_url }}">Unsubscribe</a> · {{ postal_address }}</p>
            </body></html>
            """);
        var csv = new StringBuilder("email,first_name\n");
        for (var i = 0; i < recipients; i++)
        {
            csv.Append(CultureInfo.InvariantCulture, $"user{i}@example.com,User{i}\n");
        }

        File.WriteAllText(Path.Combine(folder, "recipients.csv"), csv.ToString());
        return Path.Combine(folder, "campaign.yml");
    }
}
