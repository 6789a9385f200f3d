using Herald.Store;
using Microsoft.Data.Sqlite;

namespace Herald.Sqlite;

public sealed partial class SqliteDeliveryStore
{
    public async Task<int> RecoverAsync(string campaignId, string workerId, CancellationToken cancellationToken)
    {
        AcquireSenderLock(campaignId);
        return await WithWriterAsync(connection =>
        {
            using var transaction = connection.BeginTransaction();
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = """
                UPDATE recipients
                SET state = 4, lease_owner = NULL, lease_until = NULL, updated_at = $now,
                    smtp_text = COALESCE(smtp_text, 'interrupted while sending: the relay may or may not have taken the message')
                WHERE campaign = $c AND state = 1;
                """;
            command.Parameters.AddWithValue("$c", campaignId);
            command.Parameters.AddWithValue("$now", NowMs());
            var inDoubt = command.ExecuteNonQuery();
            command.CommandText = "UPDATE recipients SET lease_owner = NULL, lease_until = NULL WHERE campaign = $c AND state = 0 AND lease_owner IS NOT NULL";
            command.ExecuteNonQuery();
            transaction.Commit();
            return inDoubt;
        }, cancellationToken).ConfigureAwait(false);
    }

    private void AcquireSenderLock(string campaignId)
    {
        lock (_senderLocks)
        {
            if (_senderLocks.ContainsKey(campaignId))
            {
                return;
            }

            var safe = string.Concat(campaignId.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_'));
            var lockPath = $"{_path}.{safe}.send.lock";
            try
            {
                // FileShare.None takes an OS lock released when the process dies, however it dies.
                _senderLocks[campaignId] = new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException ex)
            {
                throw new StoreException($"another 'herald send' is already sending campaign '{campaignId}' from {_path}.", ex);
            }
        }
    }

    public Task<IReadOnlyList<WorkItem>> ClaimAsync(string campaignId, string workerId, int max, TimeSpan lease, CancellationToken cancellationToken)
    {
        return WithWriterAsync<IReadOnlyList<WorkItem>>(connection =>
        {
            var now = NowMs();
            using var command = connection.CreateCommand();
            command.CommandText = """
                UPDATE recipients SET lease_owner = $w, lease_until = $until
                WHERE id IN (
                    SELECT id FROM recipients
                    WHERE campaign = $c AND state = 0 AND next_attempt_at <= $now
                      AND (lease_owner IS NULL OR lease_until < $now)
                    ORDER BY id LIMIT $max)
                RETURNING id, recipient_id, email, context, attempts, first_attempt_at, message_id;
                """;
            command.Parameters.AddWithValue("$w", workerId);
            command.Parameters.AddWithValue("$c", campaignId);
            command.Parameters.AddWithValue("$now", now);
            command.Parameters.AddWithValue("$until", now + (long)lease.TotalMilliseconds);
            command.Parameters.AddWithValue("$max", max);
            var items = new List<WorkItem>(max);
            using (var reader = command.ExecuteReader())
            {
                while (reader.Read())
                {
                    items.Add(new WorkItem(
                        reader.GetInt64(0),
                        reader.GetString(1),
                        reader.GetString(2),
                        reader.IsDBNull(3) ? ReadOnlyMemory<byte>.Empty : (byte[])reader.GetValue(3),
                        reader.GetInt32(4),
                        reader.IsDBNull(5) ? null : FromMs(reader.GetInt64(5)),
                        reader.GetString(6)));
                }
            }

            // RETURNING yields rows in no particular order; the plan order is the contract.
            items.Sort((a, b) => a.Id.CompareTo(b.Id));
            return items;
        }, cancellationToken);
    }

    public Task<IReadOnlySet<long>> CommitAsync(string workerId, IReadOnlyList<long> markSending, IReadOnlyList<Outcome> outcomes, CancellationToken cancellationToken)
    {
        return WithWriterAsync<IReadOnlySet<long>>(connection =>
        {
            var now = NowMs();
            var marked = new HashSet<long>();
            using var transaction = connection.BeginTransaction();
            if (outcomes.Count > 0)
            {
                using var command = connection.CreateCommand();
                command.Transaction = transaction;
                command.CommandText = """
                    UPDATE recipients
                    SET state = $s, smtp_code = $code, smtp_text = $text, relay = COALESCE($relay, relay),
                        next_attempt_at = COALESCE($next, next_attempt_at), skip_reason = COALESCE($skip, skip_reason),
                        attempts = CASE WHEN $uncounted = 1 AND $s = 0 AND attempts > 0 THEN attempts - 1 ELSE attempts END,
                        first_attempt_at = CASE WHEN $uncounted = 1 AND $s = 0 AND attempts <= 1 THEN NULL ELSE first_attempt_at END,
                        lease_owner = NULL, lease_until = NULL, updated_at = $now
                    WHERE id = $id AND lease_owner = $w AND (state = 1 OR (state = 0 AND $s = 5))
                    """;
                var id = command.Parameters.Add("$id", SqliteType.Integer);
                var state = command.Parameters.Add("$s", SqliteType.Integer);
                var code = command.Parameters.Add("$code", SqliteType.Integer);
                var text = command.Parameters.Add("$text", SqliteType.Text);
                var relay = command.Parameters.Add("$relay", SqliteType.Text);
                var next = command.Parameters.Add("$next", SqliteType.Integer);
                var skip = command.Parameters.Add("$skip", SqliteType.Text);
                var uncounted = command.Parameters.Add("$uncounted", SqliteType.Integer);
                command.Parameters.AddWithValue("$w", workerId);
                command.Parameters.AddWithValue("$now", now);
                command.Prepare();
                foreach (var outcome in outcomes)
                {
                    id.Value = outcome.Id;
                    state.Value = (int)outcome.State;
                    code.Value = (object?)outcome.SmtpCode ?? DBNull.Value;
                    text.Value = (object?)outcome.SmtpText ?? DBNull.Value;
                    relay.Value = (object?)outcome.Relay ?? DBNull.Value;
                    next.Value = outcome.NextAttemptAt is { } at ? at.ToUnixTimeMilliseconds() : DBNull.Value;
                    skip.Value = (object?)outcome.SkipReason ?? DBNull.Value;
                    uncounted.Value = outcome.Uncounted ? 1 : 0;
                    command.ExecuteNonQuery();
                }
            }

            if (markSending.Count > 0)
            {
                using var command = connection.CreateCommand();
                command.Transaction = transaction;
                command.CommandText = """
                    UPDATE recipients
                    SET state = 1, attempts = attempts + 1, first_attempt_at = COALESCE(first_attempt_at, $now), updated_at = $now
                    WHERE id = $id AND state = 0 AND lease_owner = $w AND lease_until >= $now
                    """;
                var id = command.Parameters.Add("$id", SqliteType.Integer);
                command.Parameters.AddWithValue("$w", workerId);
                command.Parameters.AddWithValue("$now", now);
                command.Prepare();
                foreach (var rowId in markSending)
                {
                    id.Value = rowId;
                    if (command.ExecuteNonQuery() == 1)
                    {
                        marked.Add(rowId);
                    }
                }
            }

            transaction.Commit();
            return marked;
        }, cancellationToken);
    }

    public Task RenewLeaseAsync(string campaignId, string workerId, TimeSpan lease, CancellationToken cancellationToken)
    {
        return WithWriterAsync(connection =>
        {
            using var command = connection.CreateCommand();
            command.CommandText = "UPDATE recipients SET lease_until = $until WHERE campaign = $c AND lease_owner = $w AND state IN (0, 1)";
            command.Parameters.AddWithValue("$c", campaignId);
            command.Parameters.AddWithValue("$w", workerId);
            command.Parameters.AddWithValue("$until", NowMs() + (long)lease.TotalMilliseconds);
            return command.ExecuteNonQuery();
        }, cancellationToken);
    }

    public Task ReleaseAsync(string workerId, IReadOnlyList<long> ids, CancellationToken cancellationToken)
    {
        if (ids.Count == 0)
        {
            return Task.CompletedTask;
        }

        return WithWriterAsync(connection =>
        {
            using var transaction = connection.BeginTransaction();
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = "UPDATE recipients SET lease_owner = NULL, lease_until = NULL WHERE id = $id AND lease_owner = $w AND state = 0";
            var id = command.Parameters.Add("$id", SqliteType.Integer);
            command.Parameters.AddWithValue("$w", workerId);
            foreach (var rowId in ids)
            {
                id.Value = rowId;
                command.ExecuteNonQuery();
            }

            transaction.Commit();
            return 0;
        }, cancellationToken);
    }

    public Task<int> ResetInDoubtAsync(string campaignId, CancellationToken cancellationToken)
    {
        return WithWriterAsync(connection =>
        {
            using var command = connection.CreateCommand();
            command.CommandText = """
                UPDATE recipients SET state = 0, next_attempt_at = 0, lease_owner = NULL, lease_until = NULL, updated_at = $now
                WHERE campaign = $c AND state = 4
                """;
            command.Parameters.AddWithValue("$c", campaignId);
            command.Parameters.AddWithValue("$now", NowMs());
            return command.ExecuteNonQuery();
        }, cancellationToken);
    }

    public Task<int> ResetFailedAsync(string campaignId, Func<int?, string?, bool> match, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(match);
        return WithWriterAsync(connection =>
        {
            using var transaction = connection.BeginTransaction();
            var ids = new List<long>();
            using (var select = connection.CreateCommand())
            {
                select.Transaction = transaction;
                select.CommandText = "SELECT id, smtp_code, smtp_text FROM recipients WHERE campaign = $c AND state = 3";
                select.Parameters.AddWithValue("$c", campaignId);
                using var reader = select.ExecuteReader();
                while (reader.Read())
                {
                    if (match(reader.IsDBNull(1) ? null : reader.GetInt32(1), reader.IsDBNull(2) ? null : reader.GetString(2)))
                    {
                        ids.Add(reader.GetInt64(0));
                    }
                }
            }

            using var update = connection.CreateCommand();
            update.Transaction = transaction;
            update.CommandText = """
                UPDATE recipients SET state = 0, attempts = 0, first_attempt_at = NULL, next_attempt_at = 0,
                    lease_owner = NULL, lease_until = NULL, updated_at = $now
                WHERE id = $id AND state = 3
                """;
            var id = update.Parameters.Add("$id", SqliteType.Integer);
            update.Parameters.AddWithValue("$now", NowMs());
            var reset = 0;
            foreach (var rowId in ids)
            {
                id.Value = rowId;
                reset += update.ExecuteNonQuery();
            }

            transaction.Commit();
            return reset;
        }, cancellationToken);
    }
}
