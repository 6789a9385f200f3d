using Herald.Data;

namespace Herald.Recipients;

/// <summary>What became of one recipient row.</summary>
public enum RecipientStatus
{
    Ok,

    /// <summary>Not a deliverable address (or an unusable recipient_id); skipped and reported.</summary>
    Invalid,

    /// <summary>Same normalized address (or recipient_id) as an earlier row; the first row wins.</summary>
    Duplicate,
}

/// <summary>One row of the recipients file after normalization and dedupe.</summary>
/// <param name="Row">1-based data row.</param>
/// <param name="Status">Ok, invalid or duplicate.</param>
/// <param name="RawEmail">The email field as read (may be empty).</param>
/// <param name="Email">Normalized address; null when invalid.</param>
/// <param name="RecipientId">Stable id (see <see cref="RecipientIds"/>); null when invalid.</param>
/// <param name="Reason">Why the row is skipped; null when ok.</param>
/// <param name="Values">Field values in the order of <see cref="RecipientList.Columns"/> (may be shorter for JSONL).</param>
public sealed record RecipientEntry(int Row, RecipientStatus Status, string RawEmail, string? Email, string? RecipientId, string? Reason, object?[] Values);

/// <summary>
/// Streams a recipients file (CSV or JSONL): each row with its normalized address and status. Duplicates are found
/// with one hash set of comparison keys (<see cref="EmailAddress.ComparisonKey"/>: the local part case-insensitive
/// unless the campaign says otherwise). The address kept is the first row's, as the list gives it.
/// </summary>
public sealed class RecipientList : IDisposable
{
    /// <summary>The required address column.</summary>
    public const string EmailColumn = "email";

    private const int MaxRecipientIdLength = 200;
    private readonly ITableReader _reader;

    private readonly bool _caseSensitiveLocalPart;

    private RecipientList(ITableReader reader, bool caseSensitiveLocalPart)
    {
        _reader = reader;
        _caseSensitiveLocalPart = caseSensitiveLocalPart;
    }

    public string Path => _reader.Path;

    /// <summary>Column names (JSONL: grows while reading).</summary>
    public IReadOnlyList<string> Columns => _reader.Columns;

    /// <summary>Opens the file; a CSV without an <c>email</c> column is a <see cref="CampaignException"/>.</summary>
    public static RecipientList Open(string path, bool caseSensitiveLocalPart = false)
    {
        var reader = TableReaders.Open(path);
        if (reader.Columns.Count > 0 && !reader.Columns.Contains(EmailColumn))
        {
            var columns = string.Join(", ", reader.Columns);
            var hint = reader.Columns.FirstOrDefault(c => string.Equals(c.Trim(), EmailColumn, StringComparison.OrdinalIgnoreCase)) is { } near
                ? $"; column names are case-sensitive: rename '{near}' to '{EmailColumn}'"
                : reader.Columns.Count == 1 && reader.Columns[0].Contains(';', StringComparison.Ordinal)
                    ? "; the file seems to use ';' between fields: save it as comma-separated CSV"
                    : string.Empty;
            reader.Dispose();
            throw new CampaignException(new Problem(DisplayPathOf(path), 1, 0, $"no '{EmailColumn}' column (columns: {columns}){hint}", IsRow: true));
        }

        return new RecipientList(reader, caseSensitiveLocalPart);
    }

    public IEnumerable<RecipientEntry> Read(CancellationToken cancellationToken = default)
    {
        var seenEmails = new HashSet<string>(StringComparer.Ordinal);
        var seenIds = new HashSet<string>(StringComparer.Ordinal);
        int emailOrdinal = -1, idOrdinal = -1;
        foreach (var record in _reader.ReadRows(cancellationToken))
        {
            if (emailOrdinal < 0 || idOrdinal < 0)
            {
                // JSONL discovers columns as it goes.
                var columns = _reader.Columns;
                for (var i = 0; i < columns.Count; i++)
                {
                    if (columns[i] == EmailColumn)
                    {
                        emailOrdinal = i;
                    }
                    else if (columns[i] == RecipientIds.Column)
                    {
                        idOrdinal = i;
                    }
                }
            }

            var values = record.Values;
            var rawValue = emailOrdinal >= 0 && emailOrdinal < values.Length ? values[emailOrdinal] : null;
            var raw = rawValue as string ?? string.Empty;
            if (rawValue is not (string or null))
            {
                yield return new RecipientEntry(record.Row, RecipientStatus.Invalid, Convert.ToString(rawValue, System.Globalization.CultureInfo.InvariantCulture) ?? "", null, null, "invalid address: not text", values);
                continue;
            }

            if (!EmailAddress.TryNormalize(raw, out var email, out var error))
            {
                yield return new RecipientEntry(record.Row, RecipientStatus.Invalid, raw, null, null, $"invalid address: {error}", values);
                continue;
            }

            var idValue = idOrdinal >= 0 && idOrdinal < values.Length ? values[idOrdinal] : null;
            var idText = idValue switch
            {
                null => null,
                string s => s,
                long or int => Convert.ToString(idValue, System.Globalization.CultureInfo.InvariantCulture),
                _ => "\n",
            };
            if (idText is not null && (idText.Length > MaxRecipientIdLength || idText.Any(char.IsControl)))
            {
                yield return new RecipientEntry(record.Row, RecipientStatus.Invalid, raw, null, null, "invalid recipient_id: too long, not text, or contains control characters", values);
                continue;
            }

            // The id hashes the comparison key, so the same mailbox gets the same id whichever spelling the list has.
            var key = EmailAddress.ComparisonKey(email, _caseSensitiveLocalPart);
            var id = RecipientIds.For(idText, key);
            if (!seenEmails.Add(key))
            {
                yield return new RecipientEntry(record.Row, RecipientStatus.Duplicate, raw, email, id, $"duplicate address {email}", values);
                continue;
            }

            if (idText is not null && !seenIds.Add(id))
            {
                yield return new RecipientEntry(record.Row, RecipientStatus.Duplicate, raw, email, id, $"duplicate recipient_id {id}", values);
                continue;
            }

            yield return new RecipientEntry(record.Row, RecipientStatus.Ok, raw, email, id, null, values);
        }
    }

    private static string DisplayPathOf(string path) => Campaigns.DisplayPath.For(path);

    public void Dispose() => _reader.Dispose();
}
