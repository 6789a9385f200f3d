using System.Runtime.CompilerServices;
using System.Text;
using Sylvan.Data.Csv;

namespace Herald.Data;

/// <summary>CSV with a header row (Sylvan.Data.Csv). Values are strings; strict UTF-8; ragged rows and bad quoting are errors.</summary>
internal sealed class CsvTableReader : ITableReader
{
    private readonly StreamReader _text;
    private readonly CsvDataReader _csv;
    private readonly string[] _columns;
    private bool _read;

    public CsvTableReader(string fullPath, string display)
    {
        Path = display;
        var stream = new FileStream(fullPath, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
        _text = new StreamReader(stream, new UTF8Encoding(false, true), detectEncodingFromByteOrderMarks: false, bufferSize: 64 * 1024);
        try
        {
            _csv = Guard(0, () => CsvDataReader.Create(_text, new CsvDataReaderOptions
            {
                HasHeaders = true,
                Delimiter = ',',
                CsvStyle = CsvStyle.Standard,
                BufferSize = 64 * 1024,
                MaxBufferSize = 16 * 1024 * 1024,
            }));
            _columns = new string[_csv.FieldCount];
            var seen = new HashSet<string>(StringComparer.Ordinal);
            for (var i = 0; i < _columns.Length; i++)
            {
                var name = _csv.GetName(i).Trim();
                if (i == 0 && name.Length > 0 && name[0] == '\uFEFF')
                {
                    name = name[1..];
                }

                if (name.Length == 0)
                {
                    throw Error(0, $"header: column {i + 1} has no name");
                }

                if (!seen.Add(name))
                {
                    throw Error(0, $"header: column '{name}' appears twice");
                }

                _columns[i] = name;
            }
        }
        catch
        {
            _text.Dispose();
            throw;
        }
    }

    public string Path { get; }

    public IReadOnlyList<string> Columns => _columns;

    public IEnumerable<DataRecord> ReadRows(CancellationToken cancellationToken = default)
    {
        if (_read)
        {
            throw new InvalidOperationException("The rows of a table reader are read once.");
        }

        _read = true;
        return Rows(cancellationToken);
    }

    /// <summary>Most problems collected from one file before reading stops.</summary>
    private const int MaxProblems = 1000;

    /// <remarks>
    /// <see cref="DataRecord.Row"/> is the physical line the record starts on (the header is line 1; a quoted field
    /// with line breaks spans several lines), so every message points at the line an editor shows. Ragged rows are all
    /// collected and reported together at the end; a file that stops parsing (unbalanced quote, bad UTF-8) ends there.
    /// </remarks>
    private IEnumerable<DataRecord> Rows(CancellationToken cancellationToken)
    {
        var width = _columns.Length;
        var problems = new List<Problem>();
        var nextLine = 2;
        for (var i = 0; i < width; i++)
        {
            nextLine += _csv.GetName(i).AsSpan().Count('\n');
        }

        var records = 0;
        while (true)
        {
            if ((++records & 1023) == 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
            }

            var line = nextLine;
            bool more;
            try
            {
                more = ReadNext(line);
            }
            catch (CampaignException ex)
            {
                problems.AddRange(ex.Problems);
                throw new CampaignException(problems);
            }

            if (!more)
            {
                break;
            }

            var fields = _csv.RowFieldCount;
            var breaks = 0;
            for (var i = 0; i < fields; i++)
            {
                breaks += _csv.GetString(i).AsSpan().Count('\n');
            }

            nextLine += 1 + breaks;
            if (fields != width)
            {
                // A lone empty line is harmless; anything else ragged is a broken row.
                if (fields == 1 && _csv.GetString(0).Length == 0)
                {
                    continue;
                }

                problems.Add(Error(line, $"ragged row: {fields} fields, the header has {width}{DelimiterHint()}").Problems[0]);
                if (problems.Count >= MaxProblems)
                {
                    problems.Add(new Problem(Path, 0, 0, $"stopped after {MaxProblems} problems"));
                    break;
                }

                continue;
            }

            if (problems.Count > 0)
            {
                // The file is already broken: keep reading to report every problem, hand out nothing more.
                continue;
            }

            var values = new object?[width];
            for (var i = 0; i < width; i++)
            {
                values[i] = _csv.GetString(i);
            }

            yield return new DataRecord(line, values);
        }

        if (problems.Count > 0)
        {
            throw new CampaignException(problems);
        }
    }

    /// <summary>A hint when the header looks like another separator was used (a spreadsheet's ';' export).</summary>
    private string DelimiterHint() =>
        _columns.Length == 1 && _columns[0].Contains(';', StringComparison.Ordinal)
            ? " (the file seems to use ';' between fields; save it as comma-separated CSV)"
            : string.Empty;

    private bool ReadNext(int row)
    {
        try
        {
            return _csv.Read();
        }
        catch (Exception ex) when (ex is DecoderFallbackException or CsvFormatException or CsvRecordTooLargeException)
        {
            throw Translate(ex, row);
        }
    }

    private T Guard<T>(int row, Func<T> read)
    {
        try
        {
            return read();
        }
        catch (Exception ex) when (ex is DecoderFallbackException or CsvFormatException or CsvRecordTooLargeException or CsvMissingHeadersException)
        {
            throw Translate(ex, row);
        }
    }

    private CampaignException Translate(Exception ex, int row)
    {
        switch (ex)
        {
            case DecoderFallbackException:
                return Error(row, "not valid UTF-8 (save the file as UTF-8)");
            case CsvRecordTooLargeException:
                return Error(row, "record too large (an unbalanced quote?)");
            case CsvFormatException:
                return Error(row, "malformed CSV: unbalanced quotes");
            default:
                return Error(0, "the file has no header row");
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private CampaignException Error(int row, string message) =>
        new(new Problem(Path, row, 0, message, IsRow: row > 0));

    public void Dispose()
    {
        _csv?.Dispose();
        _text.Dispose();
    }
}
