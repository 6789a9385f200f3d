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

    /// <summary>
    /// The campaign paused itself: every relay is out of rotation for a sender-side problem, or a guard tripped. The
    /// pause is recorded in the store with its reason; nothing was marked failed for it; a new run continues.
    /// </summary>
    Paused,

    /// <summary>
    /// The store stayed unavailable past <see cref="DeliveryEngineOptions.StoreOutageTimeout"/>; nothing was sent without
    /// a durable mark, and a new run resumes (what was in flight is in_doubt at most).
    /// </summary>
    StoreUnavailable,
}

/// <summary>The end of a run.</summary>
/// <param name="Reason">
/// For <see cref="DeliveryStop.Paused"/> and <see cref="DeliveryStop.Unreachable"/>: why, naming each relay and its last
/// reply or error; for <see cref="DeliveryStop.StoreUnavailable"/>: the store's last error.
/// </param>
/// <param name="Resumed">The pause this run cleared when it started, if the campaign was paused.</param>
public sealed record DeliveryResult(DeliveryStop Stop, StateCounts Counts, int RecoveredInDoubt, long Commits, string? Reason = null, CampaignPause? Resumed = null);

/// <summary>A snapshot for progress displays.</summary>
/// <param name="Relays">Every relay's health: the progress line names the reason of each one that is not up.</param>
/// <param name="Store">Why sending is paused for the store (unavailable, not answering), or null.</param>
/// <param name="Workers">The campaign's senders as the store last listed them (this one included).</param>
/// <param name="Lost">Rows this worker lost to another before finishing them (dropped unsent).</param>
public sealed record DeliveryProgress(long Total, long Sent, long Failed, long InDoubt, long Skipped, long Remaining, long SentThisRun, TimeSpan Elapsed, int RelaysDown,
    IReadOnlyList<RelayHealth>? Relays = null, string? Store = null, IReadOnlyList<WorkerStatus>? Workers = null, long Lost = 0);

/// <summary>Knobs of the engine that are not part of the campaign file.</summary>
public sealed class DeliveryEngineOptions
{
    /// <summary>This sender's identity; every state change is fenced by it.</summary>
    public string WorkerId { get; init; } = $"{Environment.MachineName}:{Environment.ProcessId}:{Guid.NewGuid():N}";

    /// <summary>How long a claim holds rows; renewed (every third of it) while the sender lives. A dead sender's rows are taken over once it runs out.</summary>
    public TimeSpan Lease { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long the store may stay unavailable (sending paused) before the run ends with <see cref="DeliveryStop.StoreUnavailable"/>.</summary>
    public TimeSpan StoreOutageTimeout { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>Most rows held at once (queued and in flight), claimed again when half is left (0: eight times the number of connections, at least 64).</summary>
    public int ClaimBatch { get; init; }

    /// <summary>Signs every message; required when the campaign has a <c>dkim</c> section (keys are loaded by the caller, once).</summary>
    public Dkim.DkimSigner? Dkim { get; init; }

    /// <summary>Campaign-wide guards (bounce and complaint rates) that may pause the campaign; see <see cref="IDeliveryGuard"/>.</summary>
    public IReadOnlyList<IDeliveryGuard> Guards { get; init; } = [];

    /// <summary>Where the pause and relay health are recorded for <c>status</c>; null to record nothing (tests, demo).</summary>
    public ICampaignStateStore? State { get; init; }

    /// <summary>Receives every relay's SMTP conversation (<c>send --verbose</c>); null for none.</summary>
    public ISmtpTranscript? Transcript { get; init; }

    /// <summary>
    /// The envelope sender (MAIL FROM) of one recipient's message, for a variable envelope return path that names the
    /// recipient; null: the campaign's From address for every message.
    /// </summary>
    public Func<WorkItem, string>? ReturnPath { get; init; }
}

/// <summary>
/// Sends a planned campaign: claims rows, renders, marks each recipient <c>sending</c> durably before its MAIL FROM,
/// sends through the relay pool and records the classified outcome; group commits throughout.
/// </summary>
public sealed partial class DeliveryEngine
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
    // The first reason to pause wins; set by a relay leaving the rotation last, a guard, or another sender's pause.
    private string? _pauseReason;
    // Recipients that already had their one free retry of this run for a policy or temporary refusal (see Decide).
    private readonly ConcurrentDictionary<long, byte> _graced = new();

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

        var (total, sent, failed, inDoubt, skipped) = CurrentCounts(initial);
        return new DeliveryProgress(
            total, sent, failed, inDoubt, skipped,
            total - sent - failed - inDoubt - skipped,
            Interlocked.Read(ref _sentThisRun),
            _time.GetElapsedTime(_startTimestamp),
            _relays.Count(r => r.Breaker.IsOpen || r.IsOutOfRotation),
            [.. _relays.Select(r => r.Health)],
            _guard?.Problem,
            _workers,
            LostRows);
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

        var guard = NewGuard();
        try
        {
            await guard.CallAsync(ct => _store.RegisterWorkerAsync(WorkerInfo.ForThisProcess(_campaign.Id, _options.WorkerId), _options.Lease, ct), stopToken).ConfigureAwait(false);
        }
        catch (StoreOutageException ex)
        {
            return new DeliveryResult(DeliveryStop.StoreUnavailable, new StateCounts(_campaign.Id, 0, 0, 0, 0, 0, 0), 0, 0, ex.Message);
        }

        var recovered = (await guard.CallAsync(ct => _store.RecoverAsync(_campaign.Id, _options.WorkerId, ct), stopToken).ConfigureAwait(false)).InDoubt;
        _initial = await guard.CallAsync(ct => _store.GetCountsAsync(_campaign.Id, ct), stopToken).ConfigureAwait(false);
        Interlocked.Exchange(ref _recoveredAt, _time.GetTimestamp());
        // Running send again is how an operator continues a paused campaign.
        var resumed = _options.State is { } state
            ? await guard.CallAsync(ct => state.ResumeAsync(_campaign.Id, ct), stopToken).ConfigureAwait(false)
            : null;
        var runStart = _time.GetUtcNow();
        Touch();

        var health = new RelayHealthRecorder(_options.State, _campaign.Id);
        _relays = _campaign.Relays.Select(r => new RelayState(r, _campaign.Delivery, _time, health.Record)).ToArray();
        var connections = _relays.Sum(r => Math.Max(1, r.Options.Connections));
        // The feed refills at half of claimBatch, counting the rows in flight on the connections: with 2 × connections
        // the queue was empty at every refill, and on PostgreSQL connections waited for work ~20 % of a send during the
        // claims' round trips (docs/PERFORMANCE.md, "Claim batch"). 8 × connections leaves ~3 × connections queued at
        // each refill.
        var claimBatch = _options.ClaimBatch > 0 ? _options.ClaimBatch : Math.Max(64, connections * 8);
        // Never more than claimBatch items are outstanding, so putting one back never waits.
        var work = Channel.CreateBounded<WorkItem>(new BoundedChannelOptions(claimBatch) { SingleWriter = false });
        _work = work;

        using var halt = CancellationTokenSource.CreateLinkedTokenSource(stopToken);
        var stop = DeliveryStop.Completed;
        string? reason = null;
        StoreException? fatal = null;
        StateCounts counts;
        using var abandon = new CancellationTokenSource();
        var ledger = new Ledger(_store, _options.WorkerId, guard, _time, abandon.Token) { OnLost = LostIds };
        await using (health.ConfigureAwait(false))
        await using (ledger.ConfigureAwait(false))
        {
            var workers = new List<Task>();
            foreach (var relay in _relays)
            {
                for (var i = 0; i < Math.Max(1, relay.Options.Connections); i++)
                {
                    var number = i + 1;
                    workers.Add(Task.Run(() => WorkerAsync(relay, number, work.Reader, ledger, halt.Token), CancellationToken.None));
                }
            }

            var renew = RenewLeasesAsync(halt.Token);
            try
            {
                stop = await FeedAsync(work.Writer, ledger, claimBatch, runStart, halt.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (halt.IsCancellationRequested)
            {
                stop = DeliveryStop.Stopped;
            }
            catch (StoreOutageException ex)
            {
                stop = DeliveryStop.StoreUnavailable;
                reason = ex.Message;
            }
            catch (StoreException ex) when (!ex.IsTransient)
            {
                fatal = ex;
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

            if (stop == DeliveryStop.StoreUnavailable || fatal is not null)
            {
                // Outcomes not yet written stay `sending` (in_doubt after the next recovery): never sent twice.
                await abandon.CancelAsync().ConfigureAwait(false);
            }
            else if (guard.UnavailableSince is not null)
            {
                // Stopping while the store is away: a short chance to write what is in flight, then the same.
                abandon.CancelAfter(TimeSpan.FromSeconds(10));
            }

            // Outcomes first: a row whose outcome is written needs no release.
            await ledger.DisposeAsync().ConfigureAwait(false);
            counts = await SettleAsync(unsent).ConfigureAwait(false);
        }

        if (fatal is not null)
        {
            throw fatal;
        }

        if (stop == DeliveryStop.Completed && !counts.AllFinal)
        {
            stop = DeliveryStop.Stopped;
        }
        else if (stop == DeliveryStop.Paused && counts.AllFinal)
        {
            // Nothing is left to protect: the campaign is done, not paused.
            stop = DeliveryStop.Completed;
        }
        else if (stop == DeliveryStop.Paused)
        {
            reason = _pauseReason ?? RelayProblems();
            if (_options.State is { } pauses)
            {
                // Durable before the process says so: `status` in another process shows it, a new `send` clears it.
                await pauses.PauseAsync(_campaign.Id, new CampaignPause(reason, _time.GetUtcNow(), _options.WorkerId), CancellationToken.None).ConfigureAwait(false);
            }
        }
        else if (stop == DeliveryStop.Unreachable)
        {
            reason = RelayProblems();
        }

        return new DeliveryResult(stop, counts, recovered + (int)Interlocked.Read(ref _recoveredLater), ledger.Commits, reason, resumed);
    }

    private async Task<DeliveryStop> FeedAsync(ChannelWriter<WorkItem> work, Ledger ledger, int claimBatch, DateTimeOffset runStart, CancellationToken stopToken)
    {
        var nextPoll = _time.GetTimestamp();
        var peerLeaseExpired = false;
        while (!stopToken.IsCancellationRequested)
        {
            if (ledger.Fatal is { } fatal)
            {
                throw fatal;
            }

            if (_guard.OutageExpired)
            {
                throw _guard.Expired();
            }

            if (Volatile.Read(ref _pauseReason) is not null)
            {
                return DeliveryStop.Paused;
            }

            if (_relays.All(r => r.IsOutOfRotation))
            {
                RequestPause(RelayProblems());
                return DeliveryStop.Paused;
            }

            if (_time.GetElapsedTime(nextPoll) >= TimeSpan.Zero)
            {
                nextPoll = _time.GetTimestamp() + (long)(TimeSpan.FromSeconds(1).TotalSeconds * _time.TimestampFrequency);
                if (await PollGuardsAsync(runStart, stopToken).ConfigureAwait(false) is { } guardReason)
                {
                    RequestPause(guardReason);
                    return DeliveryStop.Paused;
                }
            }

            await RefreshAsync(peerLeaseExpired, stopToken).ConfigureAwait(false);
            peerLeaseExpired = false;

            // Refill at half capacity, in one round trip for many rows: never a claim per email.
            var nothingDue = false;
            var outstanding = Interlocked.Read(ref _outstanding);
            if (outstanding <= claimBatch / 2)
            {
                var items = await _guard.CallAsync(ct => _store.ClaimAsync(_campaign.Id, _options.WorkerId, claimBatch - (int)outstanding, _options.Lease, ct), stopToken).ConfigureAwait(false);
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
                // Asked on every wait while retries are not yet due: an index probe, not a count of every row.
                if (!await _guard.CallAsync(ct => _store.HasUnfinishedAsync(_campaign.Id, ct), stopToken).ConfigureAwait(false))
                {
                    return DeliveryStop.Completed;
                }
            }

            if (Interlocked.Read(ref _outstanding) > 0
                && _time.GetUtcNow().Ticks - Interlocked.Read(ref _lastProgressTicks) > _campaign.Delivery.UnreachableTimeout.Ticks
                // A relay never reached counts once an attempt failed (its connect is bounded by connect_timeout).
                && _relays.All(r => r.IsOutOfRotation || r.Breaker.IsOpen || (!r.EverConnected && r.Problem is not null)))
            {
                // Down relays may come back by themselves; one that refuses us needs a person: then it is a pause.
                if (_relays.Any(r => r.IsOutOfRotation))
                {
                    RequestPause(RelayProblems());
                    return DeliveryStop.Paused;
                }

                return DeliveryStop.Unreachable;
            }

            // Wait for a finished transaction (which frees a slot or schedules a retry) or for the next due row.
            var wait = TimeSpan.FromMilliseconds(250);
            if (nothingDue && await _guard.CallAsync(ct => _store.GetNextWorkAsync(_campaign.Id, _options.WorkerId, ct), stopToken).ConfigureAwait(false) is { Earliest: { } next } nextWork)
            {
                // Both times come from the store's clock: wait for their difference, whatever this machine's clock says.
                // Rows only peers hold: wait for their lease (they may finish them first), up to a second, never spin.
                var until = next - nextWork.Now;
                peerLeaseExpired = nextWork.PeerLeaseExpiresAt is { } peer && peer <= nextWork.Now;
                var most = Interlocked.Read(ref _outstanding) == 0 ? TimeSpan.FromSeconds(1) : wait;
                // A peer's lease that ran out is settled by the recovery of the next round: no need to hurry it.
                var least = peerLeaseExpired ? TimeSpan.FromMilliseconds(100) : TimeSpan.FromMilliseconds(5);
                wait = until < least ? least : (until < most ? until : most);
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
        var suppressed = await _guard.CallAsync(ct => _suppression.FindSuppressedAsync(items.Select(i => i.Email).ToList(), ct), cancellationToken).ConfigureAwait(false);
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

    private async Task WorkerAsync(RelayState relay, int number, ChannelReader<WorkItem> work, Ledger ledger, CancellationToken stopToken)
    {
        var connection = new RelayConnection(relay.Options, _campaign.Delivery, _campaign.From.Domain, _options.Dkim, _options.Transcript, number);
        await using (connection.ConfigureAwait(false))
        {
            // A pause stops every connection before its next message, not once the feed loop has acted on it: the
            // rows still queued go back to the pool with the others that never reached a connection.
            while (!stopToken.IsCancellationRequested && !relay.IsOutOfRotation && Volatile.Read(ref _pauseReason) is null)
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
                    relay.Connected();
                    Touch();
                }
                catch (RelayConnectException ex)
                {
                    // Nothing was sent and nothing was marked: the recipient goes back for any relay to take.
                    relay.ConnectFailed(ex.Message, ex.SenderSide, ex.Code);
                    PutBack(item);
                    _wake.Release();
                    return;
                }
                catch (Exception ex) when (ex is not OutOfMemoryException and not OperationCanceledException)
                {
                    relay.ConnectFailed(ex.Message, senderSide: false, null);
                    PutBack(item);
                    _wake.Release();
                    return;
                }
                catch (OperationCanceledException)
                {
                    PutBack(item);
                    return;
                }
            }

            if (relay.IsOutOfRotation)
            {
                PutBack(item);
                return;
            }

            var sender = _sender.Address;
            if (connection.CannotCarry(sender) is { } senderProblem)
            {
                // Nothing of this campaign can go through this relay: that is about the sender, not the recipient.
                relay.TakeOutOfRotation($"the sender {sender}: {senderProblem}");
                PutBack(item);
                _wake.Release();
                return;
            }

            if (connection.CannotCarry(item.Email) is { } problem)
            {
                Finish(ledger, new Outcome(item.Id, item.Token, DeliveryState.Skipped, null, problem, relay.Name, SkipReason: "unsendable:smtputf8"));
                return;
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

            if (!await MarkAsync(item, ledger, connection, stopToken).ConfigureAwait(false))
            {
                return;
            }

            var envelopeSender = _options.ReturnPath is { } returnPath ? new MailboxAddress((string?)null, returnPath(item)) : _sender;
            var result = await connection.SendAsync(message, envelopeSender, new MailboxAddress((string?)null, item.Email)).ConfigureAwait(false);
            if (result.Kind is AttemptKind.Delivered or AttemptKind.Rejected)
            {
                Touch();
            }

            var blame = ReplyClassifier.Classify(result);
            var outcome = Decide(result, item, relay, blame);
            Finish(ledger, outcome);
            if (relay.IsOutOfRotation)
            {
                _wake.Release();
            }

            foreach (var guard in _options.Guards)
            {
                if (guard.Observe(new AttemptObservation(item, result, blame, outcome.State, relay.Name)) is { } reason)
                {
                    RequestPause(reason);
                }
            }
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

    private Outcome Decide(AttemptResult result, WorkItem item, RelayState relayState, Blame blame)
    {
        var now = _time.GetUtcNow();
        var relay = relayState.Name;
        var tripped = relayState.Observe(result, blame);
        if (blame == Blame.Relay || tripped || (blame is Blame.Policy or Blame.Transient && relayState.IsOutOfRotation))
        {
            // About the sender or the relay, not the recipient: not failed, and the attempt does not count. Due now, for
            // another relay; when none is left the campaign pauses and this row waits for the next run.
            return new Outcome(item.Id, item.Token, DeliveryState.Pending, result.Code, result.Text, relay, now, Uncounted: true);
        }

        if (blame is Blame.Policy or Blame.Transient && _graced.TryAdd(item.Id, 0))
        {
            // One refusal may be the recipient's or the first of a block or storm: the first one of this run is free, so
            // a streak that then takes the relay out of rotation has cost its recipients nothing. A second refusal of
            // the same recipient is its own: the rules below apply.
            return new Outcome(item.Id, item.Token, DeliveryState.Pending, result.Code, result.Text, relay, now + _campaign.Retry.BackoffAfter(1), Uncounted: true);
        }

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
        // While its outcome is being written the row is not "lost" to a renewal that no longer finds it: the outcome
        // itself says whether it was (refused below) or ends the claim (written).
        _finishing.TryAdd(outcome.Claimed, 0);
        _ = ledger.RecordAsync(outcome).ContinueWith(
            recorded =>
            {
                switch (recorded.Result ? outcome.State : DeliveryState.Pending)
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

                if (!recorded.Result && !ledger.Abandoned)
                {
                    // Refused: another worker took the row (our outcome came too late), or the run ended first.
                    _lost.TryAdd(outcome.Claimed, 0);
                }

                _held.TryRemove(KeyValuePair.Create(outcome.Id, outcome.Claimed));
                _finishing.TryRemove(outcome.Claimed, out _);
                Interlocked.Decrement(ref _outstanding);
                _wake.Release();
            },
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }

    private void Touch() => Interlocked.Exchange(ref _lastProgressTicks, _time.GetUtcNow().Ticks);
}
