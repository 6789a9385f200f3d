using System.Runtime.CompilerServices;
using Herald.Store;
using Microsoft.Data.Sqlite;

namespace Herald.Sqlite;

public sealed partial class SqliteTrackingStore
{
    public Task<IReadOnlySet<string>> FindSuppressedAsync(IReadOnlyCollection<string> normalizedEmails, CancellationToken cancellationToken) => GuardAsync(() => FindSuppressedCoreAsync(normalizedEmails, cancellationToken));

    public Task<int> AddSuppressionsAsync(IReadOnlyList<SuppressionEntry> entries, CancellationToken cancellationToken) => GuardAsync(() => AddSuppressionsCoreAsync(entries, cancellationToken));

    public Task<bool> RemoveSuppressionAsync(string normalizedEmail, CancellationToken cancellationToken) => GuardAsync(() => RemoveSuppressionCoreAsync(normalizedEmail, cancellationToken));

    public IAsyncEnumerable<SuppressionEntry> ListSuppressionsAsync(CancellationToken cancellationToken) =>
        StoreErrors.Guard(ListSuppressionsCoreAsync(cancellationToken), Map, cancellationToken);

    private async Task<IReadOnlySet<string>> FindSuppressedCoreAsync(IReadOnlyCollection<string> normalizedEmails, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(normalizedEmails);
        var found = new HashSet<string>(StringComparer.Ordinal);
        if (normalizedEmails.Count == 0)
        {
            return found;
        }

        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        // One round trip for the whole batch: the addresses travel as one JSON array.
        command.CommandText = "SELECT email FROM suppressions WHERE email IN (SELECT value FROM json_each($emails));";
        command.Parameters.AddWithValue("$emails", ToJson(normalizedEmails));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            found.Add(reader.GetString(0));
        }

        return found;
    }

    private async Task<int> AddSuppressionsCoreAsync(IReadOnlyList<SuppressionEntry> entries, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entries);
        if (entries.Count == 0)
        {
            return 0;
        }

        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        var added = await InsertSuppressionsAsync(connection, transaction, entries, cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return added;
    }

    private async Task<bool> RemoveSuppressionCoreAsync(string normalizedEmail, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText = "DELETE FROM suppressions WHERE email = $email;";
        command.Parameters.AddWithValue("$email", normalizedEmail);
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) > 0;
    }

    private async IAsyncEnumerable<SuppressionEntry> ListSuppressionsCoreAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT email, reason, campaign, at FROM suppressions ORDER BY email;";
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var reason = SuppressionReasons.TryParse(reader.GetString(1), out var parsed) ? parsed : SuppressionReason.Manual;
            yield return new SuppressionEntry(
                reader.GetString(0),
                reason,
                reader.IsDBNull(2) ? null : reader.GetString(2),
                new DateTimeOffset(reader.GetInt64(3), TimeSpan.Zero));
        }
    }

    private static async Task<int> InsertSuppressionsAsync(SqliteConnection connection, SqliteTransaction transaction, IReadOnlyList<SuppressionEntry> entries, CancellationToken cancellationToken)
    {
        await using var insert = connection.CreateCommand();
        insert.Transaction = transaction;
        insert.CommandText = """
            INSERT INTO suppressions (email, reason, campaign, at) VALUES ($email, $reason, $campaign, $at)
            ON CONFLICT (email) DO NOTHING;
            """;
        var email = insert.Parameters.Add("$email", SqliteType.Text);
        var reason = insert.Parameters.Add("$reason", SqliteType.Text);
        var campaign = insert.Parameters.Add("$campaign", SqliteType.Text);
        var at = insert.Parameters.Add("$at", SqliteType.Integer);
        insert.Prepare();
        var added = 0;
        foreach (var entry in entries)
        {
            email.Value = entry.Email;
            reason.Value = entry.Reason.ToName();
            campaign.Value = (object?)entry.CampaignId ?? DBNull.Value;
            at.Value = entry.At.UtcTicks;
            added += await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        return added;
    }

    /// <summary>
    /// The address of a recipient, from the delivery ledger in the same file; null when the ledger has no such row
    /// (or no ledger exists yet).
    /// </summary>
    private static async Task<string?> FindLedgerEmailAsync(SqliteConnection connection, SqliteTransaction transaction, string campaignId, string recipientId, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        // The ledger (SqliteDeliveryStore) may not exist yet in this file: a tracking-only store simply cannot resolve.
        command.CommandText = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'recipients';";
        if (await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is null)
        {
            return null;
        }

        command.CommandText = "SELECT email FROM recipients WHERE campaign = $c AND recipient_id = $r ORDER BY id LIMIT 1;";
        command.Parameters.AddWithValue("$c", campaignId);
        command.Parameters.AddWithValue("$r", recipientId);
        return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) as string;
    }
}
