using System.Diagnostics;
using System.Text;
using Microsoft.Data.Sqlite;

namespace Herald.Cli.Tests.Bounces;

/// <summary>
/// Bounces made by a real Postfix: <c>herald send</c> relays through it to mailboxes that do not exist; Postfix answers
/// 550 5.1.1 at RCPT for one domain (a synchronous bounce) and accepts, then bounces, for the other, sending its DSN to
/// the return path, which routes to <c>herald bounces listen</c>.
/// </summary>
public sealed class PostfixBounceTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("herald-postfix-bounces-").FullName;

    private string Db => Path.Combine(_dir, "herald.db");

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task Postfix_bounces_for_unknown_mailboxes_reach_the_receiver_and_suppress_them()
    {
        using var listen = await ListenProcess.StartAsync("--db", Db, "--quarantine", Path.Combine(_dir, "quarantine"), "--domain", SentCampaign.Domain);
        using var postfix = await PrivatePostfix.StartAsync(SentCampaign.Domain, listen.Port);
        var file = HeraldProcess.WriteCampaign(Path.Combine(_dir, "campaign"), 0, postfix.Port, 2, $"bounces: {{ domain: {SentCampaign.Domain} }}");
        var recipients = new StringBuilder("email,first_name\n");
        for (var i = 0; i < 3; i++)
        {
            recipients.Append($"nobody{i}@{PrivatePostfix.LocalDomain},Nobody{i}\n");
        }

        recipients.Append($"unknown@{PrivatePostfix.SyncDomain},Unknown\nknown@{PrivatePostfix.SyncDomain},Known\n");
        await File.WriteAllTextAsync(Path.Combine(_dir, "campaign", "recipients.csv"), recipients.ToString(), TestContext.Current.CancellationToken);

        var send = await HeraldProcess.RunAsync("send", file, "--db", Db);

        Assert.True(send.Exit == 0, send.Out + send.Error + postfix.Log);
        Assert.Contains("synchronous bounces: 1 hard, 0 soft", send.Out, StringComparison.Ordinal);
        // Postfix delivers locally, finds no such user, and sends a DSN to each return path: wait for three (bounded).
        var clock = Stopwatch.StartNew();
        List<(string Recipient, string Type, string Code, string Source, string Text)> events;
        while ((events = await EventsAsync()).Count(e => e.Source == "2") < 3)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(90), $"DSNs recorded: {events.Count}\n{postfix.Log}\n{string.Join('\n', listen.Lines)}");
            await Task.Delay(200, TestContext.Current.CancellationToken);
        }

        var dsns = events.Where(e => e.Source == "2").OrderBy(e => e.Recipient, StringComparer.Ordinal).ToList();
        Assert.All(dsns, e => Assert.Equal(("1", "5.1.1"), (e.Type, e.Code)));
        Assert.All(dsns, e => Assert.Contains("unknown user", e.Text, StringComparison.OrdinalIgnoreCase));
        var sync = Assert.Single(events, e => e.Source == "1");
        Assert.Equal(("1", "5.1.1"), (sync.Type, sync.Code));

        var list = await HeraldProcess.RunAsync("suppress", "list", "--db", Db);
        for (var i = 0; i < 3; i++)
        {
            Assert.Contains($"nobody{i}@{PrivatePostfix.LocalDomain},bounced,crash-test,", list.Out, StringComparison.Ordinal);
        }

        Assert.Contains($"unknown@{PrivatePostfix.SyncDomain},bounced,crash-test,", list.Out, StringComparison.Ordinal);
        Assert.DoesNotContain($"\nknown@{PrivatePostfix.SyncDomain},", list.Out, StringComparison.Ordinal);
        Assert.Contains("bounced", postfix.Log, StringComparison.Ordinal);
    }

    private async Task<List<(string, string, string, string, string)>> EventsAsync()
    {
        if (!File.Exists(Db))
        {
            return [];
        }

        await using var connection = new SqliteConnection($"Data Source={Db};Pooling=false");
        await connection.OpenAsync(TestContext.Current.CancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT recipient, type, code, source, text FROM bounce_events;";
        var result = new List<(string, string, string, string, string)>();
        try
        {
            await using var reader = await command.ExecuteReaderAsync(TestContext.Current.CancellationToken);
            while (await reader.ReadAsync(TestContext.Current.CancellationToken))
            {
                result.Add((reader.GetString(0), reader.GetInt32(1).ToString(System.Globalization.CultureInfo.InvariantCulture), reader.GetString(2),
                    reader.GetInt32(3).ToString(System.Globalization.CultureInfo.InvariantCulture), reader.IsDBNull(4) ? "" : reader.GetString(4)));
            }
        }
        catch (SqliteException)
        {
            // The tables are created by the first command that opens the store.
        }

        return result;
    }
}
