using System.Data.Common;
using System.Globalization;
using Herald.Campaigns;
using Herald.Delivery;
using Herald.Store;

namespace Herald.Bounces;

/// <summary>
/// Pauses a campaign whose list is burning the sender's reputation (docs/DELIVERY.md, "Reputation guards"):
/// <list type="bullet">
/// <item>hard bounces: more than <see cref="BounceOptions.PauseAtHardBounceRate"/> of this run's last
/// <see cref="BounceOptions.HardBounceWindow"/> final attempts, counting a synchronous hard refusal at once and an
/// asynchronous one (a DSN stored by <c>herald bounces</c>) once the store reports it; applies from
/// <see cref="MinimumAttempts"/> attempts (or the whole window, when smaller).</item>
/// <item>complaints: the campaign's complaints reach <see cref="BounceOptions.PauseAtComplaintRate"/> of its delivered
/// messages; applies from <see cref="MinimumDelivered"/> delivered.</item>
/// </list>
/// The window starts empty with each run: an operator who continues a paused campaign has fixed the list, and
/// attempts of before do not speak against the new ones. For the same reason, a run that continues a complaint pause
/// takes the complaints already in as seen: it pauses again at the next complaint while the rate is still over.
/// Asks the store at most once per poll (one round trip, at most <see cref="LookupBatch"/> recipients); a store that
/// fails or is slow only skips that poll.
/// </summary>
public sealed class BounceRateGuard : IDeliveryGuard
{
    /// <summary>The hard-bounce rule applies once the window has this many attempts (or is full, when smaller).</summary>
    public const int MinimumAttempts = 100;

    /// <summary>The complaint rule applies once the campaign has delivered this many messages.</summary>
    public const int MinimumDelivered = 500;

    /// <summary>Recipients asked about per poll: a window larger than this is covered over several polls.</summary>
    public const int LookupBatch = 1000;

    private const string ComplaintPrefix = "complaint rate ";
    private static readonly TimeSpan PollInterval = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan PollTimeout = TimeSpan.FromSeconds(5);

    private readonly string _campaignId;
    private readonly double? _hardRate;
    private readonly double? _complaintRate;
    private readonly IBounceStore _bounces;
    private readonly Func<CancellationToken, Task<long>> _delivered;
    private readonly TimeProvider _time;
    private readonly HardBounceWindow _window;
    private readonly bool _continuesComplaintPause;
    private long _deliveredThisRun;
    private long? _deliveredBefore;
    private long _deliveredThisRunAtRead;
    private long _complaintsSeen;
    private int _lookupStart;
    private bool _complaintTurn;
    private DateTimeOffset _nextQuery = DateTimeOffset.MinValue;

    /// <param name="delivered">The campaign's delivered (sent) count in the ledger, over every run and sender.</param>
    /// <param name="continuesComplaintPause">This run continues a pause this guard made for complaints (<see cref="IsComplaintPause"/>).</param>
    public BounceRateGuard(string campaignId, BounceOptions options, IBounceStore bounces, Func<CancellationToken, Task<long>> delivered, bool continuesComplaintPause, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _campaignId = campaignId;
        _hardRate = options.PauseAtHardBounceRate;
        _complaintRate = options.PauseAtComplaintRate;
        _bounces = bounces;
        _delivered = delivered;
        _continuesComplaintPause = continuesComplaintPause;
        _time = time ?? TimeProvider.System;
        _window = new HardBounceWindow(options.HardBounceWindow);
    }

    /// <summary>False when both thresholds are <c>off</c>: nothing to guard.</summary>
    public static bool IsNeeded(BounceOptions options) =>
        options is not null && (options.PauseAtHardBounceRate is not null || options.PauseAtComplaintRate is not null);

    /// <summary>True for a pause this guard made for the complaint rate.</summary>
    public static bool IsComplaintPause(string? reason) => reason?.StartsWith(ComplaintPrefix, StringComparison.Ordinal) == true;

    private int MinimumSample => Math.Min(_window.Size, MinimumAttempts);

    public string? Observe(AttemptObservation attempt)
    {
        ArgumentNullException.ThrowIfNull(attempt);
        if (attempt.State is not (DeliveryState.Sent or DeliveryState.Failed or DeliveryState.InDoubt))
        {
            // Retried later (or not about the recipient): only an attempt's final outcome counts, once.
            return null;
        }

        if (attempt.State == DeliveryState.Sent)
        {
            Interlocked.Increment(ref _deliveredThisRun);
        }

        if (_hardRate is null)
        {
            return null;
        }

        var hard = attempt.State == DeliveryState.Failed && attempt.Result.Code is { } code
            && BounceClassifier.ClassifyReply(code, attempt.Result.Text)?.Type == BounceType.Hard;
        _window.Add(attempt.Item.RecipientId, hard);
        return HardBounceReason();
    }

    public async ValueTask<string?> PollAsync(CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        if (now < _nextQuery)
        {
            return null;
        }

        _nextQuery = now + PollInterval;
        var hardDue = _hardRate is not null && _window.Counts().Attempts >= MinimumSample;
        var complaintDue = _complaintRate is not null;
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bounded.CancelAfter(PollTimeout);
        try
        {
            // One question per poll: the two rules take turns when both are on.
            if (hardDue && !(complaintDue && _complaintTurn))
            {
                _complaintTurn = true;
                return await CheckAsyncBouncesAsync(bounded.Token).ConfigureAwait(false);
            }

            _complaintTurn = false;
            return complaintDue ? await CheckComplaintsAsync(bounded.Token).ConfigureAwait(false) : null;
        }
        catch (Exception ex) when (ex is StoreException or DbException or TimeoutException
            || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            // The guard only looks: the ledger decides what is sent, and the next poll asks again.
            return null;
        }
    }

    private async Task<string?> CheckAsyncBouncesAsync(CancellationToken cancellationToken)
    {
        var (ids, next) = _window.Recipients(_lookupStart, LookupBatch);
        var found = await _bounces.FindRecipientsWithAsync(_campaignId, BounceType.Hard, ids, cancellationToken).ConfigureAwait(false);
        _lookupStart = next;
        _window.MarkReported(found);
        return HardBounceReason();
    }

    private async Task<string?> CheckComplaintsAsync(CancellationToken cancellationToken)
    {
        if (_deliveredBefore is null)
        {
            // Once per run: what earlier runs (and other senders) delivered; this run's deliveries are counted as seen.
            var observed = Interlocked.Read(ref _deliveredThisRun);
            var before = await _delivered(cancellationToken).ConfigureAwait(false) - observed;
            if (_continuesComplaintPause)
            {
                _complaintsSeen = (await _bounces.GetCountsAsync(_campaignId, cancellationToken).ConfigureAwait(false)).Complaints;
            }

            (_deliveredBefore, _deliveredThisRunAtRead) = (before, observed);
            return null;
        }

        var delivered = _deliveredBefore.Value + Interlocked.Read(ref _deliveredThisRun) - _deliveredThisRunAtRead;
        if (delivered < MinimumDelivered)
        {
            return null;
        }

        var complaints = (await _bounces.GetCountsAsync(_campaignId, cancellationToken).ConfigureAwait(false)).Complaints;
        if (complaints <= _complaintsSeen || !Reaches(complaints, delivered))
        {
            return null;
        }

        // About to pause: the ledger's own count (other senders deliver too) decides.
        delivered = await _delivered(cancellationToken).ConfigureAwait(false);
        (_deliveredBefore, _deliveredThisRunAtRead) = (delivered - Interlocked.Read(ref _deliveredThisRun), Interlocked.Read(ref _deliveredThisRun));
        if (delivered < MinimumDelivered || !Reaches(complaints, delivered))
        {
            return null;
        }

        return string.Create(CultureInfo.InvariantCulture,
            $"{ComplaintPrefix}{Percent(complaints, delivered)} % ({complaints:N0} of {delivered:N0} delivered; limit {Limit(_complaintRate!.Value)} %)");
    }

    private bool Reaches(long complaints, long delivered) =>
        // "Reaches": at or over the limit; the tolerance absorbs the limit's binary rounding (0.3 % is not exact).
        complaints >= _complaintRate!.Value * delivered * (1 - 1e-9);

    private string? HardBounceReason()
    {
        var (attempts, hard) = _window.Counts();
        // "Passes": strictly over the limit (50 of 1,000 at 5 % does not pause; 51 does).
        if (_hardRate is not { } rate || attempts < MinimumSample || hard <= rate * attempts * (1 + 1e-9))
        {
            return null;
        }

        return string.Create(CultureInfo.InvariantCulture,
            $"hard-bounce rate {Percent(hard, attempts)} % over the last {attempts:N0} attempts (limit {Limit(rate)} %)");
    }

    private static string Percent(long part, long whole) =>
        (100.0 * part / whole).ToString("0.0#", CultureInfo.InvariantCulture);

    private static string Limit(double rate) => (rate * 100).ToString("0.###", CultureInfo.InvariantCulture);
}
