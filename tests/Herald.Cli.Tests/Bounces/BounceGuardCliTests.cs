using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Herald.Cli.Tests.Postgres;
using Herald.Core.Tests.Smtp;

namespace Herald.Cli.Tests.Bounces;

/// <summary>
/// The reputation guards where an operator meets them: <c>herald send</c> pauses (exit 4) when the list hard-bounces
/// or draws complaints, <c>status</c> says why, and <c>send</c> again continues.
/// </summary>
public sealed partial class BounceGuardCliTests : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(120);
    private readonly string _dir = Directory.CreateTempSubdirectory("herald-bounce-guard-").FullName;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [GeneratedRegex(@"paused: hard-bounce rate (\d+\.\d+) % over the last 100 attempts \(limit 5 %\)")]
    private static partial Regex HardBouncePause();

    [GeneratedRegex(@"paused: (complaint rate \d+\.\d+ % \(3 of ([\d,]+) delivered; limit 0\.3 %\))")]
    private static partial Regex ComplaintPause();

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public Task A_list_that_hard_bounces_pauses_send_with_exit_4_and_status_says_why() => HardBouncesPauseAsync(null, []);

    [Fact]
    public async Task A_list_that_hard_bounces_pauses_send_on_postgresql_too()
    {
        await using var db = await SharedTestDatabase.CreateAsync(Ct);
        await HardBouncesPauseAsync(db.Environment, ["--db", db.Address]);
    }

    [Fact]
    public async Task Complaints_imported_while_send_runs_pause_it_and_send_again_continues()
    {
        const int recipients = 1000;
        const int holdAt = 601;
        var returnPaths = new ConcurrentDictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        var held = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var slow = false;
        await using var server = ScriptableSmtpServer.Start(new SmtpScript
        {
            OnRcpt = c =>
            {
                returnPaths[c.Recipient!] = c.Sender!;
                return null;
            },
            OnFinalDot = c =>
            {
                if (c.Transaction == holdAt)
                {
                    // 600 were delivered; the complaints are imported while this message waits for its reply.
                    held.TrySetResult();
                    release.Task.Wait(Bound, CancellationToken.None);
                }
                else if (Volatile.Read(ref slow))
                {
                    // A slow relay from then on, so that the campaign is still running when the guard looks (about once a
                    // second); the test asserts what the guard decided, not when.
                    Thread.Sleep(50);
                }

                return null;
            },
        });
        var campaign = HeraldProcess.WriteCampaign(Path.Combine(_dir, "c"), recipients, server.Port, 1, $"bounces: {{ domain: {SentCampaign.Domain} }}");
        using var sending = HeraldProcess.Start(null, "send", campaign);
        var stdout = sending.StandardOutput.ReadToEndAsync(Ct);
        var stderr = sending.StandardError.ReadToEndAsync(Ct);
        try
        {
            await held.Task.WaitAsync(Bound, Ct);
            var reports = Path.Combine(_dir, "reports");
            Directory.CreateDirectory(reports);
            foreach (var i in new[] { 10, 200, 450 })
            {
                await File.WriteAllTextAsync(Path.Combine(reports, $"arf-{i}.eml"), Complaint(returnPaths[$"user{i}@example.com"], MessageId(server, $"user{i}@example.com")), Ct);
            }

            var import = await HeraldProcess.RunAsync(Bound, "bounces", "import", reports, "--quarantine", Path.Combine(_dir, "q"));
            Assert.True(import.Exit == 0, import.Out + import.Error);
            Assert.Contains("3 complaint(s)", import.Out, StringComparison.Ordinal);
            Volatile.Write(ref slow, true);
            release.TrySetResult();
            await sending.WaitForExitAsync(Ct).WaitAsync(Bound, Ct);
        }
        finally
        {
            release.TrySetResult();
            HeraldProcess.KillQuietly(sending);
        }

        var error = await stderr;
        Assert.True(sending.ExitCode == 4, await stdout + error);
        var match = ComplaintPause().Match(error);
        Assert.True(match.Success, error);
        Assert.InRange(int.Parse(match.Groups[2].Value.Replace(",", "", StringComparison.Ordinal), System.Globalization.CultureInfo.InvariantCulture), 600, recipients - 1);
        using (var status = JsonDocument.Parse((await HeraldProcess.RunAsync(Bound, "status", campaign, "--json")).Out))
        {
            var root = status.RootElement;
            Assert.Equal(("paused", match.Groups[1].Value), (root.GetProperty("state").GetString(), root.GetProperty("reason").GetString()));
            Assert.True(root.GetProperty("pending").GetInt32() > 0);
        }

        // The operator looked and goes on: the complaints already in do not pause the campaign again at once.
        Volatile.Write(ref slow, false);
        var resumed = await HeraldProcess.RunAsync(Bound, "send", campaign);

        Assert.True(resumed.Exit == 0, resumed.Out + resumed.Error);
        Assert.Contains("continuing the campaign paused since", resumed.Out, StringComparison.Ordinal);
        Assert.Contains("complaint rate", resumed.Out, StringComparison.Ordinal);
        Assert.All(Enumerable.Range(0, recipients), i => Assert.Equal(1, server.AcceptedFor($"user{i}@example.com")));
    }

    private async Task HardBouncesPauseAsync(IReadOnlyDictionary<string, string>? environment, string[] db)
    {
        const int recipients = 300;
        var refusing = true;
        await using var server = ScriptableSmtpServer.Start(new SmtpScript
        {
            OnRcpt = c => Volatile.Read(ref refusing) && c.Recipient!.EndsWith("0@example.com", StringComparison.Ordinal)
                ? SmtpAction.Reply(550, $"5.1.1 <{c.Recipient}>: Recipient address rejected: User unknown in virtual mailbox table")
                : null,
        });
        var campaign = HeraldProcess.WriteCampaign(Path.Combine(_dir, "c"), recipients, server.Port, 1);

        var paused = await HeraldProcess.RunInAsync(null, environment, Bound, ["send", campaign, .. db]);

        Assert.True(paused.Exit == 4, paused.Out + paused.Error);
        var match = HardBouncePause().Match(paused.Error);
        Assert.True(match.Success, paused.Error);
        Assert.Contains("run 'herald send' again to continue", paused.Error, StringComparison.Ordinal);
        int attempted;
        using (var status = JsonDocument.Parse((await HeraldProcess.RunInAsync(null, environment, Bound, ["status", campaign, "--json", .. db])).Out))
        {
            var root = status.RootElement;
            Assert.Equal("paused", root.GetProperty("state").GetString());
            Assert.Equal(match.Value["paused: ".Length..], root.GetProperty("reason").GetString());
            attempted = root.GetProperty("sent").GetInt32() + root.GetProperty("failed").GetInt32();
            Assert.InRange(attempted, 100, 102);
            Assert.Equal(recipients - attempted, root.GetProperty("pending").GetInt32());
        }

        var text = await HeraldProcess.RunInAsync(null, environment, Bound, ["status", campaign, .. db]);
        Assert.Contains("paused", text.Out, StringComparison.Ordinal);
        Assert.Contains("hard-bounce rate", text.Out, StringComparison.Ordinal);

        // The list is fixed: the next run starts a fresh window and finishes the campaign.
        Volatile.Write(ref refusing, false);
        var resumed = await HeraldProcess.RunInAsync(null, environment, Bound, ["send", campaign, .. db]);

        Assert.True(resumed.Exit == 0, resumed.Out + resumed.Error);
        Assert.Contains("continuing the campaign paused since", resumed.Out, StringComparison.Ordinal);
        using var after = JsonDocument.Parse((await HeraldProcess.RunInAsync(null, environment, Bound, ["status", campaign, "--json", .. db])).Out);
        Assert.Equal("complete", after.RootElement.GetProperty("state").GetString());
        Assert.Equal(recipients, after.RootElement.GetProperty("sent").GetInt32() + after.RootElement.GetProperty("failed").GetInt32());
    }

    /// <summary>The Message-ID of the message the relay received for <paramref name="recipient"/>.</summary>
    private static string MessageId(ScriptableSmtpServer server, string recipient)
    {
        var message = server.Messages.First(m => string.Equals(m.Recipient, recipient, StringComparison.OrdinalIgnoreCase));
        var header = Encoding.UTF8.GetString(message.Data).Split("\r\n").First(l => l.StartsWith("Message-ID:", StringComparison.OrdinalIgnoreCase));
        return header["Message-ID:".Length..].Trim().Trim('<', '>');
    }

    /// <summary>A Yahoo-style ARF complaint (the corpus file) about the message sent with this return path.</summary>
    private static string Complaint(string returnPath, string messageId) =>
        File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Corpus", "yahoo-arf-complaint.eml"))
            .Replace("{{VERP}}", returnPath, StringComparison.Ordinal)
            .Replace("{{MSGID}}", messageId, StringComparison.Ordinal)
            .ReplaceLineEndings("\r\n");
}
