using System.Text;

namespace Herald.Dkim;

/// <summary>The DNS TXT record that publishes a DKIM public key (RFC 6376 §3.6.2).</summary>
public static class DkimDnsRecord
{
    /// <summary>One character-string of a TXT record holds at most 255 bytes (RFC 1035 §3.3); longer text is split.</summary>
    public const int MaxStringLength = 255;

    /// <summary>The record's owner name: <c>selector._domainkey.domain</c>.</summary>
    public static string Name(string selector, string domain) => $"{selector}._domainkey.{domain}";

    /// <summary>
    /// A zone-file line, <c>s._domainkey.d IN TXT "v=DKIM1; k=rsa; p=…" "…"</c>: the text in strings of at most 255
    /// bytes, which a resolver joins back without separators (RFC 6376 §3.6.2.2).
    /// </summary>
    public static string ZoneLine(string selector, string domain, string text)
    {
        var line = new StringBuilder(text.Length + 64);
        line.Append(Name(selector, domain)).Append(" IN TXT");
        foreach (var chunk in Split(text))
        {
            line.Append(" \"").Append(chunk).Append('"');
        }

        return line.ToString();
    }

    /// <summary>The text cut into strings of at most 255 bytes (the record is ASCII: bytes are characters).</summary>
    public static IEnumerable<string> Split(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        for (var i = 0; i < text.Length; i += MaxStringLength)
        {
            yield return text.Substring(i, Math.Min(MaxStringLength, text.Length - i));
        }
    }
}
