using Npgsql;
using NpgsqlTypes;
using static Herald.Postgres.Parameters;

namespace Herald.Postgres;

public sealed partial class PostgresDeliveryStore
{
    // Built from the one table of transitions (LedgerTransitions), so the SQL cannot allow what the table does not.
    private static readonly string ClaimCondition = LedgerTransitions.SqlCondition(LedgerOperation.Claim, "state");
    private static readonly string MarkCondition = LedgerTransitions.SqlCondition(LedgerOperation.MarkSending, "r.state");
    private static readonly string OutcomeCondition = LedgerTransitions.SqlCondition(LedgerOperation.Outcome, "r.state", "o.state");
    private static readonly string RenewCondition = LedgerTransitions.SqlCondition(LedgerOperation.Renew, "r.state");
    private static readonly string ReleaseCondition = LedgerTransitions.SqlCondition(LedgerOperation.Release, "r.state");
    private static readonly string RecoverClaimCondition = LedgerTransitions.SqlCondition(LedgerOperation.RecoverClaim, "state");
    private static readonly string RecoverSendingCondition = LedgerTransitions.SqlCondition(LedgerOperation.RecoverSending, "state");
    private static readonly int SendingState = (int)LedgerTransitions.Target(LedgerOperation.MarkSending);
    private static readonly int InDoubtState = (int)LedgerTransitions.Target(LedgerOperation.RecoverSending);

    // A peer's lease that ran out, on the database clock; never the caller's own rows.
    private const string PeerExpired = "lease_owner IS NOT NULL AND lease_owner <> $2 AND lease_until < now()";

    public Task RegisterWorkerAsync(WorkerInfo worker, TimeSpan lease, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(worker);
        return Connections.RunAsync(async connection =>
        {
            await using var command = new NpgsqlCommand("""
                INSERT INTO workers (campaign, worker_id, host, pid, started_at, renewed_at, lease_until)
                VALUES ($1, $2, $3, $4, now(), now(), now() + $5)
                ON CONFLICT (campaign, worker_id) DO UPDATE SET renewed_at = now(), lease_until = now() + $5
                """, connection);
            command.Parameters.Add(new NpgsqlParameter { Value = worker.CampaignId });
            command.Parameters.Add(new NpgsqlParameter { Value = worker.WorkerId });
            command.Parameters.Add(new NpgsqlParameter { Value = worker.Host });
            command.Parameters.Add(new NpgsqlParameter { Value = worker.ProcessId });
            command.Parameters.Add(Interval(lease));
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }, cancellationToken);
    }

    public Task UnregisterWorkerAsync(string campaignId, string workerId, CancellationToken cancellationToken)
    {
        return Connections.RunAsync(async connection =>
        {
            await using var command = new NpgsqlCommand("DELETE FROM workers WHERE campaign = $1 AND worker_id = $2", connection);
            command.Parameters.Add(new NpgsqlParameter { Value = campaignId });
            command.Parameters.Add(new NpgsqlParameter { Value = workerId });
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }, cancellationToken);
    }

    public Task<IReadOnlyList<WorkerStatus>> ListWorkersAsync(string campaignId, CancellationToken cancellationToken)
    {
        return Connections.RunAsync<IReadOnlyList<WorkerStatus>>(async connection =>
        {
            await using var command = new NpgsqlCommand($"""
                SELECT w.worker_id, w.host, w.pid, w.started_at, w.renewed_at, w.lease_until,
                       (SELECT COUNT(*) FROM recipients r WHERE r.lease_owner = w.worker_id AND r.campaign = w.campaign AND {RenewCondition}),
                       w.lease_until >= now()
                FROM workers w WHERE w.campaign = $1 ORDER BY w.started_at, w.worker_id
                """, connection);
            command.Parameters.Add(new NpgsqlParameter { Value = campaignId });
            var result = new List<WorkerStatus>();
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                result.Add(new WorkerStatus(
                    reader.GetString(0), reader.GetString(1), reader.GetInt32(2),
                    reader.GetFieldValue<DateTimeOffset>(3), reader.GetFieldValue<DateTimeOffset>(4), reader.GetFieldValue<DateTimeOffset>(5),
                    reader.GetInt64(6), reader.GetBoolean(7)));
            }

            return result;
        }, cancellationToken);
    }

    public Task<RecoveryResult> RecoverAsync(string campaignId, string workerId, CancellationToken cancellationToken)
    {
        return Connections.RunAsync(async connection =>
        {
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            await using var batch = new NpgsqlBatch(connection, transaction);
            batch.BatchCommands.Add(Command($"""
                UPDATE recipients
                SET state = {InDoubtState}, lease_owner = NULL, lease_until = NULL, lease_token = NULL, updated_at = now(),
                    smtp_text = COALESCE(smtp_text, 'interrupted while sending: the relay may or may not have taken the message')
                WHERE campaign = $1 AND {RecoverSendingCondition} AND {PeerExpired}
                """, campaignId, workerId));
            batch.BatchCommands.Add(Command($"""
                UPDATE recipients SET lease_owner = NULL, lease_until = NULL, lease_token = NULL
                WHERE campaign = $1 AND {RecoverClaimCondition} AND {PeerExpired}
                """, campaignId, workerId));
            batch.BatchCommands.Add(Command("""
                DELETE FROM workers w WHERE w.campaign = $1 AND w.worker_id <> $2 AND w.lease_until < now()
                  AND NOT EXISTS (SELECT 1 FROM recipients r WHERE r.lease_owner = w.worker_id AND r.campaign = w.campaign)
                """, campaignId, workerId));
            await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            return new RecoveryResult((int)batch.BatchCommands[0].RecordsAffected, (int)batch.BatchCommands[1].RecordsAffected);
        }, cancellationToken);
    }

    public Task<IReadOnlyList<WorkItem>> ClaimAsync(string campaignId, string workerId, int max, TimeSpan lease, CancellationToken cancellationToken)
    {
        return Connections.RunAsync<IReadOnlyList<WorkItem>>(async connection =>
        {
            // One token for the whole claim, drawn once; SKIP LOCKED lets concurrent claimers pass each other's rows.
            // The campaign is a range and the order (campaign, id) so that only an index led by the campaign
            // (ix_recipients_pending, or the work index) can give the order: with `campaign = $1 ORDER BY id` the
            // planner may walk the primary key and step over every row already sent, whenever its statistics are
            // older than the campaign's progress, and each claim then costs more than the last.
            await using var command = new NpgsqlCommand($"""
                WITH token AS (SELECT nextval('herald_fencing') AS value),
                picked AS (
                    SELECT id FROM recipients
                    WHERE campaign >= $1 AND campaign <= $1 AND {ClaimCondition} AND next_attempt_at <= now()
                      AND (lease_owner IS NULL OR lease_until < now())
                    ORDER BY campaign, id LIMIT $3
                    FOR UPDATE SKIP LOCKED)
                UPDATE recipients r
                SET lease_owner = $2, lease_until = now() + $4, lease_token = token.value
                FROM picked, token
                WHERE r.id = picked.id
                RETURNING r.id, r.recipient_id, r.email, r.context, r.attempts, r.first_attempt_at, r.message_id, r.lease_token
                """, connection);
            command.Parameters.Add(new NpgsqlParameter { Value = campaignId });
            command.Parameters.Add(new NpgsqlParameter { Value = workerId });
            command.Parameters.Add(new NpgsqlParameter { Value = max });
            command.Parameters.Add(Interval(lease));
            var items = new List<WorkItem>(Math.Min(max, 4096));
            await using (var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
            {
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    items.Add(ReadWorkItem(reader));
                }
            }

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

        return Connections.RunAsync(async connection =>
        {
            // Outcomes, then marks, in one transaction and one round trip (plus COMMIT). The token alone is the fence
            // here and in renewals and releases: it is drawn from a sequence once per claim, so a row carrying it is
            // held by that claim. Comparing the owner too would hand the planner ix_recipients_lease, whose estimate
            // for one worker is always ~1 row (it holds a few hundred): it then rescans the arrays once per held row.
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            await using var batch = new NpgsqlBatch(connection, transaction);
            if (outcomes.Count > 0)
            {
                var outcome = new NpgsqlBatchCommand($"""
                    UPDATE recipients r
                    SET state = o.state, smtp_code = o.code, smtp_text = o.text, relay = COALESCE(o.relay, r.relay),
                        next_attempt_at = COALESCE(o.next, r.next_attempt_at), skip_reason = COALESCE(o.skip, r.skip_reason),
                        attempts = CASE WHEN o.uncounted AND o.state = 0 AND r.attempts > 0 THEN r.attempts - 1 ELSE r.attempts END,
                        first_attempt_at = CASE WHEN o.uncounted AND o.state = 0 AND r.attempts <= 1 THEN NULL ELSE r.first_attempt_at END,
                        lease_owner = NULL, lease_until = NULL, lease_token = NULL, updated_at = now()
                    FROM unnest($1, $2, $3, $4, $5, $6, $7, $8, $9) AS o(id, token, state, code, text, relay, next, skip, uncounted)
                    WHERE r.id = o.id AND r.lease_token = o.token AND {OutcomeCondition}
                    RETURNING r.id
                    """);
                outcome.Parameters.Add(Array(outcomes.Select(o => o.Id).ToArray(), NpgsqlDbType.Bigint));
                outcome.Parameters.Add(Array(outcomes.Select(o => o.Token).ToArray(), NpgsqlDbType.Bigint));
                outcome.Parameters.Add(Array(outcomes.Select(o => (short)o.State).ToArray(), NpgsqlDbType.Smallint));
                outcome.Parameters.Add(Array(outcomes.Select(o => o.SmtpCode).ToArray(), NpgsqlDbType.Integer));
                outcome.Parameters.Add(Array(outcomes.Select(o => o.SmtpText).ToArray(), NpgsqlDbType.Text));
                outcome.Parameters.Add(Array(outcomes.Select(o => o.Relay).ToArray(), NpgsqlDbType.Text));
                outcome.Parameters.Add(Array(outcomes.Select(o => o.NextAttemptAt?.ToUniversalTime()).ToArray(), NpgsqlDbType.TimestampTz));
                outcome.Parameters.Add(Array(outcomes.Select(o => o.SkipReason).ToArray(), NpgsqlDbType.Text));
                outcome.Parameters.Add(Array(outcomes.Select(o => o.Uncounted).ToArray(), NpgsqlDbType.Boolean));
                batch.BatchCommands.Add(outcome);
            }

            if (markSending.Count > 0)
            {
                var mark = new NpgsqlBatchCommand($"""
                    UPDATE recipients r
                    SET state = {SendingState}, attempts = r.attempts + 1, first_attempt_at = COALESCE(r.first_attempt_at, now()), updated_at = now()
                    FROM unnest($1, $2) AS m(id, token)
                    WHERE r.id = m.id AND r.lease_token = m.token AND {MarkCondition} AND r.lease_until >= now()
                    RETURNING r.id
                    """);
                mark.Parameters.Add(Array(markSending.Select(m => m.Id).ToArray(), NpgsqlDbType.Bigint));
                mark.Parameters.Add(Array(markSending.Select(m => m.Token).ToArray(), NpgsqlDbType.Bigint));
                batch.BatchCommands.Add(mark);
            }

            var applied = new HashSet<long>();
            var marked = new HashSet<long>();
            await using (var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
            {
                if (outcomes.Count > 0)
                {
                    while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                    {
                        applied.Add(reader.GetInt64(0));
                    }

                    await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
                }

                if (markSending.Count > 0)
                {
                    while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                    {
                        marked.Add(reader.GetInt64(0));
                    }
                }
            }

            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            var lost = outcomes.Where(o => !applied.Contains(o.Id)).Select(o => o.Id)
                .Concat(markSending.Where(m => !marked.Contains(m.Id)).Select(m => m.Id))
                .ToList();
            return new CommitResult(marked, lost);
        }, cancellationToken);
    }

    public Task<RenewResult> RenewLeaseAsync(string campaignId, string workerId, IReadOnlyList<ClaimedRow> held, TimeSpan lease, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(held);
        return Connections.RunAsync(async connection =>
        {
            // The first row carries the new lease end; the rest are the held rows that no longer carry their token.
            await using var command = new NpgsqlCommand($"""
                WITH held AS (SELECT * FROM unnest($1, $2) AS h(id, token)),
                renewed AS (
                    UPDATE recipients r SET lease_until = now() + $3
                    FROM held h
                    WHERE r.id = h.id AND r.lease_token = h.token AND {RenewCondition}
                    RETURNING r.id),
                heartbeat AS (
                    UPDATE workers SET renewed_at = now(), lease_until = now() + $3
                    WHERE campaign = $5 AND worker_id = $4)
                SELECT NULL::bigint, now() + $3
                UNION ALL
                SELECT h.id, NULL FROM held h WHERE NOT EXISTS (SELECT 1 FROM renewed WHERE renewed.id = h.id)
                """, connection);
            command.Parameters.Add(Array(held.Select(h => h.Id).ToArray(), NpgsqlDbType.Bigint));
            command.Parameters.Add(Array(held.Select(h => h.Token).ToArray(), NpgsqlDbType.Bigint));
            command.Parameters.Add(Interval(lease));
            command.Parameters.Add(new NpgsqlParameter { Value = workerId });
            command.Parameters.Add(new NpgsqlParameter { Value = campaignId });
            var lost = new List<long>();
            var until = DateTimeOffset.MinValue;
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                if (reader.IsDBNull(0))
                {
                    until = reader.GetFieldValue<DateTimeOffset>(1);
                }
                else
                {
                    lost.Add(reader.GetInt64(0));
                }
            }

            return new RenewResult(lost, until);
        }, cancellationToken);
    }

    public Task ReleaseAsync(string workerId, IReadOnlyList<ClaimedRow> rows, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(rows);
        if (rows.Count == 0)
        {
            return Task.CompletedTask;
        }

        return Connections.RunAsync(async connection =>
        {
            await using var command = new NpgsqlCommand($"""
                UPDATE recipients r SET lease_owner = NULL, lease_until = NULL, lease_token = NULL
                FROM unnest($1, $2) AS m(id, token)
                WHERE r.id = m.id AND r.lease_token = m.token AND {ReleaseCondition}
                """, connection);
            command.Parameters.Add(Array(rows.Select(m => m.Id).ToArray(), NpgsqlDbType.Bigint));
            command.Parameters.Add(Array(rows.Select(m => m.Token).ToArray(), NpgsqlDbType.Bigint));
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }, cancellationToken);
    }

    private static NpgsqlBatchCommand Command(string sql, params object[] values)
    {
        var command = new NpgsqlBatchCommand(sql);
        foreach (var value in values)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = value });
        }

        return command;
    }
}
