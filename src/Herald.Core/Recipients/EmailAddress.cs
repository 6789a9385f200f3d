using System.Globalization;

namespace Herald.Recipients;

/// <summary>
/// Normalizes recipient addresses to the form we send to: trimmed, the local part as the list gives it, the domain
/// normalized by UTS #46 (case-folded, NFC, mapped: fullwidth letters to ASCII, ignorable zero-width characters
/// removed; disallowed ones rejected) and written as its ASCII form (A-labels, <c>xn--…</c>). Rejects what a relay
/// would refuse or what could break a header (CR/LF, spaces, quotes, address literals). <see cref="ComparisonKey"/>
/// is what dedupe and suppression compare.
/// </summary>
/// <remarks>
/// IDNA comes from ICU through <see cref="IdnMapping"/>: with invariant globalization .NET maps nothing and only
/// punycode-encodes the raw text (<c>BÜCHER</c>, decomposed <c>u&#x308;</c> and fullwidth letters each became a
/// different, wrong domain), so Herald runs with ICU (libicu) and refuses non-ASCII domains if ICU is missing.
/// </remarks>
public static class EmailAddress
{
    private const int MaxLocalLength = 64;
    private const int MaxAddressLength = 254;
    private static readonly IdnMapping Idn = new() { AllowUnassigned = false, UseStd3AsciiRules = true };

    /// <summary>True when IdnMapping does UTS #46 (ICU present, globalization not invariant).</summary>
    public static bool HasUts46 { get; } = ProbeUts46();

    /// <summary>
    /// The key two addresses are compared by (dedupe, suppression): the normalized address with its local part
    /// case-folded (and NFC-normalized) unless <paramref name="caseSensitiveLocalPart"/>. Every major mailbox provider
    /// treats <c>Zoe@</c> and <c>zoe@</c> as one mailbox.
    /// </summary>
    public static string ComparisonKey(string normalizedAddress, bool caseSensitiveLocalPart = false)
    {
        ArgumentNullException.ThrowIfNull(normalizedAddress);
        if (caseSensitiveLocalPart)
        {
            return normalizedAddress;
        }

        var at = normalizedAddress.LastIndexOf('@');
        var local = at < 0 ? normalizedAddress.AsSpan() : normalizedAddress.AsSpan(0, at);
        if (System.Text.Ascii.IsValid(local))
        {
            return local.ContainsAnyInRange('A', 'Z') ? string.Concat(local.ToString().ToLowerInvariant(), normalizedAddress.AsSpan(local.Length)) : normalizedAddress;
        }

        var folded = local.ToString().Normalize(System.Text.NormalizationForm.FormC).ToLowerInvariant();
        return string.Concat(folded, normalizedAddress.AsSpan(local.Length));
    }

    /// <summary>Most distinct international domains remembered (lists repeat a few domains a great many times).</summary>
    private const int MaxCachedDomains = 16_384;

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, string?> Domains = new(StringComparer.Ordinal);

    /// <summary>The UTS #46 ASCII form of a domain, or null when it is invalid; cached, since the ICU call costs ~4× a whole ASCII address.</summary>
    private static string? ToAscii(string domain)
    {
        if (Domains.TryGetValue(domain, out var cached))
        {
            return cached;
        }

        string? ascii;
        try
        {
            // UTS #46 processing (ICU): maps, normalizes and validates, and checks the labels already in punycode.
            ascii = Idn.GetAscii(domain).ToLowerInvariant();
        }
        catch (ArgumentException)
        {
            ascii = null;
        }

        if (Domains.Count < MaxCachedDomains)
        {
            Domains.TryAdd(domain, ascii);
        }

        return ascii;
    }

    private static bool ProbeUts46()
    {
        try
        {
            return Idn.GetAscii("BU\u0308CHER.example") == "xn--bcher-kva.example";
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    /// <summary>Normalizes <paramref name="raw"/>; false with a short reason when it is not a deliverable address.</summary>
    public static bool TryNormalize(string? raw, out string normalized, out string? error)
    {
        normalized = string.Empty;
        error = Check(raw, out var result);
        if (error is not null)
        {
            return false;
        }

        normalized = result!;
        return true;
    }

    private static string? Check(string? raw, out string? result)
    {
        result = null;
        if (raw is null)
        {
            return "empty address";
        }

        var text = raw.AsSpan().Trim();
        if (text.IsEmpty)
        {
            return "empty address";
        }

        foreach (var c in text)
        {
            if (c is '\r' or '\n')
            {
                return "contains a line break";
            }

            if (char.IsControl(c))
            {
                return "contains a control character";
            }

            if (char.IsWhiteSpace(c))
            {
                return "contains a space";
            }
        }

        var at = text.LastIndexOf('@');
        if (at < 0)
        {
            return "missing @";
        }

        var local = text[..at];
        var domain = text[(at + 1)..];
        if (local.IsEmpty)
        {
            return "empty local part";
        }

        if (domain.IsEmpty)
        {
            return "empty domain";
        }

        if (local.Length > MaxLocalLength)
        {
            return "local part longer than 64 characters";
        }

        if (CheckLocal(local) is { } localError)
        {
            return localError;
        }

        if (domain[0] == '[')
        {
            return "address literals ([1.2.3.4]) are not accepted";
        }

        string ascii;
        if (System.Text.Ascii.IsValid(domain) && !domain.Contains("xn--", StringComparison.OrdinalIgnoreCase))
        {
            ascii = domain.ToString().ToLowerInvariant();
        }
        else if (!HasUts46)
        {
            return "international domain names need ICU (libicu), and this process runs with invariant globalization";
        }
        else if (ToAscii(domain.ToString()) is { } mapped)
        {
            ascii = mapped;
        }
        else
        {
            return "invalid international domain name";
        }

        if (CheckDomain(ascii) is { } domainError)
        {
            return domainError;
        }

        var address = string.Concat(local, "@", ascii);
        if (address.Length > MaxAddressLength)
        {
            return "address longer than 254 characters";
        }

        result = address;
        return null;
    }

    private static string? CheckLocal(ReadOnlySpan<char> local)
    {
        if (local[0] == '.' || local[^1] == '.' || local.Contains("..", StringComparison.Ordinal))
        {
            return "misplaced dot in local part";
        }

        for (var i = 0; i < local.Length; i++)
        {
            var c = local[i];
            if (c > 0x7E)
            {
                // RFC 6531: UTF-8 is allowed in the local part; it needs SMTPUTF8 on the wire, which the sender checks
                // per relay. A lone surrogate is not text.
                if (char.IsHighSurrogate(c) && i + 1 < local.Length && char.IsLowSurrogate(local[i + 1]))
                {
                    i++;
                }
                else if (char.IsSurrogate(c) || c is '\u007F' or '\uFEFF' || char.GetUnicodeCategory(c) is UnicodeCategory.Format or UnicodeCategory.Control)
                {
                    return "invalid character in local part";
                }

                continue;
            }

            if (!char.IsAsciiLetterOrDigit(c) && "!#$%&'*+-/=?^_`{|}~.".IndexOf(c, StringComparison.Ordinal) < 0)
            {
                return $"invalid character '{c}' in local part";
            }
        }

        return null;
    }

    private static string? CheckDomain(string domain)
    {
        if (domain.Length > 253)
        {
            return "domain longer than 253 characters";
        }

        var labels = domain.Split('.');
        if (labels.Length < 2)
        {
            return "domain has no dot";
        }

        foreach (var label in labels)
        {
            if (label.Length == 0)
            {
                return "empty label in domain";
            }

            if (label.Length > 63)
            {
                return "domain label longer than 63 characters";
            }

            if (label[0] == '-' || label[^1] == '-')
            {
                return "domain label starts or ends with '-'";
            }

            foreach (var c in label)
            {
                if (!char.IsAsciiLetterOrDigit(c) && c != '-')
                {
                    return $"invalid character '{c}' in domain";
                }
            }
        }

        if (labels[^1].All(char.IsAsciiDigit))
        {
            return "numeric top-level domain";
        }

        return null;
    }
}
