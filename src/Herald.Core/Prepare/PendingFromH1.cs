// TEMPORARY stand-ins for helper h1's Core pieces (same names), so prepare builds and tests on its own.
// Delete this file when h1's branch is merged into main.
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Sylvan.Data.Csv;

namespace Herald.Recipients
{
    public static class EmailAddress
    {
        public static bool TryNormalize(string? input, out string normalized)
        {
            normalized = string.Empty;
            var s = input?.Trim();
            if (string.IsNullOrEmpty(s))
            {
                return false;
            }

            var at = s.LastIndexOf('@');
            if (at <= 0 || at == s.Length - 1 || s.IndexOfAny([' ', '\r', '\n', '<', '>', ',']) >= 0)
            {
                return false;
            }

            var domain = s[(at + 1)..].ToLowerInvariant();
            if (!domain.Contains('.', StringComparison.Ordinal) || domain.StartsWith('.') || domain.EndsWith('.'))
            {
                return false;
            }

            try
            {
                domain = new IdnMapping().GetAscii(domain);
            }
            catch (ArgumentException)
            {
                return false;
            }

            normalized = string.Concat(s.AsSpan(0, at + 1), domain);
            return true;
        }
    }

    public static class RecipientIds
    {
        public static string For(string? recipientIdColumnValue, string normalizedEmail)
        {
            if (!string.IsNullOrWhiteSpace(recipientIdColumnValue))
            {
                return recipientIdColumnValue.Trim();
            }

            var hash = SHA256.HashData(Encoding.UTF8.GetBytes(normalizedEmail));
            return Convert.ToHexStringLower(hash.AsSpan(0, 8));
        }
    }
}

namespace Herald.Rendering
{
    public static class MessageIds
    {
        public static string Create(string campaignId, string recipientId, string fromDomain)
        {
            var hash = SHA256.HashData(Encoding.UTF8.GetBytes(campaignId + "\n" + recipientId));
            return $"<{Convert.ToHexStringLower(hash.AsSpan(0, 12))}@{fromDomain}>";
        }
    }
}

namespace Herald.Data
{
    public static class TableReaders
    {
        public static ITableReader Open(string path) => System.IO.Path.GetExtension(path).ToLowerInvariant() switch
        {
            ".csv" => new StubCsvReader(path),
            ".jsonl" => new StubJsonlReader(path),
            ".parquet" => new ParquetTableReader(path),
            _ => throw new CampaignException(new Problem(path, 0, 0, "unsupported table format (use .csv, .jsonl or .parquet)")),
        };
    }

    internal sealed class StubCsvReader : ITableReader
    {
        private readonly CsvDataReader _reader;

        public StubCsvReader(string path)
        {
            Path = path;
            if (!File.Exists(path))
            {
                throw new CampaignException(new Problem(path, 0, 0, "file not found"));
            }

            _reader = CsvDataReader.Create(path, new CsvDataReaderOptions { BufferSize = 1 << 16 });
            var columns = new string[_reader.FieldCount];
            for (var i = 0; i < columns.Length; i++)
            {
                columns[i] = _reader.GetName(i);
            }

            Columns = columns;
        }

        public string Path { get; }

        public IReadOnlyList<string> Columns { get; }

        public IEnumerable<DataRecord> ReadRows(CancellationToken cancellationToken = default)
        {
            var row = 0;
            while (_reader.Read())
            {
                row++;
                if (_reader.RowFieldCount != Columns.Count)
                {
                    throw new CampaignException(new Problem(Path, row, 0, $"expected {Columns.Count} fields, found {_reader.RowFieldCount}", IsRow: true));
                }

                var values = new object?[Columns.Count];
                for (var i = 0; i < values.Length; i++)
                {
                    values[i] = _reader.GetString(i);
                }

                yield return new DataRecord(row, values);
            }
        }

        public void Dispose() => _reader.Dispose();
    }

    internal sealed class StubJsonlReader : ITableReader
    {
        private readonly List<string> _columns = [];
        private readonly Dictionary<string, int> _index = new(StringComparer.Ordinal);

        public StubJsonlReader(string path)
        {
            Path = path;
            if (!File.Exists(path))
            {
                throw new CampaignException(new Problem(path, 0, 0, "file not found"));
            }
        }

        public string Path { get; }

        public IReadOnlyList<string> Columns => _columns;

        public IEnumerable<DataRecord> ReadRows(CancellationToken cancellationToken = default)
        {
            var line = 0;
            foreach (var text in File.ReadLines(Path))
            {
                line++;
                if (string.IsNullOrWhiteSpace(text))
                {
                    continue;
                }

                JsonDocument doc;
                try
                {
                    doc = JsonDocument.Parse(text);
                }
                catch (JsonException ex)
                {
                    throw new CampaignException(new Problem(Path, line, (int)(ex.BytePositionInLine ?? 0) + 1, "malformed JSON: " + ex.Message));
                }

                using (doc)
                {
                    if (doc.RootElement.ValueKind != JsonValueKind.Object)
                    {
                        throw new CampaignException(new Problem(Path, line, 1, "expected a JSON object"));
                    }

                    var values = new List<object?>(_columns.Count);
                    foreach (var p in doc.RootElement.EnumerateObject())
                    {
                        if (!_index.TryGetValue(p.Name, out var i))
                        {
                            i = _columns.Count;
                            _index[p.Name] = i;
                            _columns.Add(p.Name);
                        }

                        while (values.Count <= i)
                        {
                            values.Add(null);
                        }

                        values[i] = Convert(p.Value);
                    }

                    yield return new DataRecord(line, [.. values]);
                }
            }
        }

        private static object? Convert(JsonElement e) => e.ValueKind switch
        {
            JsonValueKind.String => e.GetString(),
            JsonValueKind.Number => e.TryGetInt64(out var l) ? l : e.GetDouble(),
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            JsonValueKind.Array => e.EnumerateArray().Select(Convert).ToList(),
            JsonValueKind.Object => e.EnumerateObject().ToDictionary(p => p.Name, p => Convert(p.Value)),
            _ => null,
        };

        public void Dispose()
        {
        }
    }
}
