using System.Buffers;
using System.Buffers.Binary;
using System.Buffers.Text;
using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using System.Text;

namespace Herald.Tracking;

/// <summary>
/// Creates and verifies tracking tokens: base64url of <c>payload || HMAC-SHA256(key, payload)[..16]</c>. The payload
/// holds a version, the kind, the campaign and recipient ids, the link number and (for clicks) the target URL, so the
/// tracking server needs no database to verify or redirect. Thread-safe.
/// </summary>
public sealed partial class TokenSigner
{
    /// <summary>Environment variable holding the secret (any string of at least 16 characters).</summary>
    public const string SecretVariable = "HERALD_SECRET";

    /// <summary>Environment variable naming the key file used when <see cref="SecretVariable"/> is unset.</summary>
    public const string SecretFileVariable = "HERALD_SECRET_FILE";

    /// <summary>Tokens longer than this are rejected before any work (the longest URL we sign is far shorter).</summary>
    public const int MaxTokenLength = 4096;

    private const byte Version = 1;
    private const int MacLength = 16;
    private readonly byte[] _key;

    [ThreadStatic]
    private static IncrementalHash? t_hmac;

    [ThreadStatic]
    private static byte[]? t_hmacKey;

    public TokenSigner(ReadOnlySpan<byte> key)
    {
        if (key.Length < 16)
        {
            throw new ArgumentException("The key must have at least 16 bytes.", nameof(key));
        }

        _key = key.ToArray();
    }

    /// <summary>
    /// The signer for this machine: the secret from <c>HERALD_SECRET</c>, or else the key file named by
    /// <c>HERALD_SECRET_FILE</c> (default <c>~/.config/herald/secret.key</c>), created with 32 random bytes when missing.
    /// </summary>
    public static TokenSigner FromEnvironment()
    {
        var secret = Environment.GetEnvironmentVariable(SecretVariable);
        if (!string.IsNullOrEmpty(secret))
        {
            if (secret.Length < 16)
            {
                throw new HeraldException($"{SecretVariable} must be at least 16 characters long.");
            }

            return new TokenSigner(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));
        }

        return new TokenSigner(LoadOrCreateKeyFile(DefaultKeyFile()));
    }

    /// <summary>The key file path used when no secret is in the environment.</summary>
    public static string DefaultKeyFile()
    {
        var configured = Environment.GetEnvironmentVariable(SecretFileVariable);
        if (!string.IsNullOrEmpty(configured))
        {
            return configured;
        }

        var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        return System.IO.Path.Combine(home, ".config", "herald", "secret.key");
    }

    internal static byte[] LoadOrCreateKeyFile(string path)
    {
        try
        {
            if (File.Exists(path))
            {
                var existing = File.ReadAllBytes(path);
                if (existing.Length < 16)
                {
                    throw new HeraldException($"{path}: the key file is shorter than 16 bytes; delete it to create a new one.");
                }

                return existing;
            }

            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!);
            var key = RandomNumberGenerator.GetBytes(32);
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            }

            try
            {
                using var stream = new FileStream(path, options);
                stream.Write(key);
                return key;
            }
            catch (IOException) when (File.Exists(path))
            {
                // Another process created it first: use theirs so both sign alike.
                return File.ReadAllBytes(path);
            }
        }
        catch (UnauthorizedAccessException ex)
        {
            throw new HeraldException($"{path}: cannot read or create the key file: {ex.Message}", ex);
        }
    }

    /// <summary>Creates the token for <paramref name="token"/>.</summary>
    public string Create(TrackingToken token)
    {
        ArgumentNullException.ThrowIfNull(token);
        var campaign = Encoding.UTF8.GetByteCount(token.CampaignId);
        var recipient = Encoding.UTF8.GetByteCount(token.RecipientId);
        var target = token.Target is null ? 0 : Encoding.UTF8.GetByteCount(token.Target);
        var payloadLength = 2 + 5 + campaign + 5 + recipient + 5 + 5 + target;
        var rented = ArrayPool<byte>.Shared.Rent(payloadLength + MacLength);
        try
        {
            var buffer = rented.AsSpan();
            var pos = 0;
            buffer[pos++] = Version;
            buffer[pos++] = (byte)token.Kind;
            pos += WriteString(buffer[pos..], token.CampaignId);
            pos += WriteString(buffer[pos..], token.RecipientId);
            pos += WriteVarint(buffer[pos..], (uint)token.LinkNumber);
            if (token.Target is not null)
            {
                pos += WriteString(buffer[pos..], token.Target);
            }

            Span<byte> mac = stackalloc byte[32];
            var hmac = t_hmac;
            if (hmac is null || !ReferenceEquals(t_hmacKey, _key))
            {
                // One keyed HMAC per thread, reset after each use: the one-shot API sets the key up (and, on
                // OpenSSL 3, fetches the algorithm) on every call, which made signing ~20 links per email costly.
                hmac?.Dispose();
                hmac = t_hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, _key);
                t_hmacKey = _key;
            }

            hmac.AppendData(buffer[..pos]);
            hmac.GetHashAndReset(mac);
            mac[..MacLength].CopyTo(buffer[pos..]);
            pos += MacLength;
            return Base64Url.EncodeToString(buffer[..pos]);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>Verifies a token; false for anything malformed, truncated, too long or signed with another key.</summary>
    public bool TryVerify(ReadOnlySpan<char> text, [NotNullWhen(true)] out TrackingToken? token)
    {
        token = null;
        if (text.IsEmpty || text.Length > MaxTokenLength)
        {
            return false;
        }

        var rented = ArrayPool<byte>.Shared.Rent(Base64Url.GetMaxDecodedLength(text.Length));
        try
        {
            if (Base64Url.DecodeFromChars(text, rented, out var consumed, out var written) != OperationStatus.Done
                || consumed != text.Length || written <= MacLength + 2)
            {
                return false;
            }

            var payload = rented.AsSpan(0, written - MacLength);
            Span<byte> mac = stackalloc byte[32];
            HMACSHA256.HashData(_key, payload, mac);
            if (!CryptographicOperations.FixedTimeEquals(mac[..MacLength], rented.AsSpan(written - MacLength, MacLength)))
            {
                return false;
            }

            return TryParse(payload, out token);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    private static bool TryParse(ReadOnlySpan<byte> payload, [NotNullWhen(true)] out TrackingToken? token)
    {
        token = null;
        if (payload[0] != Version || payload[1] is < 1 or > 3)
        {
            return false;
        }

        var kind = (TokenKind)payload[1];
        var rest = payload[2..];
        if (!TryReadString(ref rest, out var campaign) || !TryReadString(ref rest, out var recipient)
            || !TryReadVarint(ref rest, out var link))
        {
            return false;
        }

        string? target = null;
        if (!rest.IsEmpty && !TryReadString(ref rest, out target))
        {
            return false;
        }

        if (!rest.IsEmpty || link > int.MaxValue)
        {
            return false;
        }

        token = new TrackingToken(kind, campaign, recipient, (int)link, target);
        return true;
    }

    private static int WriteString(Span<byte> buffer, string value)
    {
        var length = Encoding.UTF8.GetByteCount(value);
        var pos = WriteVarint(buffer, (uint)length);
        return pos + Encoding.UTF8.GetBytes(value, buffer[pos..]);
    }

    private static int WriteVarint(Span<byte> buffer, uint value)
    {
        var pos = 0;
        while (value >= 0x80)
        {
            buffer[pos++] = (byte)(value | 0x80);
            value >>= 7;
        }

        buffer[pos++] = (byte)value;
        return pos;
    }

    private static bool TryReadVarint(ref ReadOnlySpan<byte> span, out uint value)
    {
        value = 0;
        for (var shift = 0; shift < 35; shift += 7)
        {
            if (span.IsEmpty)
            {
                return false;
            }

            var b = span[0];
            span = span[1..];
            value |= (uint)(b & 0x7F) << shift;
            if ((b & 0x80) == 0)
            {
                return true;
            }
        }

        return false;
    }

    private static bool TryReadString(ref ReadOnlySpan<byte> span, [NotNullWhen(true)] out string? value)
    {
        value = null;
        if (!TryReadVarint(ref span, out var length) || length > (uint)span.Length)
        {
            return false;
        }

        try
        {
            value = new UTF8Encoding(false, true).GetString(span[..(int)length]);
        }
        catch (DecoderFallbackException)
        {
            return false;
        }

        span = span[(int)length..];
        return true;
    }
}
