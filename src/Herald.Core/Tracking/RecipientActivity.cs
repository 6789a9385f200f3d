using Herald.Store;

namespace Herald.Tracking;

/// <summary>
/// Everything a report knows about one recipient, assembled by <see cref="RecipientActivityReader"/> from the store's
/// recipient-ordered streams. One instance is reused for every recipient: read it before moving on.
/// </summary>
internal sealed class RecipientActivity
{
    private readonly List<EventFlags> _derived = [];

    public string RecipientId { get; private set; } = string.Empty;

    /// <summary>The recipient's ledger rows (usually one; duplicates skipped in the plan share the id).</summary>
    public List<LedgerEntry> Ledger { get; } = [];

    public OpenSummary? Opens { get; set; }

    /// <summary>Set when the recipient has more clicks than the report examines: counted by the store, not streamed.</summary>
    public HeavyRecipient? HeavyClicks { get; set; }

    /// <summary>The recipient's clicks in time order (empty when <see cref="HeavyClicks"/> is set).</summary>
    public List<ClickRow> Clicks { get; } = [];

    public UnsubscribeRow? Unsubscribe { get; set; }

    /// <summary>Hard when the recipient bounced hard at least once, else soft when it bounced soft; null without a bounce (read by the export only).</summary>
    public BounceType? Bounce { get; private set; }

    /// <summary>The status code of the latest bounce of type <see cref="Bounce"/>.</summary>
    public string? BounceCode { get; private set; }

    public bool Complained { get; private set; }

    /// <summary>A bot as a whole: more opens or clicks than <see cref="EngagementOptions.MaxEventsPerRecipient"/>.</summary>
    public bool VolumeBot { get; private set; }

    /// <summary>When the relay accepted the recipient's message; null when it was not sent (or the store has no ledger).</summary>
    public DateTimeOffset? DeliveredAt { get; private set; }

    public long HumanOpens { get; private set; }

    public long HumanClicks { get; private set; }

    public DateTimeOffset? FirstHumanClickAt { get; private set; }

    public long ClickCount => HeavyClicks?.Count ?? Clicks.Count;

    public DateTimeOffset? FirstClickAt => HeavyClicks?.FirstAt ?? (Clicks.Count > 0 ? Clicks[0].At : null);

    public bool Opened => Opens is not null;

    public bool Clicked => ClickCount > 0;

    public bool HumanOpened => HumanOpens > 0;

    public bool HumanClicked => HumanClicks > 0;

    /// <summary>The flags the classification added to click <paramref name="index"/>.</summary>
    public EventFlags Derived(int index) => _derived[index];

    /// <summary>True when click <paramref name="index"/> counts as human.</summary>
    public bool IsHuman(int index) => !VolumeBot && Clicks[index].Flags == EventFlags.None && _derived[index] == EventFlags.None;

    internal void Reset(string recipientId)
    {
        RecipientId = recipientId;
        Ledger.Clear();
        Clicks.Clear();
        Opens = null;
        HeavyClicks = null;
        Unsubscribe = null;
        Bounce = null;
        BounceCode = null;
        Complained = false;
    }

    /// <summary>Adds one bounce event; events come in time order, so the latest of the winning type gives the code.</summary>
    internal void AddBounce(BounceRow row)
    {
        switch (row.Type)
        {
            case BounceType.Complaint:
                Complained = true;
                break;
            case BounceType.Hard:
            case BounceType.Soft when Bounce != BounceType.Hard:
                Bounce = row.Type;
                BounceCode = row.Code;
                break;
            default:
                break;
        }
    }

    /// <summary>Applies the bot rules once every stream has contributed; <paramref name="deliveredAt"/> unless the ledger rows say.</summary>
    internal void Complete(ClickClassifier classifier, int maxEvents, DateTimeOffset? deliveredAt)
    {
        DeliveredAt = deliveredAt;
        foreach (var row in Ledger)
        {
            if (row.State == DeliveryState.Sent)
            {
                DeliveredAt = row.UpdatedAt;
                break;
            }
        }

        VolumeBot = HeavyClicks is not null || Opens?.Opens > maxEvents || Clicks.Count > maxEvents;
        HumanOpens = VolumeBot || Opens is not { } opens ? 0 : opens.Unflagged;
        _derived.Clear();
        HumanClicks = 0;
        FirstHumanClickAt = null;
        if (Clicks.Count == 0)
        {
            return;
        }

        System.Runtime.InteropServices.CollectionsMarshal.SetCount(_derived, Clicks.Count);
        if (VolumeBot)
        {
            // Not examined one by one: a bot as a whole.
            return;
        }

        classifier.Classify(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(Clicks), DeliveredAt, System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_derived));
        for (var i = 0; i < Clicks.Count; i++)
        {
            if (IsHuman(i))
            {
                HumanClicks++;
                FirstHumanClickAt ??= Clicks[i].At;
            }
        }
    }
}

/// <summary>
/// Merges the store's recipient-ordered streams (opens, clicks, unsubscribes, the ledger when its rows are wanted, and
/// the heavy clickers counted by the store) into one <see cref="RecipientActivity"/> per recipient. Memory is one
/// recipient's clicks at a time, at most <see cref="EngagementOptions.MaxEventsPerRecipient"/> of them, plus the
/// delivery times when the caller passes them as a map instead of streaming them (the engaged recipients' ones, or the
/// ledger in recipient order).
/// </summary>
internal sealed class RecipientActivityReader : IAsyncDisposable
{
    private readonly PrefetchedStream<LedgerEntry>? _ledger;
    private readonly PrefetchedStream<BounceRow>? _bounces;
    private readonly PrefetchedStream<OpenSummary> _opens;
    private readonly PrefetchedStream<ClickRow> _clicks;
    private readonly PrefetchedStream<UnsubscribeRow> _unsubscribes;
    private readonly PrefetchedStream<DeliveredRow>? _deliveries;
    private readonly IReadOnlyList<HeavyRecipient> _heavy;
    private readonly ClickClassifier _classifier;
    private readonly int _maxEvents;
    private readonly Task<DeliveryTimes>? _deliveredTask;
    private DeliveryTimes? _delivered;
    private readonly RecipientActivity _current = new();
    private int _heavyIndex;
    private string? _previous;

    private RecipientActivityReader(
        PrefetchedStream<LedgerEntry>? ledger, PrefetchedStream<BounceRow>? bounces, PrefetchedStream<OpenSummary> opens, PrefetchedStream<ClickRow> clicks,
        PrefetchedStream<UnsubscribeRow> unsubscribes, PrefetchedStream<DeliveredRow>? deliveries, IReadOnlyList<HeavyRecipient> heavy,
        EngagementOptions options, Task<DeliveryTimes>? delivered)
    {
        _deliveredTask = delivered;
        _deliveries = deliveries;
        _ledger = ledger;
        _bounces = bounces;
        _opens = opens;
        _clicks = clicks;
        _unsubscribes = unsubscribes;
        _heavy = heavy;
        _classifier = new ClickClassifier(options);
        _maxEvents = options.MaxEventsPerRecipient;
    }

    public RecipientActivity Current => _current;

    /// <summary>
    /// Starts the streams of <paramref name="window"/>. <paramref name="heavy"/> are the recipients past the threshold
    /// (from <see cref="IReportStore.FindHeavyClickersAsync"/>), by recipient; their clicks are not streamed. The
    /// delivery times come from <paramref name="delivered"/> when given (awaited at the first move: the streams start
    /// reading ahead while the map is still being read), else with <paramref name="engagedDeliveries"/> from
    /// <see cref="IReportStore.ReadEngagedDeliveriesAsync"/> streamed beside the events, else from the ledger rows
    /// (with details) streamed by recipient, which also yields the recipients without any event, and then the bounce
    /// events are streamed too (the export).
    /// </summary>
    public static async Task<RecipientActivityReader> OpenAsync(
        IReportStore store, EventWindow window, Task<DeliveryTimes>? delivered, bool engagedDeliveries, IReadOnlyList<HeavyRecipient> heavy,
        IReadOnlySet<int>? withTarget, EngagementOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(window);
        ArgumentNullException.ThrowIfNull(heavy);
        var started = new List<IAsyncDisposable>();
        try
        {
            var export = delivered is null && !engagedDeliveries;
            var ledger = export
                ? await Track(PrefetchedStream<LedgerEntry>.StartAsync(store.ReadLedgerAsync(window.CampaignId, details: true, cancellationToken), cancellationToken)).ConfigureAwait(false)
                : null;
            var bounces = export
                ? await Track(PrefetchedStream<BounceRow>.StartAsync(store.ReadBouncesAsync(window.CampaignId, cancellationToken), cancellationToken)).ConfigureAwait(false)
                : null;
            var opens = await Track(PrefetchedStream<OpenSummary>.StartAsync(store.ReadOpenSummariesAsync(window, cancellationToken), cancellationToken)).ConfigureAwait(false);
            var clicks = await Track(PrefetchedStream<ClickRow>.StartAsync(
                store.ReadClicksAsync(window, [.. heavy.Select(h => h.RecipientId)], withTarget, cancellationToken), cancellationToken)).ConfigureAwait(false);
            var unsubscribes = await Track(PrefetchedStream<UnsubscribeRow>.StartAsync(store.ReadUnsubscribesAsync(window, cancellationToken), cancellationToken)).ConfigureAwait(false);
            var deliveries = delivered is null && engagedDeliveries
                ? await Track(PrefetchedStream<DeliveredRow>.StartAsync(store.ReadEngagedDeliveriesAsync(window, cancellationToken), cancellationToken)).ConfigureAwait(false)
                : null;
            return new RecipientActivityReader(ledger, bounces, opens, clicks, unsubscribes, deliveries, heavy, options, delivered);
        }
        catch
        {
            foreach (var stream in started)
            {
                await stream.DisposeAsync().ConfigureAwait(false);
            }

            throw;
        }

        async Task<PrefetchedStream<T>> Track<T>(Task<PrefetchedStream<T>> starting)
        {
            var stream = await starting.ConfigureAwait(false);
            started.Add(stream);
            return stream;
        }
    }

    /// <summary>Moves to the next recipient with a ledger row or an event; false at the end.</summary>
    public async ValueTask<bool> MoveNextAsync()
    {
        if (_delivered is null && _deliveredTask is not null)
        {
            _delivered = await _deliveredTask.ConfigureAwait(false);
        }

        var next = Smallest();
        if (next is null)
        {
            return false;
        }

        if (_previous is not null && RecipientOrder.Instance.Compare(_previous, next) >= 0)
        {
            throw new InvalidOperationException($"The store returned recipients out of order ('{_previous}' then '{next}').");
        }

        _previous = next;
        _current.Reset(next);
        if (_ledger is not null)
        {
            while (_ledger.HasCurrent && Same(_ledger.Current.RecipientId, next))
            {
                _current.Ledger.Add(_ledger.Current);
                await _ledger.MoveNextAsync().ConfigureAwait(false);
            }
        }

        if (_bounces is not null)
        {
            while (_bounces.HasCurrent && Same(_bounces.Current.RecipientId, next))
            {
                _current.AddBounce(_bounces.Current);
                await _bounces.MoveNextAsync().ConfigureAwait(false);
            }
        }

        if (_opens.HasCurrent && Same(_opens.Current.RecipientId, next))
        {
            _current.Opens = _opens.Current;
            await _opens.MoveNextAsync().ConfigureAwait(false);
        }

        while (_clicks.HasCurrent && Same(_clicks.Current.RecipientId, next))
        {
            _current.Clicks.Add(_clicks.Current);
            await _clicks.MoveNextAsync().ConfigureAwait(false);
        }

        if (_unsubscribes.HasCurrent && Same(_unsubscribes.Current.RecipientId, next))
        {
            _current.Unsubscribe = _unsubscribes.Current;
            await _unsubscribes.MoveNextAsync().ConfigureAwait(false);
        }

        if (_heavyIndex < _heavy.Count && Same(_heavy[_heavyIndex].RecipientId, next))
        {
            _current.HeavyClicks = _heavy[_heavyIndex++];
        }

        _current.Complete(_classifier, _maxEvents, await DeliveredAtAsync(next).ConfigureAwait(false));
        return true;
    }

    public async ValueTask DisposeAsync()
    {
        if (_ledger is not null)
        {
            await _ledger.DisposeAsync().ConfigureAwait(false);
        }

        if (_bounces is not null)
        {
            await _bounces.DisposeAsync().ConfigureAwait(false);
        }

        await _opens.DisposeAsync().ConfigureAwait(false);
        await _clicks.DisposeAsync().ConfigureAwait(false);
        await _unsubscribes.DisposeAsync().ConfigureAwait(false);
        if (_deliveries is not null)
        {
            await _deliveries.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The recipient's delivery time from the map, or from the delivery stream: it holds only recipients with an event
    /// and never starts one (a row it has before <paramref name="recipient"/> belongs to no event of this report).
    /// </summary>
    private async ValueTask<DateTimeOffset?> DeliveredAtAsync(string recipient)
    {
        if (_delivered is not null)
        {
            return _delivered.TryGetValue(recipient, out var at) ? at : null;
        }

        if (_deliveries is null)
        {
            return null;
        }

        while (_deliveries.HasCurrent && RecipientOrder.Instance.Compare(_deliveries.Current.RecipientId, recipient) < 0)
        {
            await _deliveries.MoveNextAsync().ConfigureAwait(false);
        }

        if (_deliveries.HasCurrent && Same(_deliveries.Current.RecipientId, recipient))
        {
            var at = _deliveries.Current.At;
            await _deliveries.MoveNextAsync().ConfigureAwait(false);
            return at;
        }

        return null;
    }

    private string? Smallest()
    {
        string? smallest = null;
        Consider(_ledger is { HasCurrent: true } ? _ledger.Current.RecipientId : null);
        Consider(_bounces is { HasCurrent: true } ? _bounces.Current.RecipientId : null);
        Consider(_opens.HasCurrent ? _opens.Current.RecipientId : null);
        Consider(_clicks.HasCurrent ? _clicks.Current.RecipientId : null);
        Consider(_unsubscribes.HasCurrent ? _unsubscribes.Current.RecipientId : null);
        Consider(_heavyIndex < _heavy.Count ? _heavy[_heavyIndex].RecipientId : null);
        return smallest;

        void Consider(string? candidate)
        {
            if (candidate is not null && (smallest is null || RecipientOrder.Instance.Compare(candidate, smallest) < 0))
            {
                smallest = candidate;
            }
        }
    }

    private static bool Same(string a, string b) => string.Equals(a, b, StringComparison.Ordinal);
}
