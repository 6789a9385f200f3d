using System.Text.Json;
using Herald.Store;
using Microsoft.Data.Sqlite;

namespace Herald.Sqlite;

public sealed partial class SqliteDeliveryStore
{
    // Built from the one table of transitions (LedgerTransitions), so the SQL cannot allow what the table does not.
    private static readonly string MarkCondition = LedgerTransitions.SqlCondition(LedgerOperation.MarkSending, "state");
    private static readonly string OutcomeCondition = LedgerTransitions.SqlCondition(LedgerOperation.Outcome, "state", "$s");
    private static readonly string RenewCondition = LedgerTransitions.SqlCondition(LedgerOperation.Renew, "state");
    private static readonly string ReleaseCondition = LedgerTransitions.SqlCondition(LedgerOperation.Release, "state");
    private static readonly string ClaimCondition = LedgerTransitions.SqlCondition(LedgerOperation.Claim, "state");
    private static readonly string RecoverClaimCondition = LedgerTransitions.SqlCondition(LedgerOperation.RecoverClaim, "state");
    private static readonly string RecoverSendingCondition = LedgerTransitions.SqlCondition(LedgerOperation.RecoverSending, "state");
    private static readonly string ResetCondition = LedgerTransitions.SqlCondition(LedgerOperation.ResetInDoubt, "state");
    private static readonly int Sending = (int)DeliveryState.Sending;
    private static readonly int InDoubt = (int)LedgerTransitions.Target(LedgerOperation.RecoverSending);
    private static readonly int Reset = (int)LedgerTransitions.Target(LedgerOperation.ResetInDoubt);

    public Task RegisterWorkerAsync(WorkerInfo worker, TimeSpan lease, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(worker);
        AcquireSenderLock(worker.CampaignId);
        lock (_localWorkers)
        {
            _localWorkers.Add(worker.WorkerId);
        }

        return WithWriterAsync(connection =>
        {
            using var command = connection.CreateCommand();
            command.CommandText = """
                INSERT INTO workers (campaign, worker_id, host, pid, started_at, renewed_at, lease_until)
                VALUES ($c, $w, $host, $pid, $now, $now, $until)
                ON CONFLICT (campaign, worker_id) DO UPDATE SET renewed_at = $now, lease_until = $until
                """;
            var now = NowMs();
            command.Parameters.AddWithValue("$c", worker.CampaignId);
            command.Parameters.AddWithValue("$w", worker.WorkerId);
            command.Parameters.AddWithValue("$host", worker.Host);
            command.Parameters.AddWithValue("$pid", worker.ProcessId);
            command.Parameters.AddWithValue("$now", now);
            command.Parameters.AddWithValue("$until", now + (long)lease.TotalMilliseconds);
            return command.ExecuteNonQuery();
        }, cancellationToken);
    }

    public Task UnregisterWorkerAsync(string campaignId, string workerId, CancellationToken cancellationToken)
    {
        return WithWriterAsync(connection =>
        {
            using var command = connection.CreateCommand();
            command.CommandText = "DELETE FROM workers WHERE campaign = $c AND worker_id = $w";
            command.Parameters.AddWithValue("$c", campaignId);
            command.Parameters.AddWithValue("$w", workerId);
            return command.ExecuteNonQuery();
        }, cancellationToken);
    }

    public Task<IReadOnlyList<WorkerStatus>> ListWorkersAsync(string campaignId, CancellationToken cancellationToken)
    {
        return ReadAsync<IReadOnlyList<WorkerStatus>>(connection =>
        {
            using var command = connection.CreateCommand();
            command.CommandText = $"""
                SELECT w.worker_id, w.host, w.pid, w.started_at, w.renewed_at, w.lease_until,
                       (SELECT COUNT(*) FROM recipients r WHERE r.lease_owner = w.worker_id AND r.campaign = w.campaign AND {RenewCondition.Replace("state", "r.state", StringComparison.Ordinal)})
                FROM workers w WHERE w.campaign = $c ORDER BY w.started_at, w.worker_id
                """;
            command.Parameters.AddWithValue("$c", campaignId);
            var now = NowMs();
            var result = new List<WorkerStatus>();
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                var leaseUntil = reader.GetInt64(5);
                result.Add(new WorkerStatus(
                    reader.GetString(0), reader.GetString(1), reader.GetInt32(2),
                    FromMs(reader.GetInt64(3)), FromMs(reader.GetInt64(4)), FromMs(leaseUntil), reader.GetInt64(6), leaseUntil >= now));
            }

            return result;
        }, cancellationToken);
    }

    public async Task<RecoveryResult> RecoverAsync(string campaignId, string workerId, CancellationToken cancellationToken)
    {
        AcquireSenderLock(campaignId);
        string local;
        lock (_localWorkers)
        {
            _localWorkers.Add(workerId);
            local = JsonSerializer.Serialize(_localWorkers);
        }

        return await WithWriterAsync(connection =>
        {
            using var transaction = connection.BeginTransaction();
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            // This process holds the campaign's file lock, so a worker not registered through it is gone however
            // recent its lease: its rows are settled at once. Workers of this process are judged by their lease.
            const string PeerExpired = """
                lease_owner IS NOT NULL AND lease_owner <> $w
                AND (lease_until < $now OR lease_owner NOT IN (SELECT value FROM json_each($local)))
                """;
            command.CommandText = $"""
                UPDATE recipients
                SET state = {InDoubt}, lease_owner = NULL, lease_until = NULL, lease_token = NULL, updated_at = $now,
                    smtp_text = COALESCE(smtp_text, 'interrupted while sending: the relay may or may not have taken the message')
                WHERE campaign = $c AND {RecoverSendingCondition} AND {PeerExpired};
                """;
            command.Parameters.AddWithValue("$c", campaignId);
            command.Parameters.AddWithValue("$w", workerId);
            command.Parameters.AddWithValue("$now", NowMs());
            command.Parameters.AddWithValue("$local", local);
            var inDoubt = command.ExecuteNonQuery();
            command.CommandText = $"""
                UPDATE recipients SET lease_owner = NULL, lease_until = NULL, lease_token = NULL
                WHERE campaign = $c AND {RecoverClaimCondition} AND {PeerExpired};
                """;
            var released = command.ExecuteNonQuery();
            command.CommandText = """
                DELETE FROM workers WHERE campaign = $c AND worker_id <> $w
                  AND (lease_until < $now OR worker_id NOT IN (SELECT value FROM json_each($local)))
                """;
            command.ExecuteNonQuery();
            transaction.Commit();
            return new RecoveryResult(inDoubt, released);
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

            // Keyed by the file's real path: a symlink, a symlinked folder or another relative spelling of the same
            // database reaches the same lock file, so it cannot start a second sender.
            string real;
            try
            {
                real = RealPath.Resolve(_path);
            }
            catch (IOException ex)
            {
                throw new StoreException($"{_path}: cannot resolve the database's real path: {ex.Message}", ex);
            }

            var safe = string.Concat(campaignId.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_'));
            var lockPath = $"{real}.{safe}.send.lock";
            try
            {
                // FileShare.None takes an OS lock (flock) released when the process dies, however it dies.
                _senderLocks[campaignId] = new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException ex)
            {
                throw new StoreException($"another 'herald send' is already sending campaign '{campaignId}' from {real}.", ex);
            }
            catch (UnauthorizedAccessException ex)
            {
                throw new StoreException($"{lockPath}: cannot create the sender lock: {ex.Message}", ex);
            }
        }
    }

    public Task<IReadOnlyList<WorkItem>> ClaimAsync(string campaignId, string workerId, int max, TimeSpan lease, CancellationToken cancellationToken)
    {
        return WithWriterAsync<IReadOnlyList<WorkItem>>(connection =>
        {
            var now = NowMs();
            using var transaction = connection.BeginTransaction();
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = "UPDATE ledger_counters SET value = value + 1 WHERE name = 'fencing' RETURNING value";
            var token = (long)command.ExecuteScalar()!;
            command.CommandText = $"""
                UPDATE recipients SET lease_owner = $w, lease_until = $until, lease_token = $token
                WHERE id IN (
                    SELECT id FROM recipients
                    WHERE campaign = $c AND {ClaimCondition} AND next_attempt_at <= $now
                      AND (lease_owner IS NULL OR lease_until < $now)
                    ORDER BY id LIMIT $max)
                RETURNING id, recipient_id, email, context, attempts, first_attempt_at, message_id;
                """;
            command.Parameters.AddWithValue("$w", workerId);
            command.Parameters.AddWithValue("$c", campaignId);
            command.Parameters.AddWithValue("$now", now);
            command.Parameters.AddWithValue("$until", now + (long)lease.TotalMilliseconds);
            command.Parameters.AddWithValue("$max", max);
            command.Parameters.AddWithValue("$token", token);
            var items = new List<WorkItem>(Math.Min(max, 4096));
            using (var reader = command.ExecuteReader())
            {
                while (reader.Read())
                {
                    items.Add(ReadWorkItem(reader, token));
                }
            }

            transaction.Commit();
            // RETURNING yields rows in no particular order; the plan order is the contract.
            items.Sort((a, b) => a.Id.CompareTo(b.Id));
            return items;
        }, cancellationToken);
    }

    public Task<CommitResult> CommitAsync(string workerId, IReadOnlyList<ClaimedRow> markSending, IReadOnlyList<Outcome> outcomes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(markSending);
        ArgumentNullException.ThrowIfNull(outcomes);
        foreach (var outcome in outcomes)
        {
            LedgerTransitions.EnsureOutcome(outcome.State);
        }

        if (markSending.Count == 0 && outcomes.Count == 0)
        {
            return Task.FromResult(CommitResult.Empty);
        }

        return WithWriterAsync(connection =>
        {
            var now = NowMs();
            var marked = new HashSet<long>();
            var lost = new List<long>();
            using var transaction = connection.BeginTransaction();
            if (outcomes.Count > 0)
            {
                using var command = connection.CreateCommand();
                command.Transaction = transaction;
                command.CommandText = $"""
                    UPDATE recipients
                    SET state = $s, smtp_code = $code, smtp_text = $text, relay = COALESCE($relay, relay),
                        next_attempt_at = COALESCE($next, next_attempt_at), skip_reason = COALESCE($skip, skip_reason),
                        lease_owner = NULL, lease_until = NULL, lease_token = NULL, updated_at = $now
                    WHERE id = $id AND lease_token = $t AND lease_owner = $w AND {OutcomeCondition}
                    """;
                var id = command.Parameters.Add("$id", SqliteType.Integer);
                var token = command.Parameters.Add("$t", SqliteType.Integer);
                var state = command.Parameters.Add("$s", SqliteType.Integer);
                var code = command.Parameters.Add("$code", SqliteType.Integer);
                var text = command.Parameters.Add("$text", SqliteType.Text);
                var relay = command.Parameters.Add("$relay", SqliteType.Text);
                var next = command.Parameters.Add("$next", SqliteType.Integer);
                var skip = command.Parameters.Add("$skip", SqliteType.Text);
                command.Parameters.AddWithValue("$w", workerId);
                command.Parameters.AddWithValue("$now", now);
                command.Prepare();
                foreach (var outcome in outcomes)
                {
                    id.Value = outcome.Id;
                    token.Value = outcome.Token;
                    state.Value = (int)outcome.State;
                    code.Value = (object?)outcome.SmtpCode ?? DBNull.Value;
                    text.Value = (object?)outcome.SmtpText ?? DBNull.Value;
                    relay.Value = (object?)outcome.Relay ?? DBNull.Value;
                    next.Value = outcome.NextAttemptAt is { } at ? at.ToUnixTimeMilliseconds() : DBNull.Value;
                    skip.Value = (object?)outcome.SkipReason ?? DBNull.Value;
                    if (command.ExecuteNonQuery() == 0)
                    {
                        lost.Add(outcome.Id);
                    }
                }
            }

            if (markSending.Count > 0)
            {
                using var command = connection.CreateCommand();
                command.Transaction = transaction;
                command.CommandText = $"""
                    UPDATE recipients
                    SET state = {Sending}, attempts = attempts + 1, first_attempt_at = COALESCE(first_attempt_at, $now), updated_at = $now
                    WHERE id = $id AND lease_token = $t AND lease_owner = $w AND {MarkCondition} AND lease_until >= $now
                    """;
                var id = command.Parameters.Add("$id", SqliteType.Integer);
                var token = command.Parameters.Add("$t", SqliteType.Integer);
                command.Parameters.AddWithValue("$w", workerId);
                command.Parameters.AddWithValue("$now", now);
                command.Prepare();
                foreach (var row in markSending)
                {
                    id.Value = row.Id;
                    token.Value = row.Token;
                    if (command.ExecuteNonQuery() == 1)
                    {
                        marked.Add(row.Id);
                    }
                    else
                    {
                        lost.Add(row.Id);
                    }
                }
            }

            transaction.Commit();
            return new CommitResult(marked, lost);
        }, cancellationToken);
    }

    public Task<RenewResult> RenewLeaseAsync(string campaignId, string workerId, IReadOnlyList<ClaimedRow> held, TimeSpan lease, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(held);
        return WithWriterAsync(connection =>
        {
            var now = NowMs();
            var until = now + (long)lease.TotalMilliseconds;
            var lost = new List<long>();
            using var transaction = connection.BeginTransaction();
            using (var command = connection.CreateCommand())
            {
                command.Transaction = transaction;
                command.CommandText = $"UPDATE recipients SET lease_until = $until WHERE id = $id AND lease_token = $t AND lease_owner = $w AND {RenewCondition}";
                var id = command.Parameters.Add("$id", SqliteType.Integer);
                var token = command.Parameters.Add("$t", SqliteType.Integer);
                command.Parameters.AddWithValue("$w", workerId);
                command.Parameters.AddWithValue("$until", until);
                command.Prepare();
                foreach (var row in held)
                {
                    id.Value = row.Id;
                    token.Value = row.Token;
                    if (command.ExecuteNonQuery() == 0)
                    {
                        lost.Add(row.Id);
                    }
                }
            }

            using (var command = connection.CreateCommand())
            {
                command.Transaction = transaction;
                command.CommandText = "UPDATE workers SET renewed_at = $now, lease_until = $until WHERE campaign = $c AND worker_id = $w";
                command.Parameters.AddWithValue("$c", campaignId);
                command.Parameters.AddWithValue("$w", workerId);
                command.Parameters.AddWithValue("$now", now);
                command.Parameters.AddWithValue("$until", until);
                command.ExecuteNonQuery();
            }

            transaction.Commit();
            return new RenewResult(lost, FromMs(until));
        }, cancellationToken);
    }

    public Task ReleaseAsync(string workerId, IReadOnlyList<ClaimedRow> rows, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(rows);
        if (rows.Count == 0)
        {
            return Task.CompletedTask;
        }

        return WithWriterAsync(connection =>
        {
            using var transaction = connection.BeginTransaction();
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = $"UPDATE recipients SET lease_owner = NULL, lease_until = NULL, lease_token = NULL WHERE id = $id AND lease_token = $t AND lease_owner = $w AND {ReleaseCondition}";
            var id = command.Parameters.Add("$id", SqliteType.Integer);
            var token = command.Parameters.Add("$t", SqliteType.Integer);
            command.Parameters.AddWithValue("$w", workerId);
            command.Prepare();
            foreach (var row in rows)
            {
                id.Value = row.Id;
                token.Value = row.Token;
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
            command.CommandText = $"""
                UPDATE recipients SET state = {Reset}, next_attempt_at = 0, lease_owner = NULL, lease_until = NULL, lease_token = NULL, updated_at = $now
                WHERE campaign = $c AND {ResetCondition}
                """;
            command.Parameters.AddWithValue("$c", campaignId);
            command.Parameters.AddWithValue("$now", NowMs());
            return command.ExecuteNonQuery();
        }, cancellationToken);
    }
}
