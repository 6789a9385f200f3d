using System.Globalization;

namespace Herald.Recipients;

/// <summary>
/// Normalizes recipient addresses to the form we send to: trimmed, domain lowercased and in ASCII (IDN → punycode),
/// and rejects what a relay would refuse or what could break a header (CR/LF, spaces, quotes, address literals).
/// </summary>
public static class EmailAddress
{
    private const int MaxLocalLength = 64;
    private const int MaxAddressLength = 254;
    private static readonly IdnMapping Idn = new() { AllowUnassigned = false, UseStd3AsciiRules = true };

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
        if (System.Text.Ascii.IsValid(domain))
        {
            ascii = domain.ToString().ToLowerInvariant();
        }
        else
        {
            try
            {
                ascii = Idn.GetAscii(domain.ToString()).ToLowerInvariant();
            }
            catch (ArgumentException)
            {
                return "invalid international domain name";
            }
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

        foreach (var c in local)
        {
            if (c > 0x7E)
            {
                // Non-ASCII local parts need SMTPUTF8 end to end, which most relays and mailboxes lack.
                return "non-ASCII local part";
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
