using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;

namespace Herald.Tracking;

/// <summary>
/// One HMAC key with its short public id and where it came from. The id is derived from the key (HMAC of a fixed
/// label, so it reveals nothing of the key): two processes that print the same id sign alike, and a token says which
/// key signed it. Thread-safe.
/// </summary>
public sealed class TokenKey
{
    private static readonly byte[] IdLabel = "herald tracking key id"u8.ToArray();
    private readonly byte[] _key;

    // One keyed HMAC per thread and key, reset after each use: the one-shot API sets the key up (and, on OpenSSL 3,
    // fetches the algorithm) on every call, which doubled the cost of a token.
    private readonly ThreadLocal<IncrementalHash> _hmac;

    /// <param name="key">At least 16 bytes.</param>
    /// <param name="source">Where the key came from, for messages (a variable name or a file path; never the key).</param>
    public TokenKey(ReadOnlySpan<byte> key, string source)
    {
        if (key.Length < 16)
        {
            throw new ArgumentException("The key must have at least 16 bytes.", nameof(key));
        }

        ArgumentException.ThrowIfNullOrEmpty(source);
        _key = key.ToArray();
        Source = source;
        Span<byte> mac = stackalloc byte[32];
        HMACSHA256.HashData(_key, IdLabel, mac);
        Id = BinaryPrimitives.ReadUInt32BigEndian(mac);
        var bytes = _key;
        _hmac = new ThreadLocal<IncrementalHash>(() => IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, bytes));
    }

    /// <summary>The key id as carried in tokens.</summary>
    public uint Id { get; }

    /// <summary>The key id as printed: 8 lowercase hex digits.</summary>
    public string IdText => FormatId(Id);

    /// <summary>Where the key came from (variable or file), for messages.</summary>
    public string Source { get; }

    public static string FormatId(uint id) => id.ToString("x8", CultureInfo.InvariantCulture);

    /// <summary>Writes HMAC-SHA256(key, data) into <paramref name="mac"/> (32 bytes).</summary>
    internal void Mac(ReadOnlySpan<byte> data, Span<byte> mac)
    {
        var hmac = _hmac.Value!;
        hmac.AppendData(data);
        hmac.GetHashAndReset(mac);
    }

    public override string ToString() => $"{IdText} (from {Source})";
}
