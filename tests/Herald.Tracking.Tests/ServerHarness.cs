using System.Net;
using Herald.Sqlite;
using Herald.Store;
using Herald.Tracking.Journal;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.Tracking.Tests;

/// <summary>A real Kestrel server on a free loopback port over a temporary SQLite store with one planned campaign.</summary>
internal sealed class ServerHarness : IAsyncDisposable
{
    public const string Campaign = "spring";
    public static readonly byte[] Key = [.. Enumerable.Range(1, 32).Select(i => (byte)i)];

    private ServerHarness(string dir, WebApplication app, ITrackingStore store, SqliteTrackingStore sqlite, SqliteDeliveryStore ledger, HttpClient client)
    {
        Directory = dir;
        App = app;
        Store = store;
        Sqlite = sqlite;
        Ledger = ledger;
        Client = client;
    }

    public string Directory { get; }

    public string DbPath => Path.Combine(Directory, "herald.db");

    public string JournalDirectory => Path.Combine(Directory, "herald.db.journal");

    /// <summary>The journal files (locks and event files) in the folder, of any server.</summary>
    public string[] JournalFiles() =>
        System.IO.Directory.Exists(JournalDirectory) ? [.. System.IO.Directory.GetFiles(JournalDirectory).Select(Path.GetFileName).Order(StringComparer.Ordinal)!] : [];

    /// <summary>Every event line in the journal's event files (of this server only, when <paramref name="own"/>).</summary>
    public int JournalLines(bool own = false) =>
        System.IO.Directory.Exists(JournalDirectory)
            ? System.IO.Directory.GetFiles(JournalDirectory, own ? InstanceId + ".*.events" : "*.events").Sum(f => File.ReadAllLines(f).Count(l => l.Length > 0))
            : 0;

    /// <summary>This server's journal instance id (the stem of its files).</summary>
    public string InstanceId => Path.GetFileNameWithoutExtension(App.Services.GetRequiredService<EventPipeline>().JournalLockPath!);

    public WebApplication App { get; }

    public ITrackingStore Store { get; }

    public SqliteTrackingStore Sqlite { get; }

    public SqliteDeliveryStore Ledger { get; }

    public SqliteReportStore Reports { get; private init; } = null!;

    public HttpClient Client { get; }

    public Uri BaseAddress => Client.BaseAddress!;

    /// <summary>Leave the folder (database, spool) for a restarted server.</summary>
    public bool KeepDirectory { get; set; }

    public static TokenSigner Signer { get; } = new(Key);

    /// <summary>Plans <paramref name="recipients"/> recipients (r1.. with r1@shop.example.com ..) and marks the first <paramref name="sent"/> sent.</summary>
    public static async Task<ServerHarness> StartAsync(
        int recipients = 5,
        int sent = 3,
        string? dashboardToken = null,
        Func<ITrackingStore, ITrackingStore>? wrapStore = null,
        string? directory = null,
        Func<JournalOptions, JournalOptions>? journal = null,
        Func<TrackingServerOptions, TrackingServerOptions>? configure = null,
        Action<Microsoft.Extensions.Logging.ILoggingBuilder>? logging = null)
    {
        configure ??= static o => o;
        var ct = TestContext.Current.CancellationToken;
        var dir = directory ?? System.IO.Directory.CreateTempSubdirectory("herald-serve-").FullName;
        var db = Path.Combine(dir, "herald.db");
        if (!File.Exists(db))
        {
            await SeedAsync(db, recipients, sent, ct);
        }

        var sqlite = new SqliteTrackingStore(db);
        await sqlite.MigrateAsync(ct);
        var store = wrapStore?.Invoke(sqlite) ?? sqlite;
        var ledger = await SqliteDeliveryStore.OpenAsync(db, ct);
        var reports = new SqliteReportStore(db);
        await reports.MigrateAsync(ct);
        var app = TrackingServer.Build(configure(new TrackingServerOptions
        {
            Signer = Signer,
            Store = store,
            Ledger = ledger,
            Journal = journal?.Invoke(new JournalOptions { Directory = Path.Combine(dir, "herald.db.journal") })
                ?? new JournalOptions { Directory = Path.Combine(dir, "herald.db.journal") },
            Urls = ["http://127.0.0.1:0"],
            DashboardToken = dashboardToken,
            Reports = reports,
            StoreRetryInterval = TimeSpan.Zero,
        }), logging);
        await app.StartAsync(ct);
        var address = TrackingServer.Addresses(app)[0];
        var client = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false, UseCookies = false })
        {
            BaseAddress = new Uri(address),
        };
        return new ServerHarness(dir, app, store, sqlite, ledger, client) { Reports = reports };
    }

    public static string ClickPath(string recipient = "r1", int link = 1, string target = "https://shop.example.com/sale?x=1", string campaign = Campaign, TokenSigner? signer = null) =>
        "/c/" + (signer ?? Signer).Create(new TrackingToken(TokenKind.Click, campaign, recipient, link, target));

    public static string OpenPath(string recipient = "r1", string campaign = Campaign) =>
        "/o/" + Signer.Create(new TrackingToken(TokenKind.Open, campaign, recipient, 0, null));

    public static string UnsubscribePath(string recipient = "r1", string campaign = Campaign) =>
        "/u/" + Signer.Create(new TrackingToken(TokenKind.Unsubscribe, campaign, recipient, 0, null));

    public static HttpRequestMessage Get(string path, string? userAgent = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36", HttpMethod? method = null)
    {
        var request = new HttpRequestMessage(method ?? HttpMethod.Get, path);
        if (userAgent is not null)
        {
            request.Headers.TryAddWithoutValidation("User-Agent", userAgent);
        }

        return request;
    }

    public static HttpRequestMessage OneClick(string path) =>
        new(HttpMethod.Post, path) { Content = new FormUrlEncodedContent([new("List-Unsubscribe", "One-Click")]) };

    public Task FlushAsync() => TrackingServer.FlushAsync(App, TestContext.Current.CancellationToken);

    public async Task<List<TrackingEvent>> EventsAsync(string campaign = Campaign)
    {
        var list = new List<TrackingEvent>();
        await foreach (var e in Sqlite.ReadEventsAsync(campaign, TestContext.Current.CancellationToken))
        {
            list.Add(e);
        }

        return list;
    }

    /// <summary>Events of every campaign (bad-input tests assert that nothing at all was recorded).</summary>
    public async Task<long> AllEventCountAsync()
    {
        long total = 0;
        foreach (var campaign in await Sqlite.ListEventCampaignsAsync(TestContext.Current.CancellationToken))
        {
            total += (await Sqlite.GetEventCountsAsync(campaign, TestContext.Current.CancellationToken)).Total;
        }

        return total;
    }

    public async Task StopAsync()
    {
        await App.StopAsync(TestContext.Current.CancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await App.StopAsync(CancellationToken.None);
        await App.DisposeAsync();
        await Ledger.DisposeAsync();
        await Reports.DisposeAsync();
        await Sqlite.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        if (!KeepDirectory)
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
    }

    private static async Task SeedAsync(string db, int recipients, int sent, CancellationToken ct)
    {
        await using var ledger = await SqliteDeliveryStore.OpenAsync(db, ct);
        await using (var writer = await ledger.BeginPlanAsync(Campaign, "f1", ct))
        {
            var entries = Enumerable.Range(1, recipients)
                .Select(i => new PlanEntry($"r{i}", $"r{i}@shop.example.com", "{}"u8.ToArray(), null, $"<r{i}@herald.test>"))
                .ToList();
            await writer.AddAsync(entries, ct);
            await writer.CommitAsync(ct);
        }

        if (sent == 0)
        {
            return;
        }

        await ledger.RecoverAsync(Campaign, "w1", ct);
        var claimed = await ledger.ClaimAsync(Campaign, "w1", sent, TimeSpan.FromMinutes(1), ct);
        var marked = await ledger.CommitAsync("w1", [.. claimed.Select(c => c.Claimed)], [], ct);
        await ledger.CommitAsync("w1", [], [.. claimed.Where(c => marked.Marked.Contains(c.Id)).Select(c => new Outcome(c.Id, c.Token, DeliveryState.Sent, 250, "2.0.0 queued", "sink"))], ct);
    }
}

/// <summary>A store that fails while <see cref="Broken"/> is set, as a locked or missing database would.</summary>
internal sealed class FlakyStore(ITrackingStore inner) : ITrackingStore
{
    public volatile bool Broken;

    /// <summary>How many append calls reached the store (successful or not).</summary>
    public int Appends;

    public Task<int> AppendEventsAsync(IReadOnlyList<TrackingEvent> events, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref Appends);
        return Broken ? throw new StoreException("database is locked (test)") : inner.AppendEventsAsync(events, cancellationToken);
    }

    public Task MigrateAsync(CancellationToken cancellationToken) => inner.MigrateAsync(cancellationToken);

    public IAsyncEnumerable<TrackingEvent> ReadEventsAsync(string campaignId, CancellationToken cancellationToken) => inner.ReadEventsAsync(campaignId, cancellationToken);

    public Task<EventCounts> GetEventCountsAsync(string campaignId, CancellationToken cancellationToken) => inner.GetEventCountsAsync(campaignId, cancellationToken);

    public Task<IReadOnlyList<string>> ListEventCampaignsAsync(CancellationToken cancellationToken) => inner.ListEventCampaignsAsync(cancellationToken);

    public Task<int> AddSuppressionsAsync(IReadOnlyList<SuppressionEntry> entries, CancellationToken cancellationToken) => inner.AddSuppressionsAsync(entries, cancellationToken);

    public Task<bool> RemoveSuppressionAsync(string normalizedEmail, CancellationToken cancellationToken) => inner.RemoveSuppressionAsync(normalizedEmail, cancellationToken);

    public IAsyncEnumerable<SuppressionEntry> ListSuppressionsAsync(CancellationToken cancellationToken) => inner.ListSuppressionsAsync(cancellationToken);

    public Task<IReadOnlySet<string>> FindSuppressedAsync(IReadOnlyCollection<string> normalizedEmails, CancellationToken cancellationToken) => inner.FindSuppressedAsync(normalizedEmails, cancellationToken);

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
