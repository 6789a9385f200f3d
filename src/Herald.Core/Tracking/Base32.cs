namespace Herald.Tracking;

/// <summary>
/// RFC 4648 base32 without padding, written in lowercase and read in either case: an email local part survives an MTA
/// that lowercases (or uppercases) it, which base64's mixed case would not. Only the one spelling the encoder writes
/// (ignoring case) decodes: no padding, no other characters, zero trailing bits.
/// </summary>
internal static class Base32
{
    private const string Alphabet = "abcdefghijklmnopqrstuvwxyz234567";

    public static int EncodedLength(int bytes) => ((bytes * 8) + 4) / 5;

    /// <summary>Lowercase base32 of <paramref name="data"/> (at most a few hundred bytes: it is built on the stack).</summary>
    public static string Encode(ReadOnlySpan<byte> data)
    {
        Span<char> chars = stackalloc char[EncodedLength(data.Length)];
        var buffer = 0;
        var bits = 0;
        var pos = 0;
        foreach (var b in data)
        {
            buffer = ((buffer << 8) | b) & 0xFFFF;
            bits += 8;
            while (bits >= 5)
            {
                bits -= 5;
                chars[pos++] = Alphabet[(buffer >> bits) & 31];
            }
        }

        if (bits > 0)
        {
            chars[pos] = Alphabet[(buffer << (5 - bits)) & 31];
        }

        return new string(chars);
    }

    /// <summary>Decodes into <paramref name="output"/>; false for any character outside the alphabet, an impossible length or non-zero trailing bits.</summary>
    public static bool TryDecode(ReadOnlySpan<char> text, Span<byte> output, out int written)
    {
        written = 0;
        var buffer = 0;
        var bits = 0;
        foreach (var c in text)
        {
            var value = c switch
            {
                >= 'a' and <= 'z' => c - 'a',
                >= 'A' and <= 'Z' => c - 'A',
                >= '2' and <= '7' => c - '2' + 26,
                _ => -1,
            };
            if (value < 0)
            {
                return false;
            }

            buffer = ((buffer << 5) | value) & 0xFFF;
            bits += 5;
            if (bits >= 8)
            {
                bits -= 8;
                if (written == output.Length)
                {
                    return false;
                }

                output[written++] = (byte)(buffer >> bits);
            }
        }

        // A canonical encoding leaves fewer than 5 unused bits, all zero.
        return bits < 5 && (buffer & ((1 << bits) - 1)) == 0;
    }
}
