using System.Globalization;
using System.Security.Cryptography;

namespace Herald.Bounces;

/// <summary>
/// The folder where mail that could not be turned into events is kept, never dropped: <c>NAME.eml</c> as received and
/// <c>NAME.eml.reason</c> saying why. Each file is written under a temporary name, flushed to disk and renamed, so a
/// crash leaves either a whole file or none. Thread-safe.
/// </summary>
public sealed class BounceQuarantine
{
    public BounceQuarantine(string folder)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        Folder = Path.GetFullPath(folder);
    }

    /// <summary>The folder (absolute).</summary>
    public string Folder { get; }

    /// <summary>Messages kept so far (every <c>.eml</c> in the folder).</summary>
    public int Count => Directory.Exists(Folder) ? Directory.EnumerateFiles(Folder, "*.eml").Count() : 0;

    /// <summary>Keeps one message; returns its path. Throws <see cref="IOException"/> when the folder is not writable.</summary>
    public string Keep(ReadOnlySpan<byte> message, string reason)
    {
        Directory.CreateDirectory(Folder);
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(message, hash);
        var name = string.Create(CultureInfo.InvariantCulture, $"{DateTime.UtcNow:yyyyMMdd'T'HHmmss'Z'}-{Convert.ToHexStringLower(hash[..6])}.eml");
        var path = Path.Combine(Folder, name);
        WriteDurably(path + ".reason", System.Text.Encoding.UTF8.GetBytes(reason.ReplaceLineEndings(" ") + "\n"));
        WriteDurably(path, message);
        return path;
    }

    private static void WriteDurably(string path, ReadOnlySpan<byte> content)
    {
        var temporary = path + ".tmp-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
        using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, 1, FileOptions.None))
        {
            stream.Write(content);
            stream.Flush(flushToDisk: true);
        }

        File.Move(temporary, path, overwrite: true);
    }
}
