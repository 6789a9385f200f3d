using System.Collections.Concurrent;
using System.Threading.Channels;
using Herald.Campaigns;
using Herald.Rendering;
using Herald.Store;
using MimeKit;

namespace Herald.Delivery;

/// <summary>Why a run ended.</summary>
public enum DeliveryStop
{
    /// <summary>Every recipient reached a final state.</summary>
    Completed,

    /// <summary>Stopped on request (Ctrl-C); the rest stays pending for the next run.</summary>
    Stopped,

    /// <summary>No relay could be reached for the configured time; nothing was marked failed.</summary>
    Unreachable,
}

/// <summary>The end of a run.</summary>
public sealed record DeliveryResult(DeliveryStop Stop, StateCounts Counts, int RecoveredInDoubt, long Commits);

/// <summary>A snapshot for progress displays.</summary>
public sealed record DeliveryProgress(long Total, long Sent, long Failed, long InDoubt, long Skipped, long Remaining, long SentThisRun, TimeSpan Elapsed, int RelaysDown);

/// <summary>Knobs of the engine that are not part of the campaign file.</summary>
public sealed class DeliveryEngineOptions
{
    /// <summary>This sender's identity; every state change is fenced by it.</summary>
    public string WorkerId { get; init; } = $"{Environment.MachineName}:{Environment.ProcessId}:{Guid.NewGuid():N}";

    /// <summary>How long a claim holds rows; renewed while the sender lives.</summary>
    public TimeSpan Lease { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>Rows claimed per store round trip (0: twice the number of connections, at least 64).</summary>
    public int ClaimBatch { get; init; }

    /// <summary>Signs every message; required when the campaign has a <c>dkim</c> section (keys are loaded by the caller, once).</summary>
    public Dkim.DkimSigner? Dkim { get; init; }
}

/// <summary>
/// Sends a planned campaign: claims rows, renders, marks each recipient <c>sending</c> durably before its MAIL FROM,
/// sends through the relay pool and records the classified outcome; group commits throughout.
/// </summary>
public sealed class DeliveryEngine
{
    private readonly Campaign _campaign;
    private readonly IDeliveryStore _store;
    private readonly IMessageFactory _factory;
    private readonly ISuppressionList? _suppression;
    private readonly DeliveryEngineOptions _options;
    private readonly TimeProvider _time;
    // Items a connection could not start (its relay is down) go back here for any relay to take; those that cannot be
    // put back (the run is stopping) are released at the end.
    private readonly ConcurrentBag<WorkItem> _unsent = [];
    // Every row claimed and not yet finished, with its fencing token: what lease renewal names to the store.
    private readonly ConcurrentDictionary<long, ClaimedRow> _held = new();
    private Channel<WorkItem> _work = Channel.CreateUnbounded<WorkItem>();
    private readonly MailboxAddress _sender;
    private long _outstanding;
    private long _sent;
    private long _failed;
    private long _inDoubt;
    private long _skipped;
    private long _sentThisRun;
    private long _lastProgressTicks;
    private long _startTimestamp;
    private StateCounts? _initial;
    private RelayState[] _relays = [];
    private readonly SemaphoreSlim _wake = new(0, int.MaxValue);

    public DeliveryEngine(Campaign campaign, IDeliveryStore store, IMessageFactory factory, ISuppressionList? suppression = null, DeliveryEngineOptions? options = null, TimeProvider? time = null)
    {
        _campaign = campaign;
        _store = store;
        _factory = factory;
        _suppression = suppression;
        _options = options ?? new DeliveryEngineOptions();
        _time = time ?? TimeProvider.System;
        _sender = new MailboxAddress(campaign.From.Name, campaign.From.Address);
        if (campaign.Dkim is not null && _options.Dkim is null)
        {
            throw new ArgumentException("The campaign signs with DKIM: pass its DkimSigner in the options.", nameof(options));
        }
    }

    /// <summary>The current progress; safe to call from any thread while running.</summary>
    public DeliveryProgress Snapshot()
    {
        var initial = _initial;
        if (initial is null)
        {
            return new DeliveryProgress(0, 0, 0, 0, 0, 0, 0, TimeSpan.Zero, 0);
        }

        var sent = initial.Sent + Interlocked.Read(ref _sent);
        var failed = initial.Failed + Interlocked.Read(ref _failed);
        var inDoubt = initial.InDoubt + Interlocked.Read(ref _inDoubt);
        var skipped = initial.Skipped + Interlocked.Read(ref _skipped);
        return new DeliveryProgress(
            initial.Total, sent, failed, inDoubt, skipped,
            initial.Total - sent - failed - inDoubt - skipped,
            Interlocked.Read(ref _sentThisRun),
            _time.GetElapsedTime(_startTimestamp),
            _relays.Count(r => r.Breaker.IsOpen));
    }

    /// <summary>Runs until every recipient is final, <paramref name="stopToken"/> fires, or no relay can be reached.</summary>
    public async Task<DeliveryResult> RunAsync(CancellationToken stopToken)
    {
        _startTimestamp = _time.GetTimestamp();
        // A missing credential is a configuration mistake: say so before anything is claimed or sent.
        foreach (var relay in _campaign.Relays)
        {
            foreach (var variable in new[] { relay.UsernameEnv, relay.PasswordEnv })
            {
                if (variable is not null && Environment.GetEnvironmentVariable(variable) is null)
                {
                    throw new HeraldException($"relay {relay.Name}: the environment variable {variable} (named in the campaign's auth settings) is not set.");
                }
            }
        }

        await _store.RegisterWorkerAsync(WorkerInfo.ForThisProcess(_campaign.Id, _options.WorkerId), _options.Lease, stopToken).ConfigureAwait(false);
        var recovered = (await _store.RecoverAsync(_campaign.Id, _options.WorkerId, stopToken).ConfigureAwait(false)).InDoubt;
        _initial = await _store.GetCountsAsync(_campaign.Id, stopToken).ConfigureAwait(false);
        Touch();

        _relays = _campaign.Relays.Select(r => new RelayState(r, new CircuitBreaker(_campaign.Delivery.BreakerFailures, _campaign.Delivery.BreakerCooldown, _time),
            r.RateLimit is { } rate and > 0 ? new RateLimiter(rate, _time) : null)).ToArray();
        var connections = _relays.Sum(r => Math.Max(1, r.Options.Connections));
        var claimBatch = _options.ClaimBatch > 0 ? _options.ClaimBatch : Math.Max(64, connections * 2);
        // Never more than claimBatch items are outstanding, so putting one back never waits.
        var work = Channel.CreateBounded<WorkItem>(new BoundedChannelOptions(claimBatch) { SingleWriter = false });
        _work = work;

        using var halt = CancellationTokenSource.CreateLinkedTokenSource(stopToken);
        var stop = DeliveryStop.Completed;
        var ledger = new Ledger(_store, _options.WorkerId);
        await using (ledger.ConfigureAwait(false))
        {
            var workers = new List<Task>();
            foreach (var relay in _relays)
            {
                for (var i = 0; i < Math.Max(1, relay.Options.Connections); i++)
                {
                    workers.Add(Task.Run(() => WorkerAsync(relay, work.Reader, ledger, halt.Token), CancellationToken.None));
                }
            }

            var renew = RenewLeasesAsync(halt.Token);
            try
            {
                stop = await FeedAsync(work.Writer, ledger, claimBatch, halt.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (halt.IsCancellationRequested)
            {
                stop = DeliveryStop.Stopped;
            }
            finally
            {
                work.Writer.TryComplete();
                await halt.CancelAsync().ConfigureAwait(false);
                await Task.WhenAll(workers).ConfigureAwait(false);
                await renew.ConfigureAwait(false);
            }

            // Claimed rows that never reached a connection go back to the pool at once.
            var unsent = new List<ClaimedRow>();
            while (work.Reader.TryRead(out var item))
            {
                unsent.Add(item.Claimed);
            }

            foreach (var item in _unsent)
            {
                unsent.Add(item.Claimed);
            }

            await _store.ReleaseAsync(_options.WorkerId, unsent, CancellationToken.None).ConfigureAwait(false);
            await _store.UnregisterWorkerAsync(_campaign.Id, _options.WorkerId, CancellationToken.None).ConfigureAwait(false);
        }

        var counts = await _store.GetCountsAsync(_campaign.Id, CancellationToken.None).ConfigureAwait(false);
        if (stop == DeliveryStop.Completed && !counts.AllFinal)
        {
            stop = DeliveryStop.Stopped;
        }

        return new DeliveryResult(stop, counts, recovered, ledger.Commits);
    }

    private async Task<DeliveryStop> FeedAsync(ChannelWriter<WorkItem> work, Ledger ledger, int claimBatch, CancellationToken stopToken)
    {
        while (!stopToken.IsCancellationRequested)
        {
            // Refill at half capacity, in one round trip for many rows: never a claim per email.
            var nothingDue = false;
            var outstanding = Interlocked.Read(ref _outstanding);
            if (outstanding <= claimBatch / 2)
            {
                var items = await _store.ClaimAsync(_campaign.Id, _options.WorkerId, claimBatch - (int)outstanding, _options.Lease, stopToken).ConfigureAwait(false);
                if (items.Count > 0)
                {
                    Interlocked.Add(ref _outstanding, items.Count);
                    foreach (var item in items)
                    {
                        _held[item.Id] = item.Claimed;
                    }

                    foreach (var item in await DropSuppressedAsync(items, ledger, stopToken).ConfigureAwait(false))
                    {
                        await work.WriteAsync(item, stopToken).ConfigureAwait(false);
                    }

                    continue;
                }

                nothingDue = true;
            }

            if (nothingDue && Interlocked.Read(ref _outstanding) == 0)
            {
                var counts = await _store.GetCountsAsync(_campaign.Id, stopToken).ConfigureAwait(false);
                if (counts.Pending == 0 && counts.Sending == 0)
                {
                    return DeliveryStop.Completed;
                }
            }

            if (Interlocked.Read(ref _outstanding) > 0
                && _time.GetUtcNow().Ticks - Interlocked.Read(ref _lastProgressTicks) > _campaign.Delivery.UnreachableTimeout.Ticks
                && _relays.All(r => r.Breaker.IsOpen || !r.EverConnected))
            {
                return DeliveryStop.Unreachable;
            }

            // Wait for a finished transaction (which frees a slot or schedules a retry) or for the next due row.
            var wait = TimeSpan.FromMilliseconds(250);
            if (nothingDue && await _store.GetNextWorkAsync(_campaign.Id, _options.WorkerId, stopToken).ConfigureAwait(false) is { Earliest: { } next } nextWork)
            {
                // Both times come from the store's clock: wait for their difference, whatever this machine's clock says.
                var until = next - nextWork.Now;
                wait = until < TimeSpan.FromMilliseconds(5) ? TimeSpan.FromMilliseconds(5) : (until < wait ? until : wait);
            }

            try
            {
                await _wake.WaitAsync(wait, stopToken).ConfigureAwait(false);
                while (_wake.CurrentCount > 0 && _wake.Wait(0, CancellationToken.None))
                {
                    // Many finishes may have signalled; one look at the state covers them all.
                }
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }

        return DeliveryStop.Stopped;
    }

    private async Task<IEnumerable<WorkItem>> DropSuppressedAsync(IReadOnlyList<WorkItem> items, Ledger ledger, CancellationToken cancellationToken)
    {
        if (_suppression is null)
        {
            return items;
        }

        // Honoured again right before sending: an address suppressed mid-campaign is skipped, never sent.
        var suppressed = await _suppression.FindSuppressedAsync(items.Select(i => i.Email).ToList(), cancellationToken).ConfigureAwait(false);
        if (suppressed.Count == 0)
        {
            return items;
        }

        var keep = new List<WorkItem>(items.Count);
        foreach (var item in items)
        {
            if (suppressed.Contains(item.Email))
            {
                Finish(ledger, new Outcome(item.Id, item.Token, DeliveryState.Skipped, null, "suppressed before sending", null, SkipReason: "suppressed"));
            }
            else
            {
                keep.Add(item);
            }
        }

        return keep;
    }

    private async Task WorkerAsync(RelayState relay, ChannelReader<WorkItem> work, Ledger ledger, CancellationToken stopToken)
    {
        var connection = new RelayConnection(relay.Options, _campaign.Delivery, _campaign.From.Domain, _options.Dkim);
        await using (connection.ConfigureAwait(false))
        {
            while (!stopToken.IsCancellationRequested)
            {
                var wait = relay.Breaker.TryEnter();
                if (wait > TimeSpan.Zero)
                {
                    try
                    {
                        await Task.Delay(wait, _time, stopToken).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException)
                    {
                        break;
                    }

                    continue;
                }

                WorkItem? item;
                try
                {
                    if (!await work.WaitToReadAsync(stopToken).ConfigureAwait(false))
                    {
                        break;
                    }
                }
                catch (OperationCanceledException)
                {
                    break;
                }

                if (!work.TryRead(out item))
                {
                    continue;
                }

                await ProcessAsync(relay, connection, item, ledger, stopToken).ConfigureAwait(false);
            }
        }
    }

    private async Task ProcessAsync(RelayState relay, RelayConnection connection, WorkItem item, Ledger ledger, CancellationToken stopToken)
    {
        MimeMessage message;
        try
        {
            message = _factory.Create(item);
        }
        catch (RecipientRejectedException ex)
        {
            Finish(ledger, new Outcome(item.Id, item.Token, DeliveryState.Skipped, null, ex.Message, null, SkipReason: $"rejected:{ex.Reason}"));
            return;
        }
        catch (HeraldException ex)
        {
            Finish(ledger, new Outcome(item.Id, item.Token, DeliveryState.Skipped, null, ex.Message, null, SkipReason: "render-error"));
            return;
        }

        using (message)
        {
            if (!connection.IsConnected)
            {
                try
                {
                    await connection.ConnectAsync(stopToken).ConfigureAwait(false);
                    relay.EverConnected = true;
                    relay.Breaker.Success();
                    Touch();
                }
                catch (Exception ex) when (ex is not OutOfMemoryException)
                {
                    // Nothing was sent and nothing was marked: the recipient goes back for any relay to take.
                    relay.Breaker.Failure();
                    relay.LastError = ex.Message;
                    PutBack(item);
                    _wake.Release();
                    return;
                }
            }

            if (relay.Limiter is { } limiter)
            {
                try
                {
                    await limiter.WaitAsync(stopToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    PutBack(item);
                    return;
                }
            }

            if (!await ledger.MarkSendingAsync(item.Claimed).ConfigureAwait(false))
            {
                // Lost to another sender (lease expired) or not writable: never send what we do not own.
                _held.TryRemove(item.Id, out _);
                Interlocked.Decrement(ref _outstanding);
                return;
            }

            var result = await connection.SendAsync(message, _sender, new MailboxAddress((string?)null, item.Email)).ConfigureAwait(false);
            if (result.Kind is AttemptKind.Delivered or AttemptKind.Rejected)
            {
                relay.Breaker.Success();
                Touch();
            }
            else if (result.ConnectionBroken)
            {
                // A relay that keeps dropping connections is taken out of rotation like one that refuses them.
                relay.Breaker.Failure();
            }

            Finish(ledger, Decide(result, item, relay.Options.Name));
        }
    }

    private void PutBack(WorkItem item)
    {
        // Into the shared channel, so that a connection of any relay that waits for work wakes up for it.
        if (!_work.Writer.TryWrite(item))
        {
            _unsent.Add(item);
        }
    }

    private Outcome Decide(AttemptResult result, WorkItem item, string relay)
    {
        var now = _time.GetUtcNow();
        switch (result.Kind)
        {
            case AttemptKind.Delivered:
                return new Outcome(item.Id, item.Token, DeliveryState.Sent, result.Code, result.Text, relay);
            case AttemptKind.Rejected:
                return new Outcome(item.Id, item.Token, DeliveryState.Failed, result.Code, result.Text, relay);
            case AttemptKind.InDoubt:
                return new Outcome(item.Id, item.Token, DeliveryState.InDoubt, result.Code, result.Text, relay);
            default:
                var attempts = item.Attempts + 1;
                var retry = _campaign.Retry;
                var first = item.FirstAttemptAt ?? now;
                if (attempts >= retry.MaxAttempts)
                {
                    return new Outcome(item.Id, item.Token, DeliveryState.Failed, result.Code, $"gave up after {attempts} attempts: {result.Text}", relay);
                }

                var next = now + retry.BackoffAfter(attempts);
                if (next - first > retry.GiveUpAfter)
                {
                    return new Outcome(item.Id, item.Token, DeliveryState.Failed, result.Code, $"gave up after {retry.GiveUpAfter}: {result.Text}", relay);
                }

                return new Outcome(item.Id, item.Token, DeliveryState.Pending, result.Code, result.Text, relay, next);
        }
    }

    private void Finish(Ledger ledger, Outcome outcome)
    {
        _ = ledger.RecordAsync(outcome).ContinueWith(
            _ =>
            {
                switch (outcome.State)
                {
                    case DeliveryState.Sent:
                        Interlocked.Increment(ref _sent);
                        Interlocked.Increment(ref _sentThisRun);
                        break;
                    case DeliveryState.Failed:
                        Interlocked.Increment(ref _failed);
                        break;
                    case DeliveryState.InDoubt:
                        Interlocked.Increment(ref _inDoubt);
                        break;
                    case DeliveryState.Skipped:
                        Interlocked.Increment(ref _skipped);
                        break;
                }

                _held.TryRemove(outcome.Id, out ClaimedRow _);
                Interlocked.Decrement(ref _outstanding);
                _wake.Release();
            },
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }

    private async Task RenewLeasesAsync(CancellationToken stopToken)
    {
        var period = _options.Lease / 3;
        while (!stopToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(period, _time, stopToken).ConfigureAwait(false);
                await _store.RenewLeaseAsync(_campaign.Id, _options.WorkerId, _held.Values.ToList(), _options.Lease, stopToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (StoreException)
            {
                // Try again next period; marks are fenced, so a lapsed lease can only stop us, never duplicate.
            }
        }
    }

    private void Touch() => Interlocked.Exchange(ref _lastProgressTicks, _time.GetUtcNow().Ticks);

    private sealed class RelayState(RelayOptions options, CircuitBreaker breaker, RateLimiter? limiter)
    {
        public RelayOptions Options { get; } = options;

        public CircuitBreaker Breaker { get; } = breaker;

        public RateLimiter? Limiter { get; } = limiter;

        public volatile bool EverConnected;

        public volatile string? LastError;
    }
}
