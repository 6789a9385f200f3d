using MimeKit;

namespace Herald.Cli.Tests.Commands;

/// <summary><c>herald send --to</c>: a real rendering to seed addresses through a real SMTP server, nothing recorded.</summary>
public sealed class TestSendCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("herald-test-send-").FullName;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task A_test_send_delivers_the_chosen_recipients_rendering_to_the_seeds_marked_as_a_test_and_records_nothing()
    {
        var captured = Path.Combine(_dir, "captured");
        using var sink = HeraldProcess.Start(null, "sink", "--port", "0", "--out", captured);
        try
        {
            var port = await HeraldProcess.ReadSinkPortAsync(sink);
            var campaign = HeraldProcess.WriteCampaign(Path.Combine(_dir, "c"), 5, port, 1);
            var recipientId = Herald.Recipients.RecipientIds.For(null, "user3@example.com");

            var run = await HeraldProcess.RunAsync("send", campaign, "--to", "seed1@inbox.example, Seed2@Inbox.example", "--as", recipientId);
            Assert.True(run.Exit == 0, run.Out + run.Error);
            Assert.Contains("seed1@inbox.example: accepted by relay 127.0.0.1:", run.Out, StringComparison.Ordinal);
            // The relay's reply once, code included (it read "250 250 2.0.0 Ok" before).
            Assert.DoesNotContain("(250 250", run.Out, StringComparison.Ordinal);
            Assert.Contains("(250 ", run.Out, StringComparison.Ordinal);
            Assert.Contains("nothing is recorded", run.Out, StringComparison.Ordinal);

            var files = await WaitForFilesAsync(captured, 2);
            var messages = files.Select(f => MimeMessage.Load(f, Ct)).ToList();
            try
            {
                Assert.Equal(["Seed2@inbox.example", "seed1@inbox.example"], messages.Select(m => m.To.Mailboxes.Single().Address).Order(StringComparer.Ordinal));
                foreach (var message in messages)
                {
                    Assert.Equal("1", message.Headers["X-Herald-Test"]);
                    // The real rendering of recipient 3's data.
                    Assert.Equal("[TEST] User3, your spring picks", message.Subject);
                    Assert.Contains("Hello User3", message.HtmlBody, StringComparison.Ordinal);
                }
            }
            finally
            {
                messages.ForEach(m => m.Dispose());
            }

            // No store was created anywhere: not beside the campaign, not in the user's data folder.
            Assert.False(File.Exists(Path.Combine(_dir, "c", "herald.db")));
            Assert.False(File.Exists(HeraldProcess.DefaultStore));
        }
        finally
        {
            HeraldProcess.KillQuietly(sink);
        }
    }

    [Fact]
    public async Task A_test_send_leaves_a_prepared_plan_untouched_and_an_unknown_recipient_is_a_clear_error()
    {
        var captured = Path.Combine(_dir, "captured");
        using var sink = HeraldProcess.Start(null, "sink", "--port", "0", "--out", captured);
        try
        {
            var port = await HeraldProcess.ReadSinkPortAsync(sink);
            var campaign = HeraldProcess.WriteCampaign(Path.Combine(_dir, "c"), 3, port, 1);
            var db = Path.Combine(_dir, "herald.db");
            var prepare = await HeraldProcess.RunAsync("prepare", campaign, "--db", db);
            Assert.True(prepare.Exit == 0, prepare.Error);

            var run = await HeraldProcess.RunAsync("send", campaign, "--db", db, "--to", "seed@inbox.example");
            Assert.True(run.Exit == 0, run.Out + run.Error);
            Assert.Contains("Test send from the plan in", run.Out, StringComparison.Ordinal);
            Assert.Single(await WaitForFilesAsync(captured, 1));

            var status = await HeraldProcess.RunAsync("status", campaign, "--db", db, "--json");
            Assert.True(status.Exit == 0, status.Error);
            using var json = System.Text.Json.JsonDocument.Parse(status.Out);
            Assert.Equal(3, json.RootElement.GetProperty("pending").GetInt64());
            Assert.Equal(0, json.RootElement.GetProperty("sent").GetInt64());

            var unknown = await HeraldProcess.RunAsync("send", campaign, "--db", db, "--to", "seed@inbox.example", "--as", "nobody");
            Assert.Equal(1, unknown.Exit);
            Assert.Contains("--as nobody: no deliverable recipient", unknown.Error, StringComparison.Ordinal);
            var bad = await HeraldProcess.RunAsync("send", campaign, "--db", db, "--to", "not-an-address");
            Assert.Equal(1, bad.Exit);
            Assert.Contains("--to: 'not-an-address' is not an email address", bad.Error, StringComparison.Ordinal);
        }
        finally
        {
            HeraldProcess.KillQuietly(sink);
        }
    }

    /// <summary>The sink writes each message after it answers; wait (bounded) until the files are there.</summary>
    private static async Task<string[]> WaitForFilesAsync(string folder, int count)
    {
        var deadline = DateTime.UtcNow + HeraldProcess.Bound;
        while (true)
        {
            var files = Directory.Exists(folder) ? Directory.GetFiles(folder, "*.eml") : [];
            if (files.Length >= count)
            {
                return files;
            }

            Assert.True(DateTime.UtcNow < deadline, $"the sink captured {files.Length} of {count} message(s)");
            await Task.Delay(50, Ct);
        }
    }
}
