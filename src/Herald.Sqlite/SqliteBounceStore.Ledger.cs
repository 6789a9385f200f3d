using System.Runtime.CompilerServices;
using Herald.Store;
using Microsoft.Data.Sqlite;

namespace Herald.Sqlite;

/// <summary>Reads of the delivery ledger (<see cref="SqliteDeliveryStore"/>'s table in the same file) that map a bounce to its recipient.</summary>
public sealed partial class SqliteBounceStore
{
    private const string RecipientColumns = "id, campaign, recipient_id, email, message_id";

    public Task<LedgerRecipient?> FindByRowAsync(long row, CancellationToken cancellationToken) =>
        FindAsync($"SELECT {RecipientColumns} FROM recipients WHERE id = $a;", row, null, cancellationToken);

    public Task<LedgerRecipient?> FindByMessageIdAsync(string messageId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(messageId);
        // Stored without angle brackets by prepare; with them by older or hand-written plans.
        return FindAsync($"SELECT {RecipientColumns} FROM recipients WHERE message_id IN ($a, '<' || $a || '>') ORDER BY id LIMIT 1;", messageId.Trim().Trim('<', '>'), null, cancellationToken);
    }

    public Task<LedgerRecipient?> FindByRecipientIdAsync(string campaignId, string recipientId, CancellationToken cancellationToken) =>
        FindAsync($"SELECT {RecipientColumns} FROM recipients WHERE campaign = $b AND recipient_id = $a ORDER BY id LIMIT 1;", recipientId, campaignId, cancellationToken);

    public Task<LedgerRecipient?> FindByEmailAsync(string email, string? campaignId, CancellationToken cancellationToken) =>
        // Only rows a sender attempted (sent, failed, in doubt): a bounce is never about a skipped or unsent one.
        campaignId is null
            ? FindAsync($"SELECT {RecipientColumns} FROM recipients WHERE email = $a AND state IN (2, 3, 4) ORDER BY updated_at DESC, id DESC LIMIT 1;", email, null, cancellationToken)
            : FindAsync($"SELECT {RecipientColumns} FROM recipients WHERE campaign = $b AND email = $a AND state IN (2, 3, 4) ORDER BY id LIMIT 1;", email, campaignId, cancellationToken);

    public async IAsyncEnumerable<SyncFailure> ReadSyncFailuresAsync(string campaignId, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        if (!await LedgerExistsAsync(connection, null, cancellationToken).ConfigureAwait(false))
        {
            yield break;
        }

        await using var command = connection.CreateCommand();
        command.CommandText = $"""
            SELECT {RecipientColumns}, smtp_code, smtp_text, updated_at FROM recipients
            WHERE campaign = $c AND state = 3 AND smtp_code IS NOT NULL ORDER BY id;
            """;
        command.Parameters.AddWithValue("$c", campaignId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            yield return new SyncFailure(
                ReadRecipient(reader),
                reader.GetInt32(5),
                reader.IsDBNull(6) ? null : reader.GetString(6),
                SqliteDeliveryStore.FromMs(reader.GetInt64(7)));
        }
    }

    private async Task<LedgerRecipient?> FindAsync(string sql, object a, string? b, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        if (!await LedgerExistsAsync(connection, null, cancellationToken).ConfigureAwait(false))
        {
            return null;
        }

        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Parameters.AddWithValue("$a", a);
        if (b is not null)
        {
            command.Parameters.AddWithValue("$b", b);
        }

        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? ReadRecipient(reader) : null;
    }

    private static LedgerRecipient ReadRecipient(SqliteDataReader reader) =>
        new(reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(4));

    /// <summary>A store opened for bounces before any campaign was planned has no ledger yet: nothing to find.</summary>
    private static async Task<bool> LedgerExistsAsync(SqliteConnection connection, SqliteTransaction? transaction, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'recipients';";
        return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is not null;
    }
}
