using System.Buffers;
using System.Buffers.Text;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Herald.Campaigns;

namespace Herald.Dkim;

/// <summary>
/// Signs serialized messages (RFC 6376, relaxed/relaxed; RFC 8463 for Ed25519): hashes the body and the signed
/// headers of the bytes that go on the wire, once per message, and returns the DKIM-Signature header field(s) to put
/// in front of them. The keys are loaded once; thread-safe.
/// </summary>
public sealed class DkimSigner : IDisposable
{
    [ThreadStatic]
    private static IncrementalHash? t_bodyHash;

    [ThreadStatic]
    private static byte[]? t_scratch;

    [ThreadStatic]
    private static byte[]? t_output;

    private readonly (DkimKey Key, string Selector)[] _signatures;
    private readonly byte[][] _signedNames;
    private readonly string _domain;
    private readonly TimeProvider _time;
    private readonly bool _ownsKeys;

    /// <summary>A signer for <paramref name="options"/> with keys already loaded (the Ed25519 one only with <see cref="DkimAlgorithm.Both"/>).</summary>
    public DkimSigner(DkimOptions options, DkimKey key, DkimKey? ed25519Key = null, TimeProvider? time = null)
        : this(options, key, ed25519Key, time, ownsKeys: false)
    {
    }

    private DkimSigner(DkimOptions options, DkimKey key, DkimKey? ed25519Key, TimeProvider? time, bool ownsKeys)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(key);
        var expected = options.Algorithm == DkimAlgorithm.Ed25519Sha256 ? DkimAlgorithm.Ed25519Sha256 : DkimAlgorithm.RsaSha256;
        if (key.Algorithm != expected)
        {
            throw new ArgumentException($"dkim.key is {key.AlgorithmTag}, the campaign says {expected}", nameof(key));
        }

        if (options.Algorithm == DkimAlgorithm.Both)
        {
            if (ed25519Key is not { Algorithm: DkimAlgorithm.Ed25519Sha256 })
            {
                throw new ArgumentException("algorithm both needs an Ed25519 key", nameof(ed25519Key));
            }

            _signatures = [(key, options.Selector), (ed25519Key, options.Ed25519Selector!)];
        }
        else
        {
            _signatures = [(key, options.Selector)];
        }

        Options = options;
        _domain = options.Domain;
        _signedNames = [.. options.Headers.Select(h => Encoding.ASCII.GetBytes(h.ToLowerInvariant()))];
        _time = time ?? TimeProvider.System;
        _ownsKeys = ownsKeys;
        // The header block is bounded by the message, the signature by its tags: a generous estimate, exceeded only
        // by a message with many repeated signed headers (then the caller makes room).
        EstimatedLength = _signatures.Sum(s => 400 + _domain.Length + s.Selector.Length + (s.Key.SignatureLength * 3 / 2)
            + (_signedNames.Sum(n => n.Length + 1) * 3 / 2));
    }

    public DkimOptions Options { get; }

    /// <summary>The keys in signing order, with their selectors (for validate and the DNS records).</summary>
    public IReadOnlyList<(DkimKey Key, string Selector)> Keys => _signatures;

    /// <summary>Room to keep in front of a message for its signature header(s).</summary>
    public int EstimatedLength { get; }

    /// <summary>
    /// Loads the key(s) the campaign names; a key that does not load, does not match the algorithm or is an RSA key
    /// under 1024 bits is a <see cref="CampaignException"/> at the key's position. <paramref name="warnings"/> gets
    /// what is allowed but weak (an RSA key under 2048 bits).
    /// </summary>
    public static DkimSigner Load(Campaign campaign, ICollection<Problem>? warnings = null)
    {
        ArgumentNullException.ThrowIfNull(campaign);
        var options = campaign.Dkim ?? throw new ArgumentException("The campaign has no dkim section.", nameof(campaign));
        var display = DisplayPath.For(campaign.FilePath);
        var problems = new List<Problem>();
        var main = LoadOne(options.Key, "dkim.key", options.Algorithm == DkimAlgorithm.Ed25519Sha256 ? DkimAlgorithm.Ed25519Sha256 : DkimAlgorithm.RsaSha256, display, problems, warnings);
        DkimKey? ed = null;
        if (options.Algorithm == DkimAlgorithm.Both)
        {
            ed = LoadOne(options.Ed25519Key!, "dkim.ed25519_key", DkimAlgorithm.Ed25519Sha256, display, problems, warnings);
        }

        if (problems.Count > 0)
        {
            main?.Dispose();
            ed?.Dispose();
            throw new CampaignException(problems);
        }

        return new DkimSigner(options, main!, ed, null, ownsKeys: true);
    }

    private static DkimKey? LoadOne(DkimKeySource source, string label, DkimAlgorithm expected, string display, List<Problem> problems, ICollection<Problem>? warnings)
    {
        var (line, column) = source.Position;
        DkimKey key;
        try
        {
            key = DkimKey.Load(source);
        }
        catch (DkimKeyException ex)
        {
            problems.Add(new Problem(display, line, column, $"{label}: {source.Label}: {ex.Message}"));
            return null;
        }

        if (key.Algorithm != expected)
        {
            problems.Add(new Problem(display, line, column, $"{label}: {source.Label} is an {(key.Algorithm == DkimAlgorithm.RsaSha256 ? "RSA" : "Ed25519")} key; this one must be {(expected == DkimAlgorithm.RsaSha256 ? "RSA (rsa-sha256)" : "Ed25519 (ed25519-sha256)")}"));
            key.Dispose();
            return null;
        }

        if (key.Algorithm == DkimAlgorithm.RsaSha256 && key.Bits < 1024)
        {
            problems.Add(new Problem(display, line, column, $"{label}: {source.Label} is an RSA key of {key.Bits} bits; receivers ignore DKIM keys under 1024 bits (make a 2048-bit one: herald dkim keygen)"));
            key.Dispose();
            return null;
        }

        if (key.Algorithm == DkimAlgorithm.RsaSha256 && key.Bits < 2048)
        {
            warnings?.Add(new Problem(display, line, column, $"{label}: {source.Label} is an RSA key of {key.Bits} bits; 2048 is recommended (Gmail, Yahoo)"));
        }

        return key;
    }

    /// <summary>
    /// The DKIM-Signature header field(s), CRLF-terminated, for <paramref name="message"/> (header block, blank line,
    /// body, CRLF line ends; dot-stuffed when <paramref name="dotStuffed"/>). The span is valid until this thread's
    /// next call.
    /// </summary>
    public ReadOnlySpan<byte> Sign(ReadOnlySpan<byte> message, bool dotStuffed)
    {
        var split = message.IndexOf("\r\n\r\n"u8);
        var headers = split < 0 ? message : message[..(split + 2)];
        var body = split < 0 ? [] : message[(split + 4)..];

        Span<byte> bodyHash = stackalloc byte[32];
        var hasher = t_bodyHash ??= IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        RelaxedCanonicalization.HashBody(body, dotStuffed, hasher);
        hasher.GetHashAndReset(bodyHash);

        byte[]? unstuffed = null;
        try
        {
            if (dotStuffed && (headers.StartsWith("."u8) || headers.IndexOf("\n."u8) >= 0))
            {
                unstuffed = ArrayPool<byte>.Shared.Rent(headers.Length);
                headers = Unstuff(headers, unstuffed);
            }

            return SignHeaders(headers, bodyHash);
        }
        finally
        {
            if (unstuffed is not null)
            {
                ArrayPool<byte>.Shared.Return(unstuffed);
            }
        }
    }

    private ReadOnlySpan<byte> SignHeaders(scoped ReadOnlySpan<byte> headers, scoped ReadOnlySpan<byte> bodyHash)
    {
        // A field starts on a line: the number of lines bounds the number of fields.
        var lines = headers.Count("\r\n"u8) + 1;
        Span<Range> fields = lines <= 128 ? stackalloc Range[128] : new Range[lines];
        var count = ParseFields(headers, fields);
        fields = fields[..count];
        Span<bool> used = count <= 128 ? stackalloc bool[128] : new bool[count];
        used.Clear();

        var scratch = Rent(ref t_scratch, RelaxedCanonicalization.MaxHeaderLength(headers.Length) + (2 * EstimatedLength) + 1024);
        var output = Rent(ref t_output, 2 * EstimatedLength);
        // h=: every present instance of each signed name, bottom up (§5.4.2), then From once more so that a From added
        // later breaks the signature (over-signing, §8.15).
        var names = new StringBuilder(256);
        var canonical = 0;
        foreach (var name in _signedNames)
        {
            var instances = 0;
            for (var i = count - 1; i >= 0; i--)
            {
                if (!used[i] && NameIs(headers[fields[i]], name))
                {
                    used[i] = true;
                    canonical += RelaxedCanonicalization.Header(headers[fields[i]], scratch.AsSpan(canonical));
                    AppendName(names, name);
                    instances++;
                }
            }

            if (name.AsSpan().SequenceEqual("from"u8))
            {
                AppendName(names, name);
            }
        }

        var written = 0;
        var timestamp = _time.GetUtcNow().ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        Span<byte> digest = stackalloc byte[32];
        Span<byte> signature = stackalloc byte[DkimKey.MaxSignatureLength];
        foreach (var (key, selector) in _signatures)
        {
            var start = written;
            written += Ascii(output.AsSpan(written), $"DKIM-Signature: v=1; a={key.AlgorithmTag}; c=relaxed/relaxed; d={_domain}; s={selector};\r\n\tt={timestamp}; bh=");
            written += Base64Into(bodyHash, output.AsSpan(written));
            written += Ascii(output.AsSpan(written), ";\r\n\th=");
            written += FoldedNames(names, output.AsSpan(written));
            written += Ascii(output.AsSpan(written), ";\r\n\tb=");

            // The signature covers the signed headers, then this header with an empty b= and no final CRLF (§3.7).
            var length = canonical + RelaxedCanonicalization.Header(output.AsSpan(start, written - start), scratch.AsSpan(canonical), withCrlf: false);
            SHA256.HashData(scratch.AsSpan(0, length), digest);
            var signed = key.SignDigest(digest, signature);
            written += FoldedBase64(signature[..signed], output.AsSpan(written), column: 3);
            written += Ascii(output.AsSpan(written), "\r\n");
        }

        return output.AsSpan(0, written);
    }

    public void Dispose()
    {
        if (_ownsKeys)
        {
            foreach (var (key, _) in _signatures)
            {
                key.Dispose();
            }
        }
    }

    private static byte[] Rent(ref byte[]? cached, int size)
    {
        if (cached is null || cached.Length < size)
        {
            cached = new byte[Math.Max(size, 16 * 1024)];
        }

        return cached;
    }

    private static void AppendName(StringBuilder names, byte[] name)
    {
        if (names.Length > 0)
        {
            names.Append(':');
        }

        foreach (var b in name)
        {
            names.Append((char)b);
        }
    }

    /// <summary>The h= list, folded before a name that would pass column 76.</summary>
    private static int FoldedNames(StringBuilder names, Span<byte> output)
    {
        var written = 0;
        var column = 3;
        foreach (var name in names.ToString().Split(':'))
        {
            if (written > 0)
            {
                output[written++] = (byte)':';
                column++;
                if (column + name.Length > 76)
                {
                    written += Ascii(output[written..], "\r\n\t");
                    column = 1;
                }
            }

            written += Ascii(output[written..], name);
            column += name.Length;
        }

        return written;
    }

    /// <summary>Base64 folded in lines of at most 76 columns (FWS inside b= is ignored by verifiers).</summary>
    private static int FoldedBase64(ReadOnlySpan<byte> data, Span<byte> output, int column)
    {
        Span<byte> encoded = stackalloc byte[((data.Length + 2) / 3) * 4];
        Base64.EncodeToUtf8(data, encoded, out _, out var length);
        var written = 0;
        var remaining = encoded[..length];
        var room = 76 - column;
        while (!remaining.IsEmpty)
        {
            var take = Math.Min(room, remaining.Length);
            remaining[..take].CopyTo(output[written..]);
            written += take;
            remaining = remaining[take..];
            if (!remaining.IsEmpty)
            {
                written += Ascii(output[written..], "\r\n\t");
                room = 75;
            }
        }

        return written;
    }

    private static int Base64Into(ReadOnlySpan<byte> data, Span<byte> output)
    {
        Base64.EncodeToUtf8(data, output, out _, out var written);
        return written;
    }

    private static int Ascii(Span<byte> output, string text) => Encoding.ASCII.GetBytes(text, output);

    /// <summary>Whether the field's name (before the colon, white space ignored) is <paramref name="name"/> (lower case).</summary>
    private static bool NameIs(ReadOnlySpan<byte> field, ReadOnlySpan<byte> name)
    {
        var colon = field.IndexOf((byte)':');
        if (colon < 0)
        {
            return false;
        }

        var actual = field[..colon].TrimEnd(" \t"u8);
        if (actual.Length != name.Length)
        {
            return false;
        }

        for (var i = 0; i < name.Length; i++)
        {
            var b = actual[i];
            if ((b is >= (byte)'A' and <= (byte)'Z' ? (byte)(b | 0x20) : b) != name[i])
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Splits a header block into fields (a field runs until a line that does not start with SP or HTAB).</summary>
    private static int ParseFields(ReadOnlySpan<byte> headers, Span<Range> fields)
    {
        var count = 0;
        var start = 0;
        var position = 0;
        while (position < headers.Length)
        {
            var newline = headers[position..].IndexOf("\r\n"u8);
            var next = newline < 0 ? headers.Length : position + newline + 2;
            var continues = next < headers.Length && headers[next] is (byte)' ' or (byte)'\t';
            if (!continues)
            {
                fields[count++] = start..next;
                start = next;
            }

            position = next;
        }

        return count;
    }

    private static ReadOnlySpan<byte> Unstuff(ReadOnlySpan<byte> stuffed, byte[] into)
    {
        var written = 0;
        var atLineStart = true;
        foreach (var b in stuffed)
        {
            if (atLineStart && b == '.')
            {
                atLineStart = false;
                continue;
            }

            into[written++] = b;
            atLineStart = b == '\n';
        }

        return into.AsSpan(0, written);
    }
}
