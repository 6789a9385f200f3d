using Herald.Recipients;
using Herald.Store;

namespace Herald.Prepare;

/// <summary>One recipient row as it flows through the plan; objects are reused from batch to batch.</summary>
internal sealed class PlanRow
{
    public int Row { get; set; }

    public object?[] Values { get; set; } = [];

    public string Email { get; set; } = string.Empty;

    public string RecipientId { get; set; } = string.Empty;

    public string? SkipReason { get; set; }

    /// <summary>Per data set, the key group this row joins to, or -1 when its key is empty.</summary>
    public int[] Groups { get; set; } = [];

    public bool Deliverable => SkipReason is null;

    public object? Value(int column) => column >= 0 && column < Values.Length ? Values[column] : null;
}

/// <summary>
/// A per-row operator of the plan (map, filter, dedupe, ...). Operators see whole batches so the ones that need
/// a round trip (suppression) make one per batch; consecutive operators run fused in one loop over the batch.
/// Filters do not drop rows: a skipped row stays in the plan with its reason, and later operators pass it by.
/// </summary>
internal interface IRowOperator
{
    string Describe();

    ValueTask ApplyAsync(IReadOnlyList<PlanRow> batch, CancellationToken cancellationToken);
}

/// <summary>Filter: drops suppressed addresses, one suppression-list round trip per batch.</summary>
internal sealed class DropSuppressed(ISuppressionList suppression) : IRowOperator
{
    private readonly List<string> _emails = [];

    public string Describe() => "drop suppressed";

    public async ValueTask ApplyAsync(IReadOnlyList<PlanRow> batch, CancellationToken cancellationToken)
    {
        _emails.Clear();
        foreach (var row in batch)
        {
            if (row.Deliverable)
            {
                _emails.Add(row.Email);
            }
        }

        if (_emails.Count == 0)
        {
            return;
        }

        var suppressed = await suppression.FindSuppressedAsync(_emails, cancellationToken).ConfigureAwait(false);
        if (suppressed.Count == 0)
        {
            return;
        }

        foreach (var row in batch)
        {
            if (row.Deliverable && suppressed.Contains(row.Email))
            {
                row.SkipReason = SkipReasons.Suppressed;
            }
        }
    }
}

/// <summary>
/// The build side of a join: gives each distinct recipient key a group number, in order of first appearance
/// among deliverable rows, and counts how many rows share it.
/// </summary>
internal sealed class IndexJoinKeys(int dataSet, string dataSetName, string recipientsPath, ColumnRef column) : IRowOperator
{
    public Dictionary<string, int> Groups { get; } = new(StringComparer.Ordinal);

    /// <summary>
    /// The same groups for keys that are canonical whole numbers, so a data set with numeric keys (JSONL, Parquet)
    /// is probed without formatting a string per row.
    /// </summary>
    public Dictionary<long, int> NumericGroups { get; } = [];

    public int Count => Groups.Count;

    /// <summary>The group of a data-set key value, or -1.</summary>
    public int Find(object? value, string file, int row, string keyColumn)
    {
        if (value is long l)
        {
            return NumericGroups.TryGetValue(l, out var g) ? g : -1;
        }

        var key = JoinKeys.Canonical(value, file, row, keyColumn);
        return key is not null && Groups.TryGetValue(key, out var group) ? group : -1;
    }

    /// <summary>Deliverable rows per group; more than one means the joined value is shared and must be kept.</summary>
    public List<int> References { get; } = [];

    public string Describe() => $"index '{column.Name}' for join '{dataSetName}'";

    public ValueTask ApplyAsync(IReadOnlyList<PlanRow> batch, CancellationToken cancellationToken)
    {
        foreach (var row in batch)
        {
            if (!row.Deliverable)
            {
                continue;
            }

            var key = JoinKeys.Canonical(row.Value(column.Index), recipientsPath, row.Row, column.Name);
            if (key is null)
            {
                row.Groups[dataSet] = -1;
                continue;
            }

            if (!Groups.TryGetValue(key, out var group))
            {
                group = Groups.Count;
                Groups.Add(key, group);
                References.Add(0);
                if (long.TryParse(key, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out var number)
                    && number.ToString(System.Globalization.CultureInfo.InvariantCulture) == key)
                {
                    NumericGroups.Add(number, group);
                }
            }

            References[group]++;
            row.Groups[dataSet] = group;
        }

        return ValueTask.CompletedTask;
    }
}

/// <summary>
/// Read, normalize and dedupe, fused: <see cref="RecipientList"/> (the same rules <c>herald validate</c> applies)
/// yields each row with its normalized address, invalid or duplicate; rows come out in batches of reusable objects.
/// Invalid and duplicate rows get a row-qualified id (<c>ID~rowN</c>) so they never take the id of a row that is sent.
/// </summary>
internal sealed class RecipientSource(RecipientList recipients, int dataSets, int batchSize)
{
    public long RowsRead { get; private set; }

    /// <summary>Column names as of the rows handed out so far (read on another thread, so a snapshot).</summary>
    public IReadOnlyList<string> Columns { get; private set; } = [.. recipients.Columns];

    public static string Describe(string path) => $"read {Path.GetFileName(path)} → normalize addresses (invalid → skipped) → dedupe by address and recipient_id (first wins)";

    public IEnumerable<List<PlanRow>> ReadBatches(CancellationToken cancellationToken)
    {
        var pool = new List<PlanRow>(batchSize);
        var batch = new List<PlanRow>(batchSize);
        foreach (var chunk in Prefetch.Chunks(recipients.Read(cancellationToken), () => recipients.Columns, cancellationToken))
        {
            Columns = chunk.Columns;
            foreach (var entry in chunk.Items)
            {
                if (batch.Count == pool.Count)
                {
                    pool.Add(new PlanRow { Groups = new int[dataSets] });
                }

                var row = pool[batch.Count];
                row.Row = entry.Row;
                row.Values = entry.Values;
                Array.Fill(row.Groups, -1);
                switch (entry.Status)
                {
                    case RecipientStatus.Ok:
                        row.Email = entry.Email!;
                        row.RecipientId = entry.RecipientId!;
                        row.SkipReason = null;
                        break;
                    case RecipientStatus.Duplicate:
                        row.Email = entry.Email!;
                        row.RecipientId = Qualified(entry.RecipientId!, entry.Row);
                        row.SkipReason = SkipReasons.Duplicate;
                        break;
                    default:
                        row.Email = entry.RawEmail.Trim();
                        row.RecipientId = Qualified(RecipientIds.For(null, row.Email), entry.Row);
                        row.SkipReason = SkipReasons.Invalid;
                        break;
                }

                batch.Add(row);
                RowsRead++;
                if (batch.Count == batchSize)
                {
                    yield return batch;
                    cancellationToken.ThrowIfCancellationRequested();
                    batch.Clear();
                }
            }
        }

        if (batch.Count > 0)
        {
            yield return batch;
        }
    }

    private static string Qualified(string id, int row) => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{id}~row{row}");
}
