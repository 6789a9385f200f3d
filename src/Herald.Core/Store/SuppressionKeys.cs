using Herald.Recipients;

namespace Herald.Store;

/// <summary>
/// How every backend compares suppressed addresses: by <see cref="EmailAddress.ComparisonKey"/> (local part
/// case-folded) in every campaign, so an address suppressed in one spelling is never mailed in another.
/// </summary>
public static class SuppressionKeys
{
    /// <summary>The given addresses grouped by key: look the keys up, answer with the spellings asked for.</summary>
    public static Dictionary<string, List<string>> ByKey(IEnumerable<string> addresses)
    {
        ArgumentNullException.ThrowIfNull(addresses);
        var byKey = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var address in addresses)
        {
            var key = EmailAddress.ComparisonKey(address);
            if (!byKey.TryGetValue(key, out var list))
            {
                byKey[key] = list = new List<string>(1);
            }

            list.Add(address);
        }

        return byKey;
    }
}
