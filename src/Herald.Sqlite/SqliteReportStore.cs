using System.Runtime.CompilerServices;
using System.Text.Json;
using Herald.Store;
using Microsoft.Data.Sqlite;

namespace Herald.Sqlite;

/// <summary>
/// Reports over the SQLite file that holds the ledger and the tracking events. Every query reads one covering index
/// in its order (no sort of the campaign's events) and is interrupted when its cancellation token fires.
/// </summary>
public sealed partial class SqliteReportStore : IReportStore
{
    private readonly string _path;
    private readonly string _connectionString;

    /// <param name="path">The database file; it must exist (a report never creates a store).</param>
    public SqliteReportStore(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        _path = path;
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWrite,
            Pooling = true,
            // The provider retries a locked database for this many seconds without looking at the cancellation token;
            // one second keeps a stop prompt, the retry loop here does the rest of the waiting. (It also gives these
            // connections a pool of their own: disposing it never closes another store's connections.)
            DefaultTimeout = 1,
        }.ToString();
    }

    public async Task MigrateAsync(CancellationToken cancellationToken)
    {
        // The indexes are on the tracking tables: those are created by their own store first.
        var tracking = new SqliteTrackingStore(_path);
        await using (tracking.ConfigureAwait(false))
        {
            await tracking.MigrateAsync(cancellationToken).ConfigureAwait(false);
        }

        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await ExecuteAsync(connection, Schema, cancellationToken).ConfigureAwait(false);
    }

    // The two covering indexes every report query reads in order: by recipient (per-recipient summaries, the click
    // classification stream) and by time (timelines, the events export). The target is last so that clicks carry it
    // and opens (no target) cost nothing for it. They replace the narrower (campaign, recipient) index.
    private const string Schema = """
        CREATE TABLE IF NOT EXISTS report_links (
            campaign      TEXT NOT NULL,
            link          INTEGER NOT NULL,
            label         TEXT NOT NULL,
            static_target TEXT,
            PRIMARY KEY (campaign, link)
        ) WITHOUT ROWID;
        CREATE INDEX IF NOT EXISTS tracking_events_by_kind_recipient ON tracking_events (campaign, kind, recipient, at, link, flags, target);
        CREATE INDEX IF NOT EXISTS tracking_events_by_kind_time ON tracking_events (campaign, kind, at, flags);
        DROP INDEX IF EXISTS tracking_events_by_recipient;
        """;

    public async Task SaveLinksAsync(string campaignId, IReadOnlyList<LinkDefinition> links, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(links);
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await using (var delete = connection.CreateCommand())
        {
            delete.Transaction = transaction;
            delete.CommandText = "DELETE FROM report_links WHERE campaign = $c;";
            delete.Parameters.AddWithValue("$c", campaignId);
            await delete.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await using (var insert = connection.CreateCommand())
        {
            insert.Transaction = transaction;
            insert.CommandText = "INSERT INTO report_links (campaign, link, label, static_target) VALUES ($c, $n, $l, $t);";
            insert.Parameters.AddWithValue("$c", campaignId);
            var number = insert.Parameters.Add("$n", SqliteType.Integer);
            var label = insert.Parameters.Add("$l", SqliteType.Text);
            var target = insert.Parameters.Add("$t", SqliteType.Text);
            foreach (var link in links)
            {
                number.Value = link.Number;
                label.Value = link.Label;
                target.Value = (object?)link.StaticTarget ?? DBNull.Value;
                await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<LinkDefinition>> GetLinksAsync(string campaignId, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        if (!await TableExistsAsync(connection, "report_links", cancellationToken).ConfigureAwait(false))
        {
            return [];
        }

        var links = new List<LinkDefinition>();
        await using var command = Command(connection, "SELECT link, label, static_target FROM report_links WHERE campaign = $c ORDER BY link;", campaignId);
        await using var reader = await ExecuteReaderAsync(command, cancellationToken).ConfigureAwait(false);
        while (Read(reader, cancellationToken))
        {
            links.Add(new LinkDefinition(reader.GetInt32(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2)));
        }

        return links;
    }

    public async Task<IReadOnlyList<CampaignListing>> ListCampaignsAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        var hasLedger = await TableExistsAsync(connection, "plans", cancellationToken).ConfigureAwait(false);
        var hasEvents = await TableExistsAsync(connection, "tracking_events", cancellationToken).ConfigureAwait(false);
        var ids = new SortedSet<string>(StringComparer.Ordinal);
        if (hasLedger)
        {
            await using var plans = Command(connection, "SELECT campaign FROM plans;", null);
            await using var reader = await ExecuteReaderAsync(plans, cancellationToken).ConfigureAwait(false);
            while (Read(reader, cancellationToken))
            {
                ids.Add(reader.GetString(0));
            }
        }

        if (hasEvents)
        {
            // A skip scan over the leading index column: one seek per campaign, not one step per event.
            await using var campaigns = Command(connection, """
                WITH RECURSIVE c(id) AS (
                    SELECT (SELECT MIN(campaign) FROM tracking_events)
                    UNION ALL
                    SELECT (SELECT MIN(campaign) FROM tracking_events WHERE campaign > c.id) FROM c WHERE c.id IS NOT NULL)
                SELECT id FROM c WHERE id IS NOT NULL;
                """, null);
            await using var reader = await ExecuteReaderAsync(campaigns, cancellationToken).ConfigureAwait(false);
            while (Read(reader, cancellationToken))
            {
                ids.Add(reader.GetString(0));
            }
        }

        var result = new List<CampaignListing>(ids.Count);
        foreach (var id in ids)
        {
            DateTimeOffset? planned = null;
            long recipients = 0, sent = 0, opens = 0, clicks = 0, unsubscribes = 0;
            DateTimeOffset? last = null;
            if (hasLedger)
            {
                await using var command = Command(connection, """
                    SELECT (SELECT created_at FROM plans WHERE campaign = $c),
                           (SELECT COUNT(*) FROM recipients WHERE campaign = $c),
                           (SELECT COUNT(*) FROM recipients WHERE campaign = $c AND state = 2);
                    """, id);
                await using var reader = await ExecuteReaderAsync(command, cancellationToken).ConfigureAwait(false);
                if (Read(reader, cancellationToken))
                {
                    planned = reader.IsDBNull(0) ? null : FromMs(reader.GetInt64(0));
                    recipients = reader.GetInt64(1);
                    sent = reader.GetInt64(2);
                }
            }

            if (hasEvents)
            {
                // The event counts from the minute rollup when the store keeps it (a few rows per minute of the campaign).
                var (count, source) = await UsesRollupsAsync(connection, new EventWindow(id), cancellationToken).ConfigureAwait(false)
                    ? ("IFNULL(SUM(events), 0)", "rollup_minutes")
                    : ("COUNT(*)", "tracking_events");
                await using var command = Command(connection, $"""
                    SELECT (SELECT {count} FROM {source} WHERE campaign = $c AND kind = 1),
                           (SELECT {count} FROM {source} WHERE campaign = $c AND kind = 2),
                           (SELECT COUNT(*) FROM (SELECT DISTINCT recipient FROM tracking_events WHERE campaign = $c AND kind = 3)),
                           MAX(IFNULL((SELECT MAX(at) FROM tracking_events WHERE campaign = $c AND kind = 1), 0),
                               IFNULL((SELECT MAX(at) FROM tracking_events WHERE campaign = $c AND kind = 2), 0),
                               IFNULL((SELECT MAX(at) FROM tracking_events WHERE campaign = $c AND kind = 3), 0));
                    """, id);
                await using var reader = await ExecuteReaderAsync(command, cancellationToken).ConfigureAwait(false);
                if (Read(reader, cancellationToken))
                {
                    opens = reader.GetInt64(0);
                    clicks = reader.GetInt64(1);
                    unsubscribes = reader.GetInt64(2);
                    last = reader.GetInt64(3) is > 0 and var ticks ? FromTicks(ticks) : null;
                }
            }

            result.Add(new CampaignListing(id, planned, recipients, sent, opens, clicks, unsubscribes, last));
        }

        return result;
    }

    public async Task<DeliveryFacts?> GetDeliveryAsync(string campaignId, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        if (!await TableExistsAsync(connection, "plans", cancellationToken).ConfigureAwait(false))
        {
            return null;
        }

        DateTimeOffset planned;
        await using (var plan = Command(connection, "SELECT created_at FROM plans WHERE campaign = $c;", campaignId))
        {
            if (await ExecuteScalarAsync(plan, cancellationToken).ConfigureAwait(false) is not long createdAt)
            {
                return null;
            }

            planned = FromMs(createdAt);
        }

        var counts = new long[6];
        await using (var states = Command(connection, "SELECT state, COUNT(*) FROM recipients WHERE campaign = $c GROUP BY state;", campaignId))
        {
            await using var reader = await ExecuteReaderAsync(states, cancellationToken).ConfigureAwait(false);
            while (Read(reader, cancellationToken))
            {
                var state = reader.GetInt32(0);
                if (state is >= 0 and < 6)
                {
                    counts[state] = reader.GetInt64(1);
                }
            }
        }

        var failures = new List<FailureCount>();
        await using (var failed = Command(connection, """
            SELECT smtp_code, MIN(smtp_text), COUNT(*) FROM recipients WHERE campaign = $c AND state = 3
            GROUP BY smtp_code ORDER BY COUNT(*) DESC, smtp_code;
            """, campaignId))
        {
            await using var reader = await ExecuteReaderAsync(failed, cancellationToken).ConfigureAwait(false);
            while (Read(reader, cancellationToken))
            {
                failures.Add(new FailureCount(reader.IsDBNull(0) ? null : reader.GetInt32(0), reader.IsDBNull(1) ? null : reader.GetString(1), reader.GetInt64(2)));
            }
        }

        var skips = new SortedDictionary<string, long>(StringComparer.Ordinal);
        await using (var skipped = Command(connection, "SELECT IFNULL(skip_reason, 'unknown'), COUNT(*) FROM recipients WHERE campaign = $c AND state = 5 GROUP BY 1;", campaignId))
        {
            await using var reader = await ExecuteReaderAsync(skipped, cancellationToken).ConfigureAwait(false);
            while (Read(reader, cancellationToken))
            {
                skips[reader.GetString(0)] = reader.GetInt64(1);
            }
        }

        return new DeliveryFacts(planned, counts[0], counts[1], counts[2], counts[3], counts[4], counts[5], failures, skips);
    }

    public async IAsyncEnumerable<DeliveredRow> ReadDeliveredAsync(string campaignId, int part, int parts, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ReportRanges.CheckPart(part, parts);
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        if (!await TableExistsAsync(connection, "recipients", cancellationToken).ConfigureAwait(false))
        {
            yield break;
        }

        // The sent rows' id span (two seeks into the work index), cut into ranges; each range is read front to back on the
        // work index, not by random lookups.
        long min, max;
        await using (var span = Command(connection, "SELECT MIN(id), MAX(id) FROM recipients WHERE campaign = $c AND state = 2;", campaignId))
        {
            await using var r = await ExecuteReaderAsync(span, cancellationToken).ConfigureAwait(false);
            if (!Read(r, cancellationToken) || r.IsDBNull(0))
            {
                yield break;
            }

            (min, max) = (r.GetInt64(0), r.GetInt64(1));
        }

        var (from, to) = ReportRanges.PlanPart(min, max, part, parts);
        await using var command = Command(connection, "SELECT recipient_id, updated_at FROM recipients WHERE campaign = $c AND state = 2 AND id >= $lo AND id < $hi ORDER BY id;", campaignId);
        command.Parameters.AddWithValue("$lo", from);
        command.Parameters.AddWithValue("$hi", to);
        await using var reader = await ExecuteReaderAsync(command, cancellationToken).ConfigureAwait(false);
        while (Read(reader, cancellationToken))
        {
            yield return new DeliveredRow(reader.GetString(0), FromMs(reader.GetInt64(1)));
        }
    }

    public async Task<EventSpan?> GetDeliverySpanAsync(string campaignId, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        if (!await TableExistsAsync(connection, "recipients", cancellationToken).ConfigureAwait(false))
        {
            return null;
        }

        await using var command = Command(connection, "SELECT MIN(updated_at), MAX(updated_at) FROM recipients WHERE campaign = $c AND state = 2;", campaignId);
        await using var reader = await ExecuteReaderAsync(command, cancellationToken).ConfigureAwait(false);
        return Read(reader, cancellationToken) && !reader.IsDBNull(0)
            ? new EventSpan(FromMs(reader.GetInt64(0)), FromMs(reader.GetInt64(1)))
            : null;
    }

    public async Task<bool> PrefersEngagedDeliveriesAsync(EventWindow window, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(window);
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        return await UsesDeliveryTimesAsync(connection, window, cancellationToken).ConfigureAwait(false);
    }

    public async IAsyncEnumerable<DeliveredRow> ReadEngagedDeliveriesAsync(EventWindow window, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(window);
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        if (!await TableExistsAsync(connection, "recipients", cancellationToken).ConfigureAwait(false)
            || !await TableExistsAsync(connection, "tracking_events", cancellationToken).ConfigureAwait(false))
        {
            yield break;
        }

        // Kept times (the whole campaign, tracking schema 4): the rollup recipients in key order with their kept time,
        // else (not kept yet: an event before the ledger's mark, an older writer) the ledger's. Otherwise the window's
        // recipients from the events (the recipient index, in order), each looked up in the ledger: correct, and
        // slower than the map a report reads instead (PrefersEngagedDeliveriesAsync).
        await using var command = connection.CreateCommand();
        command.CommandText = await UsesDeliveryTimesAsync(connection, window, cancellationToken).ConfigureAwait(false) ? RollupDeliveries : $"""
            SELECT recipient, at FROM (
                SELECT e.recipient, (SELECT l.updated_at FROM recipients l
                    WHERE l.campaign = $c AND l.recipient_id = e.recipient AND +l.state = 2 ORDER BY l.id LIMIT 1) AS at
                FROM (SELECT DISTINCT recipient FROM tracking_events WHERE {InWindowByRecipient}) e)
            WHERE at IS NOT NULL ORDER BY recipient;
            """;
        AddWindow(command, window);
        await using var reader = await ExecuteReaderAsync(command, cancellationToken).ConfigureAwait(false);
        while (Read(reader, cancellationToken))
        {
            yield return new DeliveredRow(reader.GetString(0), FromMs(reader.GetInt64(1)));
        }
    }

    public async IAsyncEnumerable<LedgerEntry> ReadLedgerAsync(string campaignId, bool details, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        if (!await TableExistsAsync(connection, "recipients", cancellationToken).ConfigureAwait(false))
        {
            yield break;
        }

        var columns = details ? ", email, smtp_code, smtp_text, attempts, skip_reason" : string.Empty;
        await using var command = Command(connection, $"SELECT recipient_id, state, updated_at{columns} FROM recipients WHERE campaign = $c ORDER BY recipient_id, id;", campaignId);
        await using var reader = await ExecuteReaderAsync(command, cancellationToken).ConfigureAwait(false);
        while (Read(reader, cancellationToken))
        {
            yield return details
                ? new LedgerEntry(
                    reader.GetString(0), (DeliveryState)reader.GetInt32(1), FromMs(reader.GetInt64(2)),
                    reader.GetString(3),
                    reader.IsDBNull(4) ? null : reader.GetInt32(4),
                    reader.IsDBNull(5) ? null : reader.GetString(5),
                    reader.GetInt32(6),
                    reader.IsDBNull(7) ? null : reader.GetString(7))
                : new LedgerEntry(reader.GetString(0), (DeliveryState)reader.GetInt32(1), FromMs(reader.GetInt64(2)));
        }
    }

    public ValueTask DisposeAsync()
    {
        using var connection = new SqliteConnection(_connectionString);
        SqliteConnection.ClearPool(connection);
        return ValueTask.CompletedTask;
    }

    private async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
    {
        if (!File.Exists(_path))
        {
            throw new StoreException($"{_path}: no store here.");
        }

        var connection = new SqliteConnection(_connectionString);
        try
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            // A larger page cache than the default 2 MB: report scans revisit the upper levels of the indexes.
            // A short busy timeout: waiting for a lock is done by the retry loop below, where the token is honoured.
            await ExecuteAsync(connection, $"PRAGMA busy_timeout={(int)BusyStep.TotalMilliseconds}; PRAGMA cache_size=-16384;", cancellationToken).ConfigureAwait(false);
            return connection;
        }
        catch (SqliteException ex)
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw new StoreException($"{_path}: cannot open the store: {ex.Message}", ex);
        }
    }

    private static SqliteCommand Command(SqliteConnection connection, string sql, string? campaignId)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        if (campaignId is not null)
        {
            command.Parameters.AddWithValue("$c", campaignId);
        }

        return command;
    }

    private static void AddWindow(SqliteCommand command, EventWindow window)
    {
        command.Parameters.AddWithValue("$c", window.CampaignId);
        command.Parameters.AddWithValue("$from", window.From?.UtcTicks ?? long.MinValue);
        command.Parameters.AddWithValue("$to", window.To?.UtcTicks ?? long.MaxValue);
    }

    /// <summary>The window for queries read in time order (the time index serves the range).</summary>
    private const string InWindow = "campaign = $c AND at >= $from AND at < $to";

    /// <summary>
    /// The window for queries read in recipient order: the unary plus keeps the time range from steering the planner to
    /// the time index, which would then sort the campaign's events by recipient.
    /// </summary>
    private const string InWindowByRecipient = "campaign = $c AND +at >= $from AND +at < $to";

    private static async Task<bool> TableExistsAsync(SqliteConnection connection, string table, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = $t;";
        command.Parameters.AddWithValue("$t", table);
        return await ExecuteScalarAsync(command, cancellationToken).ConfigureAwait(false) is not null;
    }

    private static async Task ExecuteAsync(SqliteConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        using var interrupt = Interrupt(connection, cancellationToken);
        try
        {
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (SqliteException ex)
        {
            throw Translate(ex, connection.DataSource, cancellationToken);
        }
    }

    private static async Task<object?> ExecuteScalarAsync(SqliteCommand command, CancellationToken cancellationToken)
    {
        using var interrupt = Interrupt(command.Connection!, cancellationToken);
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (SqliteException ex) when (IsBusy(ex) && attempt < MaxBusyAttempts)
            {
                await Task.Delay(BusyStep, cancellationToken).ConfigureAwait(false);
            }
            catch (SqliteException ex)
            {
                throw Translate(ex, command.Connection!.DataSource, cancellationToken);
            }
        }
    }

    /// <summary>Opens a reader whose statement is interrupted (sqlite3_interrupt) when the token fires, until the reader is disposed.</summary>
    private static async Task<InterruptibleReader> ExecuteReaderAsync(SqliteCommand command, CancellationToken cancellationToken)
    {
        var interrupt = Interrupt(command.Connection!, cancellationToken);
        try
        {
            return await InterruptibleReader.OpenAsync(command, interrupt, BusyStep, MaxBusyAttempts, cancellationToken).ConfigureAwait(false);
        }
        catch (SqliteException ex)
        {
            interrupt.Dispose();
            throw Translate(ex, command.Connection!.DataSource, cancellationToken);
        }
        catch
        {
            interrupt.Dispose();
            throw;
        }
    }

    /// <summary>How long one wait for a lock lasts, inside SQLite and then between attempts.</summary>
    private static readonly TimeSpan BusyStep = TimeSpan.FromMilliseconds(100);

    /// <summary>About a minute of waiting for a lock (each attempt waits about a second) before the store is reported locked; a caller's time limit usually ends it first.</summary>
    private const int MaxBusyAttempts = 50;

    private static bool IsBusy(SqliteException ex) => ex.SqliteErrorCode is 5 or 6;

    /// <summary>
    /// The next row. Synchronous on purpose: the provider's async read is synchronous underneath and costs a task per
    /// row, which at millions of rows is most of a report's time. The token is honoured by sqlite3_interrupt.
    /// </summary>
    private static bool Read(InterruptibleReader reader, CancellationToken cancellationToken)
    {
        try
        {
            return reader.Read();
        }
        catch (SqliteException ex)
        {
            throw Translate(ex, reader.Path, cancellationToken);
        }
    }

    private static CancellationTokenRegistration Interrupt(SqliteConnection connection, CancellationToken cancellationToken) =>
        // The provider only checks the token between rows; an aggregate that scans millions of index entries before
        // its first row must be stopped inside SQLite, which sqlite3_interrupt does from any thread.
        cancellationToken.Register(static state => SQLitePCL.raw.sqlite3_interrupt(((SqliteConnection)state!).Handle), connection);

    private static Exception Translate(SqliteException ex, string? path, CancellationToken cancellationToken)
    {
        const int interrupted = 9;
        return ex.SqliteErrorCode == interrupted && cancellationToken.IsCancellationRequested
            ? new OperationCanceledException("The report was cancelled.", ex, cancellationToken)
            : new StoreException($"{path}: {ex.Message}", ex);
    }

    private static string Json<T>(IEnumerable<T> values) => JsonSerializer.Serialize(values);

    private static DateTimeOffset FromMs(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms);

    private static DateTimeOffset FromTicks(long ticks) => new(ticks, TimeSpan.Zero);
}
