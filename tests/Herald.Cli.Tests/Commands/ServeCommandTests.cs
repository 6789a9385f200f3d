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
}
