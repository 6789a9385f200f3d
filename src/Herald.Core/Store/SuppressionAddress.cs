namespace Herald.Store;

/// <summary>
/// Normalizes an address for the suppression list: trimmed, domain lower-cased (the local part is case-sensitive by
/// RFC 5321, but providers treat it case-insensitively: we keep it as given, like the recipient dedupe does).
/// </summary>
/// <remarks>Stand-in until <c>Herald.Recipients.EmailAddress.TryNormalize</c> lands; both must agree.</remarks>
public static class SuppressionAddress
{
    public static bool TryNormalize(string? text, out string normalized)
    {
        normalized = string.Empty;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        var trimmed = text.Trim();
        var at = trimmed.LastIndexOf('@');
        if (at <= 0 || at == trimmed.Length - 1 || trimmed.Length > 320)
        {
            return false;
        }

        foreach (var c in trimmed)
        {
            if (char.IsWhiteSpace(c) || char.IsControl(c) || c is '<' or '>' or ',' or ';' or '"')
            {
                return false;
            }
        }

        var domain = trimmed[(at + 1)..];
        if (domain.Contains('@', StringComparison.Ordinal) || domain.StartsWith('.') || domain.EndsWith('.'))
        {
            return false;
        }

        normalized = string.Concat(trimmed.AsSpan(0, at + 1), domain.ToLowerInvariant());
        return true;
    }
}
