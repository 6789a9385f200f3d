using Herald.Store;
using Microsoft.Data.Sqlite;

namespace Herald.Sqlite;

/// <summary>Writes a plan inside one transaction, so a failed prepare leaves the previous plan as it was.</summary>
internal sealed class SqlitePlanWriter : IPlanWriter
{
    private readonly SqliteConnection _connection;
    private readonly SqliteTransaction _transaction;
    private readonly SqliteCommand _insert;
    private readonly string _campaignId;
    private readonly string _fingerprint;
    private readonly long _now;
    private readonly SqliteParameter _recipientId;
    private readonly SqliteParameter _email;
    private readonly SqliteParameter _context;
    private readonly SqliteParameter _state;
    private readonly SqliteParameter _skip;
    private readonly SqliteParameter _messageId;
    private readonly string _path;
    private long _rows;
    private bool _committed;

    public SqlitePlanWriter(SqliteConnection connection, string campaignId, string fingerprint, long now, string path)
    {
        _path = path;
        _connection = connection;
        _campaignId = campaignId;
        _fingerprint = fingerprint;
        _now = now;
        // BEGIN IMMEDIATE: take the write lock now, so a concurrent sender cannot slip in between the check and the swap.
        _transaction = connection.BeginTransaction(deferred: false);
        using (var check = connection.CreateCommand())
        {
            check.Transaction = _transaction;
            check.CommandText = $"SELECT EXISTS (SELECT 1 FROM recipients WHERE campaign = $c AND (attempts > 0 OR state IN ({SqliteDeliveryStore.StartedStates})))";
            check.Parameters.AddWithValue("$c", campaignId);
            if ((long)check.ExecuteScalar()! != 0)
            {
                _transaction.Dispose();
                throw new StoreException($"campaign '{campaignId}' has already started sending; its plan cannot be replaced.");
            }

            check.CommandText = "DELETE FROM recipients WHERE campaign = $c; DELETE FROM plans WHERE campaign = $c;";
            check.ExecuteNonQuery();
        }

        _insert = connection.CreateCommand();
        _insert.Transaction = _transaction;
        _insert.CommandText = """
            INSERT INTO recipients (campaign, recipient_id, email, context, state, skip_reason, message_id, created_at, updated_at)
            VALUES ($c, $rid, $email, $ctx, $state, $skip, $mid, $now, $now)
            """;
        _insert.Parameters.AddWithValue("$c", campaignId);
        _insert.Parameters.AddWithValue("$now", now);
        _recipientId = _insert.Parameters.Add("$rid", SqliteType.Text);
        _email = _insert.Parameters.Add("$email", SqliteType.Text);
        _context = _insert.Parameters.Add("$ctx", SqliteType.Blob);
        _state = _insert.Parameters.Add("$state", SqliteType.Integer);
        _skip = _insert.Parameters.Add("$skip", SqliteType.Text);
        _messageId = _insert.Parameters.Add("$mid", SqliteType.Text);
        _insert.Prepare();
    }

    public Task AddAsync(IReadOnlyList<PlanEntry> entries, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_committed, this);
        try
        {
            Add(entries, cancellationToken);
        }
        catch (SqliteException ex)
        {
            throw SqliteErrors.ToStoreException(ex, $"{_path}: writing the plan of '{_campaignId}'");
        }

        return Task.CompletedTask;
    }

    private void Add(IReadOnlyList<PlanEntry> entries, CancellationToken cancellationToken)
    {
        foreach (var entry in entries)
        {
            cancellationToken.ThrowIfCancellationRequested();
            _recipientId.Value = entry.RecipientId;
            _email.Value = entry.Email;
            _context.Value = entry.Context.IsEmpty ? DBNull.Value : entry.Context.ToArray();
            _state.Value = entry.SkipReason is null ? (int)DeliveryState.Pending : (int)DeliveryState.Skipped;
            _skip.Value = (object?)entry.SkipReason ?? DBNull.Value;
            _messageId.Value = entry.MessageId;
            _insert.ExecuteNonQuery();
            _rows++;
        }
    }

    public Task CommitAsync(CancellationToken cancellationToken)
    {
        try
        {
            Commit();
        }
        catch (SqliteException ex)
        {
            throw SqliteErrors.ToStoreException(ex, $"{_path}: writing the plan of '{_campaignId}'");
        }

        return Task.CompletedTask;
    }

    private void Commit()
    {
        using (var command = _connection.CreateCommand())
        {
            command.Transaction = _transaction;
            command.CommandText = "INSERT INTO plans (campaign, fingerprint, created_at, row_count) VALUES ($c, $f, $now, $n)";
            command.Parameters.AddWithValue("$c", _campaignId);
            command.Parameters.AddWithValue("$f", _fingerprint);
            command.Parameters.AddWithValue("$now", _now);
            command.Parameters.AddWithValue("$n", _rows);
            command.ExecuteNonQuery();
        }

        _transaction.Commit();
        _committed = true;
    }

    public async ValueTask DisposeAsync()
    {
        await _insert.DisposeAsync().ConfigureAwait(false);
        await _transaction.DisposeAsync().ConfigureAwait(false);
        await _connection.DisposeAsync().ConfigureAwait(false);
    }
}
