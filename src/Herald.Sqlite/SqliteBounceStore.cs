using System.Runtime.CompilerServices;
using System.Text.Json;
using Herald.Store;
using Microsoft.Data.Sqlite;

namespace Herald.Sqlite;

/// <summary>
/// The bounce tables (events, campaign settings, the store's policy) in the SQLite file that also holds the delivery
/// ledger, whose rows it reads to map a bounce back to its recipient. Connections are pooled, one per call.
/// </summary>
public sealed partial class SqliteBounceStore : IBounceStore
{
    private const int SchemaVersion = 1;
    private const string PolicySetting = "policy";
    private readonly string _connectionString;
    private readonly string _path;

    public SqliteBounceStore(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        _path = path;
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = true,
            DefaultTimeout = 30,
        }.ToString();
    }

    public async Task MigrateAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        // Up to date: nothing to write, so no write lock is taken (serve and status open while a sender holds the file).
        if (await IsCurrentAsync(connection, cancellationToken).ConfigureAwait(false))
        {
            return;
        }

        await ExecuteAsync(connection, "PRAGMA journal_mode=WAL;", null, cancellationToken).ConfigureAwait(false);
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await ExecuteAsync(connection, """
            CREATE TABLE IF NOT EXISTS bounce_schema (version INTEGER NOT NULL);
            CREATE TABLE IF NOT EXISTS bounce_events (
                id BLOB NOT NULL PRIMARY KEY,
                at INTEGER NOT NULL,
                campaign TEXT NOT NULL,
                recipient TEXT NOT NULL,
                email TEXT NOT NULL,
                type INTEGER NOT NULL,
                code TEXT,
                text TEXT,
                source INTEGER NOT NULL
            ) WITHOUT ROWID;
            CREATE INDEX IF NOT EXISTS bounce_events_by_recipient ON bounce_events (campaign, recipient, at);
            CREATE INDEX IF NOT EXISTS bounce_events_by_email ON bounce_events (email, type, at);
            CREATE TABLE IF NOT EXISTS bounce_campaigns (
                campaign TEXT NOT NULL PRIMARY KEY,
                domain TEXT,
                policy TEXT NOT NULL
            ) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS bounce_settings (
                name TEXT NOT NULL PRIMARY KEY,
                value TEXT NOT NULL
            ) WITHOUT ROWID;
            """, transaction, cancellationToken).ConfigureAwait(false);
        if (await LedgerExistsAsync(connection, transaction, cancellationToken).ConfigureAwait(false))
        {
            // Bounces that carry only the original headers are found by their Message-ID.
            await ExecuteAsync(connection, "CREATE INDEX IF NOT EXISTS ix_recipients_message_id ON recipients (message_id);", transaction, cancellationToken).ConfigureAwait(false);
        }

        await using (var check = connection.CreateCommand())
        {
            check.Transaction = transaction;
            check.CommandText = "SELECT MAX(version) FROM bounce_schema;";
            var current = await check.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
            if (current is long version && version > SchemaVersion)
            {
                throw new StoreException($"{_path}: the bounce tables have schema version {version}; this herald knows {SchemaVersion}. Upgrade herald.");
            }

            if (current is null or DBNull)
            {
                check.CommandText = $"INSERT INTO bounce_schema (version) VALUES ({SchemaVersion});";
                await check.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The bounce tables at this version, and the ledger's Message-ID index when the ledger exists.</summary>
    private static async Task<bool> IsCurrentAsync(SqliteConnection connection, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'bounce_schema';";
        if (await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is null)
        {
            return false;
        }

        command.CommandText = "SELECT MAX(version) FROM bounce_schema;";
        if (await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is not long version || version != SchemaVersion)
        {
            return false;
        }

        command.CommandText = """
            SELECT NOT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'recipients')
                OR EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = 'ix_recipients_message_id');
            """;
        return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is long current && current == 1;
    }

    public async Task<int> AppendAsync(IReadOnlyList<BounceEvent> events, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(events);
        if (events.Count == 0)
        {
            return 0;
        }

        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await using var insert = connection.CreateCommand();
        insert.Transaction = transaction;
        insert.CommandText = """
            INSERT INTO bounce_events (id, at, campaign, recipient, email, type, code, text, source)
            VALUES ($id, $at, $campaign, $recipient, $email, $type, $code, $text, $source)
            ON CONFLICT (id) DO NOTHING;
            """;
        var id = insert.Parameters.Add("$id", SqliteType.Blob);
        var at = insert.Parameters.Add("$at", SqliteType.Integer);
        var campaign = insert.Parameters.Add("$campaign", SqliteType.Text);
        var recipient = insert.Parameters.Add("$recipient", SqliteType.Text);
        var email = insert.Parameters.Add("$email", SqliteType.Text);
        var type = insert.Parameters.Add("$type", SqliteType.Integer);
        var code = insert.Parameters.Add("$code", SqliteType.Text);
        var text = insert.Parameters.Add("$text", SqliteType.Text);
        var source = insert.Parameters.Add("$source", SqliteType.Integer);
        insert.Prepare();
        var added = 0;
        foreach (var e in events)
        {
            id.Value = e.Id.ToByteArray(bigEndian: true);
            at.Value = e.At.UtcTicks;
            campaign.Value = e.CampaignId;
            recipient.Value = e.RecipientId;
            email.Value = e.Email;
            type.Value = (int)e.Type;
            code.Value = (object?)e.Code ?? DBNull.Value;
            text.Value = (object?)e.Text ?? DBNull.Value;
            source.Value = (int)e.Source;
            added += await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return added;
    }

    public async Task<int> CountAsync(string email, BounceType type, DateTimeOffset since, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*) FROM bounce_events WHERE email = $email AND type = $type AND at >= $since;";
        command.Parameters.AddWithValue("$email", email);
        command.Parameters.AddWithValue("$type", (int)type);
        command.Parameters.AddWithValue("$since", since.UtcTicks);
        return Convert.ToInt32(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), System.Globalization.CultureInfo.InvariantCulture);
    }

    public async IAsyncEnumerable<BounceEvent> ReadAsync(string campaignId, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT id, at, recipient, email, type, code, text, source
            FROM bounce_events WHERE campaign = $campaign ORDER BY recipient, at, id;
            """;
        command.Parameters.AddWithValue("$campaign", campaignId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            yield return new BounceEvent(
                new Guid((byte[])reader.GetValue(0), bigEndian: true),
                new DateTimeOffset(reader.GetInt64(1), TimeSpan.Zero),
                campaignId,
                reader.GetString(2),
                reader.GetString(3),
                (BounceType)reader.GetInt32(4),
                reader.IsDBNull(5) ? null : reader.GetString(5),
                reader.IsDBNull(6) ? null : reader.GetString(6),
                (BounceSource)reader.GetInt32(7));
        }
    }

    public async Task<BounceCounts> GetCountsAsync(string campaignId, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT type, COUNT(DISTINCT recipient) FROM bounce_events WHERE campaign = $campaign GROUP BY type;";
        command.Parameters.AddWithValue("$campaign", campaignId);
        long hard = 0, soft = 0, complaints = 0;
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var count = reader.GetInt64(1);
            switch ((BounceType)reader.GetInt32(0))
            {
                case BounceType.Hard: hard = count; break;
                case BounceType.Soft: soft = count; break;
                case BounceType.Complaint: complaints = count; break;
                default: break;
            }
        }

        return new BounceCounts(hard, soft, complaints);
    }

    public async Task<IReadOnlySet<string>> FindRecipientsWithAsync(string campaignId, BounceType type, IReadOnlyCollection<string> recipientIds, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(recipientIds);
        var found = new HashSet<string>(StringComparer.Ordinal);
        if (recipientIds.Count == 0)
        {
            return found;
        }

        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        // The ids travel as one JSON array; each is one lookup in the (campaign, recipient, at) index.
        command.CommandText = """
            SELECT DISTINCT recipient FROM bounce_events
            WHERE campaign = $campaign AND type = $type AND recipient IN (SELECT value FROM json_each($ids));
            """;
        command.Parameters.AddWithValue("$campaign", campaignId);
        command.Parameters.AddWithValue("$type", (int)type);
        command.Parameters.AddWithValue("$ids", JsonSerializer.Serialize(recipientIds));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            found.Add(reader.GetString(0));
        }

        return found;
    }

    public async Task SetCampaignSettingsAsync(CampaignBounceSettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText = """
            INSERT INTO bounce_campaigns (campaign, domain, policy) VALUES ($campaign, $domain, $policy)
            ON CONFLICT (campaign) DO UPDATE SET domain = excluded.domain, policy = excluded.policy;
            """;
        command.Parameters.AddWithValue("$campaign", settings.CampaignId);
        command.Parameters.AddWithValue("$domain", (object?)settings.Domain?.ToLowerInvariant() ?? DBNull.Value);
        command.Parameters.AddWithValue("$policy", settings.Policy.ToJson());
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task<CampaignBounceSettings?> GetCampaignSettingsAsync(string campaignId, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT domain, policy FROM bounce_campaigns WHERE campaign = $campaign;";
        command.Parameters.AddWithValue("$campaign", campaignId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            return null;
        }

        return new CampaignBounceSettings(campaignId, reader.IsDBNull(0) ? null : reader.GetString(0), ReadPolicy(reader.GetString(1)));
    }

    public async Task<IReadOnlyList<string>> ListDomainsAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT DISTINCT domain FROM bounce_campaigns WHERE domain IS NOT NULL ORDER BY domain;";
        var domains = new List<string>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            domains.Add(reader.GetString(0));
        }

        return domains;
    }

    public async Task<BouncePolicySettings> GetStorePolicyAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT value FROM bounce_settings WHERE name = $name;";
        command.Parameters.AddWithValue("$name", PolicySetting);
        return ReadPolicy(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) as string);
    }

    public async Task SetStorePolicyAsync(BouncePolicySettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText = """
            INSERT INTO bounce_settings (name, value) VALUES ($name, $value)
            ON CONFLICT (name) DO UPDATE SET value = excluded.value;
            """;
        command.Parameters.AddWithValue("$name", PolicySetting);
        command.Parameters.AddWithValue("$value", settings.ToJson());
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    public ValueTask DisposeAsync()
    {
        // Pooled connections stay open for the process; clearing the pool releases the file (tests delete it).
        using var connection = new SqliteConnection(_connectionString);
        SqliteConnection.ClearPool(connection);
        return ValueTask.CompletedTask;
    }

    private BouncePolicySettings ReadPolicy(string? json)
    {
        try
        {
            return BouncePolicySettings.FromJson(json);
        }
        catch (JsonException ex)
        {
            throw new StoreException($"{_path}: a stored bounce policy is not valid JSON: {ex.Message}", ex);
        }
    }

    private async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(_connectionString);
        try
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            await ExecuteAsync(connection, "PRAGMA busy_timeout=5000; PRAGMA synchronous=NORMAL;", null, cancellationToken).ConfigureAwait(false);
            return connection;
        }
        catch (SqliteException ex)
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw new StoreException($"{_path}: cannot open the store: {ex.Message}", ex);
        }
    }

    private static async Task ExecuteAsync(SqliteConnection connection, string sql, SqliteTransaction? transaction, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }
}
