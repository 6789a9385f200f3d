using System.Threading.Channels;
using Herald.Store;

namespace Herald.Delivery;

/// <summary>
/// Group commit: marks and outcomes from every connection are collected while the previous transaction runs and
/// written together in the next one, so the store sees one transaction per batch, never one per email.
/// </summary>
internal sealed class Ledger : IAsyncDisposable
{
    private const int MaxBatch = 1024;
    private readonly IDeliveryStore _store;
    private readonly string _workerId;
    private readonly Channel<Request> _requests = Channel.CreateUnbounded<Request>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Task _loop;

    public Ledger(IDeliveryStore store, string workerId)
    {
        _store = store;
        _workerId = workerId;
        _loop = Task.Run(RunAsync);
    }

    /// <summary>Transactions committed so far (for measurements).</summary>
    public long Commits { get; private set; }

    /// <summary>Durably marks the row <c>sending</c>; false when this worker no longer owns it.</summary>
    public Task<bool> MarkSendingAsync(ClaimedRow row)
    {
        var request = new Request(row, null, new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously));
        if (!_requests.Writer.TryWrite(request))
        {
            return Task.FromResult(false);
        }

        return request.Done.Task;
    }

    /// <summary>Queues an outcome; the task completes when it is durable.</summary>
    public Task RecordAsync(Outcome outcome)
    {
        var request = new Request(outcome.Claimed, outcome, new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously));
        if (!_requests.Writer.TryWrite(request))
        {
            throw new InvalidOperationException("The ledger is closed.");
        }

        return request.Done.Task;
    }

    private async Task RunAsync()
    {
        var marks = new List<Request>(MaxBatch);
        var outcomes = new List<Request>(MaxBatch);
        var reader = _requests.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (marks.Count + outcomes.Count < MaxBatch && reader.TryRead(out var request))
            {
                (request.Outcome is null ? marks : outcomes).Add(request);
            }

            await CommitAsync(marks, outcomes).ConfigureAwait(false);
            marks.Clear();
            outcomes.Clear();
        }
    }

    private async Task CommitAsync(List<Request> marks, List<Request> outcomes)
    {
        var delay = TimeSpan.FromMilliseconds(50);
        while (true)
        {
            try
            {
                var result = await _store.CommitAsync(
                    _workerId,
                    marks.ConvertAll(m => m.Row),
                    outcomes.ConvertAll(o => o.Outcome!),
                    CancellationToken.None).ConfigureAwait(false);
                Commits++;
                foreach (var mark in marks)
                {
                    mark.Done.TrySetResult(result.Marked.Contains(mark.Row.Id));
                }

                foreach (var outcome in outcomes)
                {
                    outcome.Done.TrySetResult(true);
                }

                return;
            }
            catch (StoreException)
            {
                // A mark that could not be written is not sent; the row stays pending under our claim.
                foreach (var mark in marks)
                {
                    mark.Done.TrySetResult(false);
                }

                marks.Clear();
                // Outcomes are kept and retried: their rows are `sending` and would otherwise end in_doubt.
                await Task.Delay(delay).ConfigureAwait(false);
                delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 2000));
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _requests.Writer.TryComplete();
        await _loop.ConfigureAwait(false);
    }

    private sealed record Request(ClaimedRow Row, Outcome? Outcome, TaskCompletionSource<bool> Done);
}
