using System.Text;
using Herald.Bounces;
using Herald.Rendering;
using Herald.Sqlite;
using Herald.Store;
using Herald.Tracking;

namespace Herald.Core.Tests.Bounces;

/// <summary>
/// A store with a campaign sent to ten recipients (<c>zoe0@example.org</c> …), the bounce processor on it, and the
/// corpus files filled in for one of them.
/// </summary>
internal sealed class BounceFixture : IAsyncDisposable
{
    public const string Campaign = "spring-2026";
    public const string BounceDomain = "bounces.shop.example.com";
    private readonly string _dir = Directory.CreateTempSubdirectory("herald-bounce-proc-").FullName;
    private readonly Dictionary<string, long> _rows = [];

    private BounceFixture()
    {
    }

    public static TokenSigner Signer { get; } = new(Encoding.UTF8.GetBytes("bounce-fixture-key-0123456789"));

    public string DbPath => Path.Combine(_dir, "herald.db");

    public SqliteBounceStore Bounces { get; private set; } = null!;

    public SqliteTrackingStore Tracking { get; private set; } = null!;

    public BounceProcessor Processor { get; private set; } = null!;

    public static string Email(int i) => $"zoe{i}@example.org";

    public static string RecipientId(int i) => $"r{i}";

    public static string MessageId(int i) => MessageIds.Create(Campaign, RecipientId(i), "shop.example.com");

    public long Row(int i) => _rows[RecipientId(i)];

    public string ReturnPath(int i) => Signer.CreateReturnPath(Campaign, Row(i), BounceDomain);

    public static async Task<BounceFixture> CreateAsync(int recipients = 10, string campaign = Campaign, TimeProvider? time = null)
    {
        var fixture = new BounceFixture();
        await fixture.SendAsync(campaign, recipients);
        fixture.Tracking = new SqliteTrackingStore(fixture.DbPath);
        await fixture.Tracking.MigrateAsync(TestContext.Current.CancellationToken);
        fixture.Bounces = new SqliteBounceStore(fixture.DbPath);
        await fixture.Bounces.MigrateAsync(TestContext.Current.CancellationToken);
        fixture.Processor = new BounceProcessor(fixture.Bounces, fixture.Tracking, Signer, time);
        return fixture;
    }

    /// <summary>Plans and sends a campaign through the ledger contract: every recipient ends <c>sent</c>, or <c>failed</c> with the reply given.</summary>
    public async Task SendAsync(string campaign, int recipients, Func<int, (int Code, string Text)?>? failures = null)
    {
        var ct = TestContext.Current.CancellationToken;
        await using var ledger = await SqliteDeliveryStore.OpenAsync(DbPath, ct);
        await using (var writer = await ledger.BeginPlanAsync(campaign, "f1", ct))
        {
            await writer.AddAsync([.. Enumerable.Range(0, recipients).Select(i =>
                new PlanEntry(RecipientId(i), Email(i), "{}"u8.ToArray(), null, MessageIds.Create(campaign, RecipientId(i), "shop.example.com")))], ct);
            await writer.CommitAsync(ct);
        }

        await ledger.RecoverAsync(campaign, "w1", ct);
        var claimed = await ledger.ClaimAsync(campaign, "w1", recipients, TimeSpan.FromMinutes(1), ct);
        await ledger.CommitAsync("w1", [.. claimed.Select(c => c.Claimed)], [], ct);
        await ledger.CommitAsync("w1", [], [.. claimed.Select(c =>
        {
            var index = int.Parse(c.RecipientId.AsSpan(1), System.Globalization.CultureInfo.InvariantCulture);
            return failures?.Invoke(index) is { } failure
                ? new Outcome(c.Id, c.Token, DeliveryState.Failed, failure.Code, failure.Text, "relay-1")
                : new Outcome(c.Id, c.Token, DeliveryState.Sent, 250, "2.0.0 Ok", "relay-1");
        })], ct);
        if (campaign == Campaign)
        {
            foreach (var item in claimed)
            {
                _rows[item.RecipientId] = item.Id;
            }
        }
    }

    /// <summary>A corpus file with its placeholders filled in for recipient <paramref name="i"/>.</summary>
    public byte[] Corpus(string name, int i)
    {
        var text = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Bounces", "Corpus", name));
        var unsubscribe = "https://t.shop.example.com/u/" + Signer.Create(new TrackingToken(TokenKind.Unsubscribe, Campaign, RecipientId(i), 0, null));
        text = text.Replace("{{VERP}}", ReturnPath(i), StringComparison.Ordinal)
            .Replace("{{EMAIL}}", Email(i), StringComparison.Ordinal)
            .Replace("{{MSGID}}", MessageId(i), StringComparison.Ordinal)
            .Replace("{{UNSUB_URL}}", unsubscribe, StringComparison.Ordinal);
        // On the wire and in most files mail has CRLF line ends.
        return Encoding.UTF8.GetBytes(text.ReplaceLineEndings("\r\n"));
    }

    public async Task<List<SuppressionEntry>> SuppressionsAsync()
    {
        var list = new List<SuppressionEntry>();
        await foreach (var entry in Tracking.ListSuppressionsAsync(TestContext.Current.CancellationToken))
        {
            list.Add(entry);
        }

        return list;
    }

    public async Task<List<BounceEvent>> EventsAsync(string campaign = Campaign)
    {
        var list = new List<BounceEvent>();
        await foreach (var e in Bounces.ReadAsync(campaign, TestContext.Current.CancellationToken))
        {
            list.Add(e);
        }

        return list;
    }

    public async ValueTask DisposeAsync()
    {
        await Bounces.DisposeAsync();
        await Tracking.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }
}
