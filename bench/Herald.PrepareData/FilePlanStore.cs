using Herald.Store;

namespace Herald.PrepareData;

/// <summary>A plan "store" that appends plan rows to a file (or discards them): the pipeline's cost without SQLite's.</summary>
internal sealed class FilePlanStore(string? path) : IDeliveryStore
{
    public long Bytes { get; private set; }

    public Task<PlanInfo?> GetPlanAsync(string campaignId, CancellationToken cancellationToken) => Task.FromResult<PlanInfo?>(null);

    public Task<IPlanWriter> BeginPlanAsync(string campaignId, string fingerprint, CancellationToken cancellationToken) =>
        Task.FromResult<IPlanWriter>(new Writer(this, path is null ? Stream.Null : new FileStream(path + ".tmp", FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20), path));

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

    public Task<IReadOnlyList<string>> ListCampaignsAsync(CancellationToken cancellationToken) => throw new NotSupportedException();

    public IAsyncEnumerable<RecipientRecord> ReadRecipientsAsync(string campaignId, CancellationToken cancellationToken) => throw new NotSupportedException();

    public IAsyncEnumerable<WorkItem> ReadPendingAsync(string campaignId, int limit, CancellationToken cancellationToken) => throw new NotSupportedException();

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private sealed class Writer(FilePlanStore store, Stream stream, string? path) : IPlanWriter
    {
        private readonly BinaryWriter _out = new(stream);

        public Task AddAsync(IReadOnlyList<PlanEntry> entries, CancellationToken cancellationToken)
        {
            foreach (var e in entries)
            {
                _out.Write(e.RecipientId);
                _out.Write(e.Email);
                _out.Write(e.SkipReason ?? string.Empty);
                _out.Write(e.MessageId);
                _out.Write(e.Context.Length);
                _out.Write(e.Context.Span);
                store.Bytes += e.Context.Length + e.Email.Length + e.RecipientId.Length + e.MessageId.Length;
            }

            return Task.CompletedTask;
        }

        public Task CommitAsync(CancellationToken cancellationToken)
        {
            _out.Flush();
            stream.Dispose();
            if (path is not null)
            {
                File.Move(path + ".tmp", path, overwrite: true);
            }

            return Task.CompletedTask;
        }

        public ValueTask DisposeAsync()
        {
            stream.Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
