using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Herald.Cli.Tests.Commands;

/// <summary>Clear reasons and bounded behaviour as the user meets them: real processes, real sockets, real signals.</summary>
public sealed class OperatorSafetyTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("herald-safety-").FullName;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }

    [Theory]
    [InlineData("serve")]
    [InlineData("sink")]
    public async Task A_port_already_in_use_is_one_clear_line_without_a_stack_trace(string command)
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port.ToString(CultureInfo.InvariantCulture);
        if (command == "serve")
        {
            // serve reads a store: give it one.
            var campaign = HeraldProcess.WriteCampaign(Path.Combine(_dir, "c"), 2, 2525, 1);
            Assert.Equal(0, (await HeraldProcess.RunAsync("prepare", campaign, "--db", Path.Combine(_dir, "c", "herald.db"))).Exit);
        }

        var run = command == "serve"
            ? await HeraldProcess.RunAsync("serve", "--db", Path.Combine(_dir, "c", "herald.db"), "--urls", $"http://127.0.0.1:{port}")
            : await HeraldProcess.RunAsync("sink", "--port", port);

        Assert.Equal(1, run.Exit);
        var lines = run.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var line = Assert.Single(lines);
        Assert.StartsWith($"error: cannot listen on ", line, StringComparison.Ordinal);
        Assert.Contains(port, line, StringComparison.Ordinal);
        Assert.Contains("in use", line, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("   at ", run.Out + run.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", run.Out + run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Validate_reports_every_CSV_problem_at_its_physical_line()
    {
        var campaign = HeraldProcess.WriteCampaign(Path.Combine(_dir, "c"), 1, 2525, 1);
        // Line 1 header; 2-3 one record with a quoted line break; 4 ragged; 5 fine; 6 ragged.
        File.WriteAllText(Path.Combine(_dir, "c", "recipients.csv"),
            "email,first_name\na@example.com,\"Ann\nSmith\"\nb@example.com,Bob,extra\nc@example.com,Cy\nd@example.com\n");

        var run = await HeraldProcess.RunAsync("validate", campaign);

        Assert.Equal(1, run.Exit);
        Assert.Contains("recipients.csv:4: ragged row: 3 fields, the header has 2", run.Error, StringComparison.Ordinal);
        Assert.Contains("recipients.csv:6: ragged row: 1 fields, the header has 2", run.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", run.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("email;first_name\na@example.com;Ann\n", "seems to use ';'")]
    [InlineData("Email,first_name\na@example.com,Ann\n", "rename 'Email' to 'email'")]
    public async Task A_spreadsheet_export_gets_a_hint(string csv, string hint)
    {
        var campaign = HeraldProcess.WriteCampaign(Path.Combine(_dir, "c"), 1, 2525, 1);
        File.WriteAllText(Path.Combine(_dir, "c", "recipients.csv"), csv);

        var run = await HeraldProcess.RunAsync("validate", campaign);

        Assert.Equal(1, run.Exit);
        Assert.Contains(hint, run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_template_past_its_limits_is_a_clear_error_naming_the_template_and_the_recipient()
    {
        var campaign = HeraldProcess.WriteCampaign(Path.Combine(_dir, "c"), 2, 2525, 1);
        var body = Path.Combine(_dir, "c", "body.html");
        File.WriteAllText(body, "<p>{% for i in (1..100000000) %}{{ first_name }}{% endfor %}</p>");

        var preview = await HeraldProcess.RunAsync("preview", campaign, "--out", Path.Combine(_dir, "out"));
        Assert.True(preview.Exit == 0, preview.Error);
        Assert.Contains($"user0@example.com ({Herald.Recipients.RecipientIds.For(null, "user0@example.com")}): rejected: limit: ", preview.Out, StringComparison.Ordinal);
        Assert.Contains("body.html", preview.Out, StringComparison.Ordinal);

        File.WriteAllText(body, "<p>\n" + string.Concat(Enumerable.Repeat("{% if true %}", 3000)) + "x" + string.Concat(Enumerable.Repeat("{% endif %}", 3000)) + "</p>");
        var validate = await HeraldProcess.RunAsync("validate", campaign);
        Assert.Equal(1, validate.Exit);
        // Line 2, at the 51st {% if %}: 50 tags of 13 characters before it.
        Assert.Contains("body.html:2:651: blocks ({% if %}, {% for %}, ...) are nested more than 50 deep", validate.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("overflow", validate.Out + validate.Error, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Validate_all_renders_every_recipient_and_reports_problems_by_row_while_plain_validate_says_what_it_skipped()
    {
        var campaign = HeraldProcess.WriteCampaign(Path.Combine(_dir, "c"), 1, 2525, 1);
        File.WriteAllText(Path.Combine(_dir, "c", "campaign.yml"), File.ReadAllText(Path.Combine(_dir, "c", "campaign.yml")) + "headers: { X-Name: \"{{ first_name }}\" }\n");
        // Line 3 carries a line break into a header (quoted field); line 5 renders past a 64 KB message limit.
        File.WriteAllText(Path.Combine(_dir, "c", "recipients.csv"),
            "email,first_name\na@example.com,Ann\nb@example.com,\"Bob\nBcc: x@evil.example\"\nc@example.com," + new string('x', 70_000) + "\n");
        File.AppendAllText(Path.Combine(_dir, "c", "campaign.yml"), "limits: { message_size: 64KB }\n");

        var plain = await HeraldProcess.RunAsync("validate", campaign);
        Assert.True(plain.Exit == 0, plain.Error);
        Assert.Contains("not checked: each recipient's rendering", plain.Out, StringComparison.Ordinal);

        var all = await HeraldProcess.RunAsync("validate", campaign, "--all");
        Assert.Equal(1, all.Exit);
        Assert.Contains("recipients.csv:3: b@example.com: rejected: header-injection: Subject", all.Out, StringComparison.Ordinal);
        Assert.Contains("recipients.csv:5: c@example.com: rejected: limit: ", all.Out, StringComparison.Ordinal);
        Assert.Contains("2 recipient(s) would not be sent", all.Out, StringComparison.Ordinal);
        Assert.DoesNotContain("a@example.com", all.Out, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_dir, "c", "herald.db")));
        Assert.False(File.Exists(HeraldProcess.DefaultStore));
    }

    /// <summary>Each command whose work can be long, started on a large input and sent a real SIGTERM while busy.</summary>
    [Theory]
    [InlineData("prepare")]
    [InlineData("validate")]
    [InlineData("preview")]
    [InlineData("suppress-import")]
    [InlineData("status")]
    public async Task A_busy_command_stops_on_SIGTERM_well_before_the_30_s_grace(string command)
    {
        var campaign = HeraldProcess.WriteCampaign(Path.Combine(_dir, "c"), 1, 2525, 1);
        var csv = Path.Combine(_dir, "c", "recipients.csv");
        await using (var writer = new StreamWriter(csv, false, new UTF8Encoding(false), 1 << 20))
        {
            await writer.WriteAsync("email,first_name\n");
            for (var i = 0; i < 1_500_000; i++)
            {
                await writer.WriteAsync(string.Create(CultureInfo.InvariantCulture, $"user{i}@example.com,User{i}\n"));
            }
        }

        var db = Path.Combine(_dir, "herald.db");
        string[] args = command switch
        {
            "suppress-import" => ["suppress", "import", csv, "--db", db],
            "preview" => ["preview", campaign, "--out", Path.Combine(_dir, "out"), "--db", db],
            "status" => ["report", campaign, "--db", db],
            _ => [command, campaign, "--db", db],
        };
        if (command == "status")
        {
            // report reads a store; a small prepared one is enough to show it honours the signal while starting up.
            File.WriteAllText(csv, "email,first_name\na@example.com,Ann\n");
            Assert.Equal(0, (await HeraldProcess.RunAsync("prepare", campaign, "--db", db)).Exit);
        }

        using var process = HeraldProcess.Start(null, args);
        try
        {
            var stdout = new StringBuilder();
            var first = await process.StandardOutput.ReadLineAsync(Ct).AsTask().WaitAsync(HeraldProcess.Bound, Ct);
            stdout.AppendLine(first);
            if (process.HasExited)
            {
                Assert.True(command == "status", $"{command} ended before the signal: {first}");
                return;
            }

            using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString(CultureInfo.InvariantCulture)]))
            {
                await kill.WaitForExitAsync(Ct);
            }

            var signalled = Stopwatch.StartNew();
            var rest = process.StandardOutput.ReadToEndAsync(Ct);
            var errors = process.StandardError.ReadToEndAsync(Ct);
            // The grace System.CommandLine gives a command that ignores the signal is 30 s: ending well before that
            // shows the command itself stopped. (On a quiet machine this is far under 2 s; shared CI machines vary.)
            await process.WaitForExitAsync(Ct).WaitAsync(TimeSpan.FromSeconds(20), Ct);
            var output = stdout + await rest + await errors;
            Assert.True(process.ExitCode is 130 or 2 or 0, $"{command}: exit {process.ExitCode} after {signalled.Elapsed}: {output}");
            Assert.DoesNotContain("   at ", output, StringComparison.Ordinal);
        }
        finally
        {
            HeraldProcess.KillQuietly(process);
        }
    }
}
