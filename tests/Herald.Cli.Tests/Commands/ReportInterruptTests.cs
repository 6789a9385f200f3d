using System.Diagnostics;
using System.Globalization;
using Microsoft.Data.Sqlite;

namespace Herald.Cli.Tests.Commands;

/// <summary>A store large enough that a report takes a while, made once (by SQL) for the tests that stop one.</summary>
public sealed class LargeStoreFixture : IAsyncLifetime
{
    public string Directory { get; } = System.IO.Directory.CreateTempSubdirectory("herald-report-large-").FullName;

    public string CampaignFile => Path.Combine(Directory, "campaign.yml");

    public string Db => Path.Combine(Directory, "herald.db");

    public async ValueTask InitializeAsync()
    {
        var ct = TestContext.Current.CancellationToken;
        await File.WriteAllTextAsync(CampaignFile, """
            id: big
            from: "Shop <news@shop.example.com>"
            subject: "Hello"
            html: body.html
            recipients: recipients.csv
            tracking: { base_url: "https://t.shop.example.com" }
            postal_address: "Shop Inc., 1 Market St"
            relays:
              - url: smtp://127.0.0.1:2525
            """, ct);
        await File.WriteAllTextAsync(Path.Combine(Directory, "body.html"), "<p><a href=\"https://shop.example.com/a\">a</a></p>", ct);
        await File.WriteAllTextAsync(Path.Combine(Directory, "recipients.csv"), "email\nr1@shop.example.com\n", ct);
        // The stores' own schema first (as herald creates it), then 1.2 million events straight through SQL.
        await using (var ledger = await Herald.Sqlite.SqliteDeliveryStore.OpenAsync(Db, ct))
        await using (var reports = new Herald.Sqlite.SqliteReportStore(Db))
        {
            await reports.MigrateAsync(ct);
        }

        await using var connection = new SqliteConnection($"Data Source={Db};Pooling=False");
        await connection.OpenAsync(ct);
        await using var command = connection.CreateCommand();
        command.CommandText = """
            PRAGMA synchronous=OFF; PRAGMA cache_size=-200000;
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1200000)
            INSERT INTO tracking_events (id, at, kind, campaign, recipient, link, target, method, user_agent, client_net, flags)
            SELECT randomblob(16), 639000000000000000 + i * 10000000, 1 + (i % 3 = 0), 'big', printf('r%06d', i % 300000), i % 3 = 0,
                   CASE WHEN i % 3 = 0 THEN 'https://shop.example.com/a' END, 'GET', NULL, NULL, (i % 5 = 0) * 2 FROM n;
            """;
        command.CommandTimeout = 600;
        await command.ExecuteNonQueryAsync(ct);
    }

    public ValueTask DisposeAsync()
    {
        SqliteConnection.ClearAllPools();
        System.IO.Directory.Delete(Directory, recursive: true);
        return ValueTask.CompletedTask;
    }
}

/// <summary>A report in progress stops on SIGTERM within two seconds (issue 11), and at its own time limit.</summary>
public sealed class ReportInterruptTests(LargeStoreFixture store) : IClassFixture<LargeStoreFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Report_stops_within_two_seconds_of_SIGTERM()
    {
        using var process = HeraldProcess.Start(null, "report", store.CampaignFile, "--json", "--db", store.Db);
        try
        {
            // Once it has the database open it is past parsing and loading: at work on the report.
            await Task.Run(async () =>
            {
                while (!System.IO.Directory.EnumerateFileSystemEntries($"/proc/{process.Id}/fd")
                    .Any(fd => (new FileInfo(fd).LinkTarget ?? string.Empty).EndsWith("herald.db", StringComparison.Ordinal)))
                {
                    await Task.Delay(20, Ct);
                }
            }, Ct).WaitAsync(TimeSpan.FromSeconds(60), Ct);

            var watch = Stopwatch.StartNew();
            using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString(CultureInfo.InvariantCulture)]))
            {
                await kill.WaitForExitAsync(Ct);
            }

            await process.WaitForExitAsync(Ct).WaitAsync(TimeSpan.FromSeconds(60), Ct);
            var elapsed = watch.Elapsed;
            var stdout = await process.StandardOutput.ReadToEndAsync(Ct);

            // 130 (not 0) shows the signal came while the report was still at work.
            Assert.Equal(130, process.ExitCode);
            Assert.True(elapsed < TimeSpan.FromSeconds(2), $"report took {elapsed} to stop after SIGTERM");
            Assert.Equal(string.Empty, stdout);
        }
        finally
        {
            HeraldProcess.KillQuietly(process);
        }
    }

    [Fact]
    public async Task Report_ends_at_its_time_limit_with_a_clear_message()
    {
        var result = await HeraldProcess.RunAsync("report", store.CampaignFile, "--json", "--db", store.Db, "--timeout", "100ms");

        Assert.Equal(2, result.Exit);
        Assert.Contains("stopped after 100ms (--timeout)", result.Error, StringComparison.Ordinal);
        Assert.Equal(string.Empty, result.Out);
    }
}
