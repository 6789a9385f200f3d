using Herald.Campaigns;

namespace Herald.Data;

/// <summary>Opens a table file by its extension. New formats register one line in <see cref="Formats"/>.</summary>
public static class TableReaders
{
    /// <summary>Extension (lowercase, with dot) → factory taking (full path, display path).</summary>
    private static readonly Dictionary<string, Func<string, string, ITableReader>> Formats = new(StringComparer.OrdinalIgnoreCase)
    {
        [".csv"] = (full, display) => new CsvTableReader(full, display),
        [".jsonl"] = (full, display) => new JsonlTableReader(full, display),
        [".parquet"] = (full, display) => new ParquetTableReader(full, display),
    };

    /// <summary>The supported extensions, for messages.</summary>
    public static string SupportedList => string.Join(", ", Formats.Keys.Order(StringComparer.Ordinal));

    public static bool IsSupported(string path) => Formats.ContainsKey(System.IO.Path.GetExtension(path));

    /// <summary>Opens <paramref name="path"/>; throws <see cref="CampaignException"/> when it is missing, empty or of an unknown type.</summary>
    public static ITableReader Open(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var display = DisplayPath.For(path);
        if (!Formats.TryGetValue(System.IO.Path.GetExtension(path), out var factory))
        {
            throw new CampaignException(new Problem(display, 0, 0, $"unsupported file type '{System.IO.Path.GetExtension(path)}' (use {SupportedList})"));
        }

        var full = System.IO.Path.GetFullPath(path);
        if (!File.Exists(full))
        {
            throw new CampaignException(new Problem(display, 0, 0, "file not found"));
        }

        if (new FileInfo(full).Length == 0)
        {
            throw new CampaignException(new Problem(display, 0, 0, "the file is empty"));
        }

        return factory(full, display);
    }
}
