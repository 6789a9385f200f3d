using System.Runtime.CompilerServices;
using Npgsql;

namespace Herald.Postgres;

/// <summary>Reads of the delivery ledger (the <c>recipients</c> table in the same database) that map a bounce to its recipient.</summary>
public sealed partial class PostgresBounceStore
{
    private const string RecipientColumns = "id, campaign, recipient_id, email, message_id";

    public Task<LedgerRecipient?> FindByRowAsync(long row, CancellationToken cancellationToken) =>
        FindAsync($"SELECT {RecipientColumns} FROM recipients WHERE id = $1", row, null, cancellationToken);

    public Task<LedgerRecipient?> FindByMessageIdAsync(string messageId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(messageId);
        // Stored without angle brackets by prepare; with them by older or hand-written plans.
        return FindAsync($"SELECT {RecipientColumns} FROM recipients WHERE message_id IN ($1, '<' || $1 || '>') ORDER BY id LIMIT 1",
            messageId.Trim().Trim('<', '>'), null, cancellationToken);
    }

    public Task<LedgerRecipient?> FindByRecipientIdAsync(string campaignId, string recipientId, CancellationToken cancellationToken) =>
        FindAsync($"SELECT {RecipientColumns} FROM recipients WHERE recipient_id = $1 AND campaign = $2 ORDER BY id LIMIT 1", recipientId, campaignId, cancellationToken);

    public Task<LedgerRecipient?> FindByEmailAsync(string email, string? campaignId, CancellationToken cancellationToken) =>
        // Only rows a sender attempted (sent, failed, in doubt): a bounce is never about a skipped or unsent one.
        campaignId is null
            ? FindAsync($"SELECT {RecipientColumns} FROM recipients WHERE email = $1 AND state IN (2, 3, 4) ORDER BY updated_at DESC, id DESC LIMIT 1", email, null, cancellationToken)
            : FindAsync($"SELECT {RecipientColumns} FROM recipients WHERE email = $1 AND campaign = $2 AND state IN (2, 3, 4) ORDER BY id LIMIT 1", email, campaignId, cancellationToken);

    public IAsyncEnumerable<SyncFailure> ReadSyncFailuresAsync(string campaignId, CancellationToken cancellationToken) =>
        StoreErrors.Guard(ReadSyncFailuresCoreAsync(campaignId, cancellationToken), Connections.Map, cancellationToken);

    private async IAsyncEnumerable<SyncFailure> ReadSyncFailuresCoreAsync(string campaignId, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var connection = await Connections.DataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand($"""
            SELECT {RecipientColumns}, smtp_code, smtp_text, updated_at FROM recipients
            WHERE campaign = $1 AND state = 3 AND smtp_code IS NOT NULL ORDER BY id
            """, connection);
        command.Parameters.Add(new NpgsqlParameter { Value = campaignId });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            yield return new SyncFailure(
                ReadRecipient(reader),
                reader.GetInt32(5),
                reader.IsDBNull(6) ? null : reader.GetString(6),
                reader.GetFieldValue<DateTimeOffset>(7));
        }
    }

    private Task<LedgerRecipient?> FindAsync(string sql, object a, string? b, CancellationToken cancellationToken) =>
        Connections.RunAsync(async connection =>
        {
            await using var command = new NpgsqlCommand(sql, connection);
            command.Parameters.Add(new NpgsqlParameter { Value = a });
            if (b is not null)
            {
                command.Parameters.Add(new NpgsqlParameter { Value = b });
            }

            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            return await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? ReadRecipient(reader) : null;
        }, cancellationToken);

    private static LedgerRecipient ReadRecipient(NpgsqlDataReader reader) =>
        new(reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(4));
}
