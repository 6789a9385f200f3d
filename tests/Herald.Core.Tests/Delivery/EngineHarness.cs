using System.Text;
using Herald.Campaigns;
using Herald.Core.Tests.Smtp;
using Herald.Delivery;
using Herald.Rendering;
using Herald.Sqlite;
using Herald.Store;
using MimeKit;

namespace Herald.Core.Tests.Delivery;

/// <summary>A planned campaign in a temporary SQLite store, sent through scriptable relays.</summary>
internal sealed class EngineHarness : IAsyncDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("herald-engine-").FullName;

    public SqliteDeliveryStore Store { get; private set; } = null!;

    /// <summary>The campaign state (pause, relay health) in the same file.</summary>
    public SqliteCampaignStateStore State { get; private set; } = null!;

    public string DbPath => Path.Combine(_dir, "herald.db");

    public static Task<EngineHarness> CreateAsync(int recipients) => CreateAsync(Enumerable.Range(0, recipients).Select(Address).ToList());

    /// <summary>A plan with these addresses, in order (recipient ids r0, r1, …).</summary>
    public static async Task<EngineHarness> CreateAsync(IReadOnlyList<string> addresses)
    {
        var recipients = addresses.Count;
        var harness = new EngineHarness();
        harness.Store = await SqliteDeliveryStore.OpenAsync(harness.DbPath, TestContext.Current.CancellationToken);
        harness.State = new SqliteCampaignStateStore(harness.DbPath);
        await harness.State.MigrateAsync(TestContext.Current.CancellationToken);
        await using var writer = await harness.Store.BeginPlanAsync("test", "f", TestContext.Current.CancellationToken);
        var entries = Enumerable.Range(0, recipients)
            .Select(i => new PlanEntry($"r{i}", addresses[i], Encoding.UTF8.GetBytes("{}"), null, $"<r{i}.test@shop.example.com>"))
            .ToList();
        await writer.AddAsync(entries, TestContext.Current.CancellationToken);
        await writer.CommitAsync(TestContext.Current.CancellationToken);
        return harness;
    }

    public static string Address(int i) => $"user{i}@example.com";

    public static Campaign Campaign(params int[] relayPorts) => Campaign(null, relayPorts);

    public static Campaign Campaign(Action<CampaignTuning>? tune, params int[] relayPorts)
    {
        var tuning = new CampaignTuning();
        tune?.Invoke(tuning);
        return new Campaign
        {
            Id = "test",
            FilePath = "/tmp/test/campaign.yml",
            From = MailboxAddress.Parse("Shop <news@shop.example.com>"),
            Subject = "hi",
            HtmlPath = "/tmp/test/body.html",
            RecipientsPath = "/tmp/test/recipients.csv",
            Tracking = new TrackingOptions { BaseUrl = "https://t.example.com" },
            PostalAddress = "1 Market St",
            Relays = relayPorts.Select((p, i) => new RelayOptions
            {
                Url = new Uri($"smtp://127.0.0.1:{p}"),
                Name = tuning.Names ? $"smtp-{i + 1}" : null!,
                Connections = tuning.Connections,
                StartTls = StartTlsMode.None,
                Chunking = tuning.Chunking,
            }).ToList(),
            Retry = new RetryPolicy
            {
                MaxAttempts = tuning.MaxAttempts,
                InitialBackoff = TimeSpan.FromMilliseconds(20),
                MaxBackoff = TimeSpan.FromMilliseconds(100),
                GiveUpAfter = TimeSpan.FromMinutes(5),
            },
            Delivery = new DeliveryOptions
            {
                ConnectTimeout = TimeSpan.FromSeconds(5),
                CommandTimeout = TimeSpan.FromSeconds(10),
                FinalReplyTimeout = tuning.FinalReplyTimeout,
                BreakerFailures = 2,
                BreakerCooldown = TimeSpan.FromMilliseconds(100),
                UnreachableTimeout = tuning.UnreachableTimeout,
                PolicyStreak = tuning.PolicyStreak,
                TransientStreak = tuning.TransientStreak,
            },
        };
    }

    public static Campaign WithRelays(Campaign campaign, IReadOnlyList<RelayOptions> relays) => new()
    {
        Id = campaign.Id,
        FilePath = campaign.FilePath,
        From = campaign.From,
        Subject = campaign.Subject,
        HtmlPath = campaign.HtmlPath,
        RecipientsPath = campaign.RecipientsPath,
        Tracking = campaign.Tracking,
        PostalAddress = campaign.PostalAddress,
        Relays = relays,
        Retry = campaign.Retry,
        Delivery = campaign.Delivery,
    };

    /// <summary>Every run of the engine in these tests is bounded: a hang fails the test instead of running on.</summary>
    public static readonly TimeSpan RunLimit = TimeSpan.FromSeconds(90);

    public async Task<DeliveryResult> SendAsync(Campaign campaign, IMessageFactory? factory = null, ISuppressionList? suppression = null)
    {
        var engine = new DeliveryEngine(campaign, Store, factory ?? new TestMessageFactory(), suppression, new DeliveryEngineOptions { State = State });
        return await engine.RunAsync(TestContext.Current.CancellationToken).WaitAsync(RunLimit, TestContext.Current.CancellationToken);
    }

    /// <summary>Runs the engine with these options (the harness's state store unless they name one), bounded in time.</summary>
    public async Task<DeliveryResult> SendAsync(Campaign campaign, DeliveryEngineOptions options, IMessageFactory? factory = null)
    {
        var engine = new DeliveryEngine(campaign, Store, factory ?? new TestMessageFactory(), null, options.State is null ? With(options, State) : options);
        return await engine.RunAsync(TestContext.Current.CancellationToken).WaitAsync(RunLimit, TestContext.Current.CancellationToken);
    }

    private static DeliveryEngineOptions With(DeliveryEngineOptions options, ICampaignStateStore state) => new()
    {
        WorkerId = options.WorkerId,
        Lease = options.Lease,
        StoreOutageTimeout = options.StoreOutageTimeout,
        ClaimBatch = options.ClaimBatch,
        Guards = options.Guards,
        Transcript = options.Transcript,
        State = state,
    };

    public async Task<IReadOnlyList<RecipientRecord>> RecordsAsync()
    {
        var records = new List<RecipientRecord>();
        await foreach (var record in Store.ReadRecipientsAsync("test", TestContext.Current.CancellationToken))
        {
            records.Add(record);
        }

        return records;
    }

    /// <summary>A run over <paramref name="store"/> (a decorator of <see cref="Store"/>), bounded like every run here.</summary>
    public static Task<DeliveryResult> RunAsync(DeliveryEngine engine, CancellationToken? stop = null) =>
        engine.RunAsync(stop ?? TestContext.Current.CancellationToken).WaitAsync(RunLimit, TestContext.Current.CancellationToken);

    /// <summary>How many rows are in each state, read through a separate connection (as another process would).</summary>
    public Dictionary<DeliveryState, long> States()
    {
        using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={DbPath}");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT state, COUNT(*) FROM recipients GROUP BY state";
        using var reader = command.ExecuteReader();
        var states = new Dictionary<DeliveryState, long>();
        while (reader.Read())
        {
            states[(DeliveryState)reader.GetInt32(0)] = reader.GetInt64(1);
        }

        return states;
    }

    /// <summary>The state of one address's row, read through a separate connection.</summary>
    public DeliveryState StateOf(string email)
    {
        using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={DbPath}");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT state FROM recipients WHERE email = $e";
        command.Parameters.AddWithValue("$e", email);
        return (DeliveryState)(long)command.ExecuteScalar()!;
    }

    public async Task<RecipientRecord> RecordAsync(int i)
    {
        await foreach (var record in Store.ReadRecipientsAsync("test", TestContext.Current.CancellationToken))
        {
            if (record.RecipientId == $"r{i}")
            {
                return record;
            }
        }

        throw new InvalidOperationException($"no recipient {i}");
    }

    public async ValueTask DisposeAsync()
    {
        await State.DisposeAsync();
        await Store.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }
}

internal sealed class CampaignTuning
{
    public int Connections { get; set; } = 2;

    public int MaxAttempts { get; set; } = 4;

    public TimeSpan FinalReplyTimeout { get; set; } = TimeSpan.FromSeconds(10);

    public TimeSpan UnreachableTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Name the relays smtp-1, smtp-2, … (otherwise host:port).</summary>
    public bool Names { get; set; }

    public bool Chunking { get; set; } = true;

    public int PolicyStreak { get; set; } = 10;

    public int TransientStreak { get; set; } = 25;
}

/// <summary>A small message per recipient; the renderer has its own tests.</summary>
internal sealed class TestMessageFactory : IMessageFactory
{
    public Func<WorkItem, MimeMessage?>? Override { get; init; }

    public static MimeMessage Large(WorkItem item, int bytes)
    {
        var message = Plain(item, "");
        message.Body = new TextPart("plain")
        {
            Content = new MimeContent(new MemoryStream(System.Text.Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat(new string('y', 998) + "\r\n", bytes / 1000))))),
            ContentTransferEncoding = ContentEncoding.SevenBit,
        };
        return message;
    }

    public MimeMessage Create(WorkItem item)
    {
        if (Override?.Invoke(item) is { } custom)
        {
            return custom;
        }

        return Plain(item, new string('x', 2000));
    }

    private static MimeMessage Plain(WorkItem item, string filler)
    {
        var message = new MimeMessage
        {
            MessageId = item.MessageId.Trim('<', '>'),
            Subject = "Spring picks",
            Body = new TextPart("plain") { Text = $"Hello {item.RecipientId}\r\n{filler}\r\n" },
        };
        message.From.Add(MailboxAddress.Parse("news@shop.example.com"));
        message.To.Add(MailboxAddress.Parse(item.Email));
        return message;
    }
}
