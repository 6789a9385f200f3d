using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Herald.Sqlite;
using Herald.Store;
using Herald.Tracking;

namespace Herald.Cli.Tests.Commands;

public sealed class ServeCommandTests : IDisposable
{
    private const string Secret = "serve-command-test-secret";
    private readonly string _dir = Directory.CreateTempSubdirectory("herald-serve-cmd-").FullName;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task Serve_redirects_signed_clicks_and_writes_them_before_exiting_on_SIGTERM()
    {
        var db = Path.Combine(_dir, "herald.db");
        await using (var ledger = await SqliteDeliveryStore.OpenAsync(db, Ct))
        await using (var writer = await ledger.BeginPlanAsync("spring", "f1", Ct))
        {
            await writer.AddAsync([new PlanEntry("r1", "r1@shop.example.com", "{}"u8.ToArray(), null, "<r1@t>")], Ct);
            await writer.CommitAsync(Ct);
        }

        var signer = new TokenSigner(SHA256.HashData(Encoding.UTF8.GetBytes(Secret)));
        var token = signer.Create(new TrackingToken(TokenKind.Click, "spring", "r1", 1, "https://shop.example.com/x"));
        using var process = HeraldProcess.Start(
            new Dictionary<string, string> { ["HERALD_SECRET"] = Secret, ["HERALD_DASHBOARD_TOKEN"] = "dash-secret-never-printed" },
            "serve", "--db", db, "--urls", "http://127.0.0.1:0");
        try
        {
            var storeLine = await process.StandardOutput.ReadLineAsync(Ct).AsTask().WaitAsync(HeraldProcess.Bound, Ct);
            Assert.Equal($"store: {db} (from --db)", storeLine);
            var first = await process.StandardOutput.ReadLineAsync(Ct).AsTask().WaitAsync(HeraldProcess.Bound, Ct);
            Assert.NotNull(first);
            Assert.StartsWith("listening on http://127.0.0.1:", first, StringComparison.Ordinal);
            using var client = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false }) { BaseAddress = new Uri(first["listening on ".Length..]) };

            for (var i = 0; i < 3; i++)
            {
                using var response = await client.GetAsync("/c/" + token, Ct);
                Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
                Assert.Equal("https://shop.example.com/x", response.Headers.Location!.OriginalString);
            }

            using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString(CultureInfo.InvariantCulture)]))
            {
                await kill.WaitForExitAsync(Ct);
            }

            await process.WaitForExitAsync(Ct).WaitAsync(HeraldProcess.Bound, Ct);
            var output = first + await process.StandardOutput.ReadToEndAsync(Ct) + await process.StandardError.ReadToEndAsync(Ct);
            Assert.Equal(0, process.ExitCode);
            Assert.Contains("dashboard: enabled", output, StringComparison.Ordinal);
            Assert.DoesNotContain("dash-secret-never-printed", output, StringComparison.Ordinal);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }

        await using var tracking = new SqliteTrackingStore(db);
        Assert.Equal(3, (await tracking.GetEventCountsAsync("spring", Ct)).Clicks);
    }

    [Fact]
    public async Task Serve_prints_its_key_ids_verifies_previous_keys_and_counts_links_of_an_unknown_key_once_logged()
    {
        var db = await PlanAsync();
        const string current = "current-secret-0123456789";
        const string previous = "previous-secret-0123456789";
        const string stranger = "stranger-secret-0123456789";
        var oldKeyFile = Path.Combine(_dir, "old.key");
        await File.WriteAllBytesAsync(oldKeyFile, Enumerable.Range(1, 32).Select(i => (byte)i).ToArray(), Ct);
        var currentSigner = SignerFor(current);
        var previousSigner = SignerFor(previous);
        var fileSigner = new TokenSigner(await File.ReadAllBytesAsync(oldKeyFile, Ct));
        var strangerSigner = SignerFor(stranger);

        using var process = HeraldProcess.Start(
            new Dictionary<string, string> { ["HERALD_SECRET"] = current, ["HERALD_SECRET_PREVIOUS"] = $"{previous}, file:{oldKeyFile}" },
            "serve", "--db", db, "--urls", "http://127.0.0.1:0");
        var output = new System.Text.StringBuilder();
        try
        {
            using var client = await ConnectAsync(process, output);
            foreach (var signer in new[] { currentSigner, previousSigner, fileSigner })
            {
                using var ok = await client.GetAsync("/c/" + Click(signer), Ct);
                Assert.Equal(HttpStatusCode.Redirect, ok.StatusCode);
            }

            for (var i = 0; i < 3; i++)
            {
                using var refused = await client.GetAsync("/c/" + Click(strangerSigner), Ct);
                Assert.Equal(HttpStatusCode.NotFound, refused.StatusCode);
            }

            var metrics = await client.GetStringAsync("/metrics", Ct);
            Assert.Contains($"herald_tracking_unknown_key_total{{key_id=\"{strangerSigner.SigningKey.IdText}\"}} 3", metrics, StringComparison.Ordinal);
            await StopAsync(process, output);
        }
        finally
        {
            HeraldProcess.KillQuietly(process);
        }

        var text = output.ToString();
        Assert.Equal(0, process.ExitCode);
        Assert.Contains(
            $"tracking key {currentSigner.SigningKey.IdText} (from HERALD_SECRET); also verifying 2 previous key(s): " +
            $"{previousSigner.SigningKey.IdText} (from HERALD_SECRET_PREVIOUS item 1), {fileSigner.SigningKey.IdText} (from {oldKeyFile})",
            text, StringComparison.Ordinal);
        Assert.Single(text.Split('\n'), line => line.Contains($"unknown key id {strangerSigner.SigningKey.IdText}", StringComparison.Ordinal));
        Assert.DoesNotContain(current, text, StringComparison.Ordinal);
        Assert.DoesNotContain(previous, text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_answers_404_to_every_non_canonical_spelling_of_a_valid_token()
    {
        var db = await PlanAsync();
        var signer = SignerFor(Secret);
        using var process = HeraldProcess.Start(new Dictionary<string, string> { ["HERALD_SECRET"] = Secret }, "serve", "--db", db, "--urls", "http://127.0.0.1:0");
        var output = new System.Text.StringBuilder();
        try
        {
            using var client = await ConnectAsync(process, output);
            string token;
            var n = 0;
            do
            {
                token = signer.Create(new TrackingToken(TokenKind.Click, "spring", "r1", 1, "https://shop.example.com/" + new string('x', n++)));
            }
            while ((token.Length % 4 != 2 || !token.Contains('-', StringComparison.Ordinal) || !token.Contains('_', StringComparison.Ordinal)) && n < 10_000);

            Assert.True(n < 10_000, "no token of the wanted shape");
            using (var ok = await client.GetAsync("/c/" + token, Ct))
            {
                Assert.Equal(HttpStatusCode.Redirect, ok.StatusCode);
            }

            foreach (var variant in new[] { token.Replace('-', '+'), token.Replace('_', '/'), token + "==", "%20" + token, token[..8] + "%20" + token[8..], token[..^1] + (char)(token[^1] + 1) })
            {
                using var response = await client.GetAsync("/c/" + variant.Replace("+", "%2B", StringComparison.Ordinal).Replace("/", "%2F", StringComparison.Ordinal), Ct);
                Assert.True(response.StatusCode == HttpStatusCode.NotFound, $"{variant}: {response.StatusCode}");
            }

            await StopAsync(process, output);
        }
        finally
        {
            HeraldProcess.KillQuietly(process);
        }
    }

    [Fact]
    public async Task Serve_without_any_key_refuses_to_start_and_creates_no_key()
    {
        var db = await PlanAsync();
        var keyFile = Path.Combine(_dir, "no-such", "secret.key");
        using var process = HeraldProcess.Start(
            new Dictionary<string, string> { ["HERALD_SECRET"] = "", ["HERALD_SECRET_FILE"] = keyFile },
            "serve", "--db", db, "--urls", "http://127.0.0.1:0");
        try
        {
            var stdout = process.StandardOutput.ReadToEndAsync(Ct);
            var stderr = await process.StandardError.ReadToEndAsync(Ct).WaitAsync(HeraldProcess.Bound, Ct);
            await process.WaitForExitAsync(Ct).WaitAsync(HeraldProcess.Bound, Ct);
            Assert.Equal(1, process.ExitCode);
            Assert.Contains("no tracking key", stderr, StringComparison.Ordinal);
            Assert.DoesNotContain("listening", await stdout, StringComparison.Ordinal);
            Assert.False(File.Exists(keyFile));
        }
        finally
        {
            HeraldProcess.KillQuietly(process);
        }
    }

    private static TokenSigner SignerFor(string secret) => new(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));

    private static string Click(TokenSigner signer) =>
        signer.Create(new TrackingToken(TokenKind.Click, "spring", "r1", 1, "https://shop.example.com/x"));

    private async Task<string> PlanAsync()
    {
        var db = Path.Combine(_dir, "herald.db");
        await using var ledger = await SqliteDeliveryStore.OpenAsync(db, Ct);
        await using var writer = await ledger.BeginPlanAsync("spring", "f1", Ct);
        await writer.AddAsync([new PlanEntry("r1", "r1@shop.example.com", "{}"u8.ToArray(), null, "<r1@t>")], Ct);
        await writer.CommitAsync(Ct);
        return db;
    }

    /// <summary>Reads the server's first lines until it listens; a client for that address.</summary>
    private static async Task<HttpClient> ConnectAsync(Process process, System.Text.StringBuilder output)
    {
        while (true)
        {
            var line = await process.StandardOutput.ReadLineAsync(Ct).AsTask().WaitAsync(HeraldProcess.Bound, Ct);
            if (line is null)
            {
                Assert.Fail("serve exited: " + output + await process.StandardError.ReadToEndAsync(Ct));
            }

            output.AppendLine(line);
            if (line.StartsWith("listening on ", StringComparison.Ordinal))
            {
                return new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false }) { BaseAddress = new Uri(line["listening on ".Length..]) };
            }
        }
    }

    private static async Task StopAsync(Process process, System.Text.StringBuilder output)
    {
        using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString(CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync(Ct);
        }

        var rest = process.StandardOutput.ReadToEndAsync(Ct);
        var errors = process.StandardError.ReadToEndAsync(Ct);
        await process.WaitForExitAsync(Ct).WaitAsync(HeraldProcess.Bound, Ct);
        output.Append(await rest).Append(await errors);
    }
}
