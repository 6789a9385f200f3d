using Herald.Data;

namespace Herald.Prepare;

/// <summary>
/// A named column of a table. CSV and Parquet know their columns up front; JSONL discovers them row by row, so
/// the index is looked up again while it is not yet known.
/// </summary>
internal sealed class ColumnRef
{
    private readonly string _path;
    private readonly Func<IReadOnlyList<string>> _columns;
    private int _seenColumns = -1;
    private int _index = -1;

    public ColumnRef(ITableReader reader, string name)
        : this(reader.Path, () => reader.Columns, name)
    {
    }

    public ColumnRef(string path, Func<IReadOnlyList<string>> columns, string name)
    {
        _path = path;
        _columns = columns;
        Name = name;
        Resolve();
    }

    public string Name { get; }

    /// <summary>True when the reader's columns are fixed at open (CSV, Parquet): a missing column is an error at once.</summary>
    public bool HasFixedColumns => !_path.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase);

    public bool Found => _index >= 0;

    public int Index => _index >= 0 ? _index : Resolve();

    private int Resolve()
    {
        var columns = _columns();
        if (columns.Count == _seenColumns)
        {
            return _index;
        }

        _seenColumns = columns.Count;
        for (var i = 0; i < columns.Count; i++)
        {
            if (string.Equals(columns[i], Name, StringComparison.Ordinal))
            {
                _index = i;
                return i;
            }
        }

        return -1;
    }

    /// <summary>Throws the "missing column" problem now for fixed-column files, or at the end for JSONL.</summary>
    public void Require(string why, bool atEnd = false)
    {
        if (Found || (!atEnd && !HasFixedColumns))
        {
            return;
        }

        var message = HasFixedColumns
            ? $"no column '{Name}' ({why}); columns: {string.Join(", ", _columns())}"
            : $"no row has a field '{Name}' ({why})";
        throw new CampaignException(new Problem(_path, 0, 0, message));
    }
}
