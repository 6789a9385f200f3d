using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using MimeKit;

namespace Herald.Cli.Tests.Commands;

/// <summary>
/// The README's "your own campaign" as a user runs it, with real processes and sockets: init, prepare, send to the
/// sink, serve, click a link of a delivered message, unsubscribe with the one-click POST, and see the address
/// excluded from a second campaign in a sibling folder. No --db anywhere: every command finds the same store.
/// </summary>
public sealed partial class WalkthroughTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("herald-walkthrough-").FullName;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }

    [GeneratedRegex("href=\"(http://127\\.0\\.0\\.1:\\d+/c/[A-Za-z0-9_-]+)\"")]
    private static partial Regex ClickLink();

    [Fact]
    public async Task Init_prepare_send_serve_click_unsubscribe_and_the_next_campaign_skips_the_address()
    {
        var servePort = FreePort();
        var captured = Path.Combine(_dir, "captured");
        using var sink = HeraldProcess.StartIn(_dir, null, "sink", "--port", "0", "--out", captured);
        Process? serve = null;
        try
        {
            var sinkPort = await HeraldProcess.ReadSinkPortAsync(sink);
            var spring = await InitAsync("spring", sinkPort, servePort);

            await RunOkAsync("validate", spring);
            await RunOkAsync("prepare", spring);
            var send = await RunOkAsync("send", spring);
            Assert.Contains("sent=3 failed=0 in_doubt=0", send, StringComparison.Ordinal);

            serve = HeraldProcess.StartIn(_dir, null, "serve", "--urls", $"http://127.0.0.1:{servePort}");
            await WaitListeningAsync(serve);
            using var client = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false }) { BaseAddress = new Uri($"http://127.0.0.1:{servePort}") };

            // A delivered message, as the recipient got it.
            var eml = await WaitForFileAsync(captured);
            using var message = await MimeMessage.LoadAsync(eml, Ct);
            var recipient = message.To.Mailboxes.Single().Address;
            var link = ClickLink().Match(message.HtmlBody!).Groups[1].Value;
            Assert.NotEmpty(link);
            using (var click = await client.GetAsync(WebUtility.HtmlDecode(link), Ct))
            {
                Assert.Equal(HttpStatusCode.Redirect, click.StatusCode);
                Assert.StartsWith("https://", click.Headers.Location!.OriginalString, StringComparison.Ordinal);
            }

            // RFC 8058 one-click, exactly as a mailbox provider sends it.
            var unsubscribe = message.Headers["List-Unsubscribe"]!.Split(',')[0].Trim().Trim('<', '>');
            using (var body = new StringContent("List-Unsubscribe=One-Click", Encoding.ASCII, "application/x-www-form-urlencoded"))
            using (var post = await client.PostAsync(unsubscribe, body, Ct))
            {
                Assert.Equal(HttpStatusCode.OK, post.StatusCode);
            }

            await StopAsync(serve);

            // The next campaign, in a sibling folder, same recipients: the unsubscribed address is skipped.
            var autumn = await InitAsync("autumn", sinkPort, servePort);
            var prepare = await RunOkAsync("prepare", autumn, "--json");
            using var manifest = JsonDocument.Parse(prepare[prepare.IndexOf('{', StringComparison.Ordinal)..]);
            Assert.Equal(1, manifest.RootElement.GetProperty("skipped").GetProperty("suppressed").GetInt64());
            Assert.Equal(2, manifest.RootElement.GetProperty("deliverable").GetInt64());
            var list = await RunOkAsync("suppress", "list");
            Assert.Contains(recipient.ToLowerInvariant(), list, StringComparison.Ordinal);
            var report = await RunOkAsync("report", spring, "--json");
            using var json = JsonDocument.Parse(report[report.IndexOf('{', StringComparison.Ordinal)..]);
            Assert.Contains("\"unsubscribes\"", report, StringComparison.OrdinalIgnoreCase);
        }
        finally
        {
            HeraldProcess.KillQuietly(sink);
            if (serve is not null)
            {
                HeraldProcess.KillQuietly(serve);
                serve.Dispose();
            }
        }
    }

    private async Task<string> InitAsync(string name, int sinkPort, int servePort)
    {
        var folder = Path.Combine(_dir, name);
        await RunOkAsync("init", folder, "--recipients", "3");
        var file = Path.Combine(folder, "campaign.yml");
        // The two lines a user edits: where the relay is and where `herald serve` answers.
        var text = (await File.ReadAllTextAsync(file, Ct))
            .Replace("smtp://127.0.0.1:2525", $"smtp://127.0.0.1:{sinkPort}", StringComparison.Ordinal)
            .Replace("http://127.0.0.1:8080", $"http://127.0.0.1:{servePort}", StringComparison.Ordinal);
        Assert.Contains($"smtp://127.0.0.1:{sinkPort}", text, StringComparison.Ordinal);
        await File.WriteAllTextAsync(file, text, Ct);
        return file;
    }

    private async Task<string> RunOkAsync(params string[] args)
    {
        using var process = HeraldProcess.StartIn(_dir, null, args);
        var stdout = process.StandardOutput.ReadToEndAsync(Ct);
        var stderr = process.StandardError.ReadToEndAsync(Ct);
        await process.WaitForExitAsync(Ct).WaitAsync(HeraldProcess.Bound, Ct);
        var output = await stdout;
        Assert.True(process.ExitCode == 0, $"herald {string.Join(' ', args)}: exit {process.ExitCode}\n{output}\n{await stderr}");
        return output;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static async Task WaitListeningAsync(Process serve)
    {
        while (true)
        {
            var line = await serve.StandardOutput.ReadLineAsync(Ct).AsTask().WaitAsync(HeraldProcess.Bound, Ct);
            if (line is null)
            {
                Assert.Fail("serve exited: " + await serve.StandardError.ReadToEndAsync(Ct));
            }

            if (line.StartsWith("listening on ", StringComparison.Ordinal))
            {
                return;
            }
        }
    }

    private static async Task StopAsync(Process serve)
    {
        using (var kill = Process.Start("kill", ["-TERM", serve.Id.ToString(CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync(Ct);
        }

        var rest = serve.StandardOutput.ReadToEndAsync(Ct);
        await serve.WaitForExitAsync(Ct).WaitAsync(HeraldProcess.Bound, Ct);
        Assert.True(serve.ExitCode == 0, await rest + await serve.StandardError.ReadToEndAsync(Ct));
    }

    private static async Task<string> WaitForFileAsync(string folder)
    {
        var deadline = DateTime.UtcNow + HeraldProcess.Bound;
        while (true)
        {
            if (Directory.Exists(folder) && Directory.GetFiles(folder, "*.eml") is [var first, ..])
            {
                return first;
            }

            Assert.True(DateTime.UtcNow < deadline, "the sink captured nothing");
            await Task.Delay(50, Ct);
        }
    }
}
