using System.Text;
using Herald.Campaigns;
using Herald.Store;
using MimeKit;

namespace Herald.Core.Tests.Prepare;

/// <summary>A campaign folder in the temp directory with the files a test writes, deleted afterwards.</summary>
internal sealed class PrepareFixture : IDisposable
{
    public PrepareFixture()
    {
        Directory = Path.Combine(Path.GetTempPath(), "herald-prepare-tests", Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(Directory);
        Write("body.html", "<p>Hello {{ first_name }}</p>");
    }

    public string Directory { get; }

    public string PathOf(string name) => Path.Combine(Directory, name);

    public string Write(string name, string content)
    {
        File.WriteAllText(PathOf(name), content, new UTF8Encoding(false));
        return PathOf(name);
    }

    public Campaign Campaign(string recipients, params DataSetOptions[] data) => new()
    {
        Id = "spring",
        FilePath = PathOf("campaign.yml"),
        From = MailboxAddress.Parse("Shop <news@shop.example.com>"),
        Subject = "Hi {{ first_name }}",
        HtmlPath = PathOf("body.html"),
        RecipientsPath = PathOf(recipients),
        Tracking = new TrackingOptions { BaseUrl = "https://t.example.com" },
        PostalAddress = "1 Market St",
        Relays = [new RelayOptions { Url = new Uri("smtp://127.0.0.1:2525") }],
        Data = data.ToDictionary(d => d.Name, StringComparer.Ordinal),
    };

    public void Dispose()
    {
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>The plan side of <see cref="IDeliveryStore"/> in memory: committed plans, with failures on demand.</summary>
internal sealed class MemoryPlanStore : IDeliveryStore
{
    private readonly Dictionary<string, (PlanInfo Info, List<PlanEntry> Entries)> _plans = [];

    /// <summary>When set, the plan writer throws on this AddAsync call (1-based).</summary>
    public int? FailOnAdd { get; set; }

    public int Commits { get; private set; }

    public IReadOnlyList<PlanEntry> Plan(string campaign) => _plans.TryGetValue(campaign, out var p) ? p.Entries : [];

    public void MarkStarted(string campaign) => _plans[campaign] = (_plans[campaign].Info with { Started = true }, _plans[campaign].Entries);

    public Task<PlanInfo?> GetPlanAsync(string campaignId, CancellationToken cancellationToken) =>
        Task.FromResult(_plans.TryGetValue(campaignId, out var p) ? p.Info : null);

    public Task<IPlanWriter> BeginPlanAsync(string campaignId, string fingerprint, CancellationToken cancellationToken)
    {
        if (_plans.TryGetValue(campaignId, out var p) && p.Info.Started)
        {
            throw new StoreException("started");
        }

        return Task.FromResult<IPlanWriter>(new Writer(this, campaignId, fingerprint));
    }

    public Task MigrateAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task RegisterWorkerAsync(WorkerInfo worker, TimeSpan lease, CancellationToken cancellationToken) => throw new NotSupportedException();

    public Task UnregisterWorkerAsync(string campaignId, string workerId, CancellationToken cancellationToken) => throw new NotSupportedException();

    public Task<IReadOnlyList<WorkerStatus>> ListWorkersAsync(string campaignId, CancellationToken cancellationToken) => throw new NotSupportedException();

    public Task<RecoveryResult> RecoverAsync(string campaignId, string workerId, CancellationToken cancellationToken) => throw new NotSupportedException();

    public Task<IReadOnlyList<WorkItem>> ClaimAsync(string campaignId, string workerId, int max, TimeSpan lease, CancellationToken cancellationToken) => throw new NotSupportedException();

    public Task<CommitResult> CommitAsync(string workerId, IReadOnlyList<ClaimedRow> markSending, IReadOnlyList<Outcome> outcomes, CancellationToken cancellationToken) => throw new NotSupportedException();

    public Task<RenewResult> RenewLeaseAsync(string campaignId, string workerId, IReadOnlyList<ClaimedRow> held, TimeSpan lease, CancellationToken cancellationToken) => throw new NotSupportedException();

    public Task ReleaseAsync(string workerId, IReadOnlyList<ClaimedRow> rows, CancellationToken cancellationToken) => throw new NotSupportedException();

    public Task<StateCounts> GetCountsAsync(string campaignId, CancellationToken cancellationToken) => throw new NotSupportedException();

    public Task<NextWork> GetNextWorkAsync(string campaignId, string workerId, CancellationToken cancellationToken) => throw new NotSupportedException();

    public Task<bool> HasUnfinishedAsync(string campaignId, CancellationToken cancellationToken) => throw new NotSupportedException();

    public Task<int> ResetInDoubtAsync(string campaignId, CancellationToken cancellationToken) => throw new NotSupportedException();

    public Task<int> ResetFailedAsync(string campaignId, Func<int?, string?, bool> match, CancellationToken cancellationToken) => throw new NotSupportedException();

    public Task<IReadOnlyList<string>> ListCampaignsAsync(CancellationToken cancellationToken) => Task.FromResult<IReadOnlyList<string>>([.. _plans.Keys]);

    public IAsyncEnumerable<RecipientRecord> ReadRecipientsAsync(string campaignId, CancellationToken cancellationToken) => throw new NotSupportedException();

    public IAsyncEnumerable<WorkItem> ReadPendingAsync(string campaignId, int limit, CancellationToken cancellationToken) => throw new NotSupportedException();

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private sealed class Writer(MemoryPlanStore store, string campaign, string fingerprint) : IPlanWriter
    {
        private readonly List<PlanEntry> _entries = [];
        private int _adds;

        public Task AddAsync(IReadOnlyList<PlanEntry> entries, CancellationToken cancellationToken)
        {
            if (++_adds == store.FailOnAdd)
            {
                throw new StoreException("disk full (injected)");
            }

            // Copy: the caller may reuse its buffers once the call returns.
            _entries.AddRange(entries.Select(e => e with { Context = e.Context.ToArray() }));
            return Task.CompletedTask;
        }

        public Task CommitAsync(CancellationToken cancellationToken)
        {
            store._plans[campaign] = (new PlanInfo(campaign, fingerprint, DateTimeOffset.UnixEpoch, _entries.Count, false), _entries);
            store.Commits++;
            return Task.CompletedTask;
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}

/// <summary>A suppression list over a fixed set, counting its round trips.</summary>
internal sealed class FixedSuppressionList(params string[] emails) : ISuppressionList
{
    private readonly HashSet<string> _emails = new(emails, StringComparer.Ordinal);

    public int Calls { get; private set; }

    public Task<IReadOnlySet<string>> FindSuppressedAsync(IReadOnlyCollection<string> normalizedEmails, CancellationToken cancellationToken)
    {
        Calls++;
        return Task.FromResult<IReadOnlySet<string>>(normalizedEmails.Where(_emails.Contains).ToHashSet(StringComparer.Ordinal));
    }
}
