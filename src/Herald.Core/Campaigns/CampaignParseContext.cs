using System.Globalization;
using Herald.Recipients;
using MimeKit;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Herald.Campaigns;

/// <summary>
/// What every section parser of <c>campaign.yml</c> shares: the problems found so far (each with its file:line:col),
/// the positions of inline templates, and the typed readers for scalars, booleans, numbers, durations, mailboxes and
/// file paths. A reader that finds a problem records it and returns null, so one run reports every problem.
/// </summary>
internal sealed class CampaignParseContext(string display, string fullPath)
{
    private readonly List<Problem> _problems = [];
    private readonly Dictionary<string, SourcePosition> _positions = new(StringComparer.Ordinal);

    /// <summary>The campaign file as it appears in messages.</summary>
    public string Display => display;

    /// <summary>Absolute path of the campaign file.</summary>
    public string FullPath => fullPath;

    /// <summary>Folder of the campaign file; relative paths resolve here.</summary>
    public string Directory { get; } = Path.GetDirectoryName(fullPath)!;

    public IReadOnlyList<Problem> Problems => _problems;

    public IReadOnlyDictionary<string, SourcePosition> Positions => _positions;

    /// <summary>Remembers where an inline template (<c>subject</c>, <c>headers.NAME</c>) starts, for its error messages.</summary>
    public void RecordPosition(string name, YamlNode node) => _positions[name] = PositionOf(node);

    public void Add(YamlNode node, string message) => _problems.Add(Problem(node, message));

    public Problem Problem(YamlNode node, string message) => new(display, (int)node.Start.Line, (int)node.Start.Column, message);

    public string? KeyOf(YamlNode keyNode)
    {
        if (keyNode is YamlScalarNode { Value: { } key })
        {
            return key;
        }

        Add(keyNode, "expected a plain key");
        return null;
    }

    public YamlMappingNode? Mapping(YamlNode node, string label)
    {
        if (node is YamlMappingNode map)
        {
            return map;
        }

        Add(node, $"{label}: expected a mapping of keys");
        return null;
    }

    public string? Scalar(YamlNode node, string label)
    {
        if (node is YamlScalarNode scalar)
        {
            if (scalar.Value is null || (scalar.Style == ScalarStyle.Plain && scalar.Value is "~" or "null" or ""))
            {
                Add(node, $"{label}: a value is required");
                return null;
            }

            return scalar.Value;
        }

        Add(node, $"{label}: expected a single value, not a {(node is YamlSequenceNode ? "list" : "mapping")}");
        return null;
    }

    public bool? Bool(YamlNode node, string label)
    {
        var text = Scalar(node, label);
        switch (text)
        {
            case null:
                return null;
            case "true" or "True" or "yes":
                return true;
            case "false" or "False" or "no":
                return false;
            default:
                Add(node, $"{label}: expected true or false, got '{text}'");
                return null;
        }
    }

    public int? Int(YamlNode node, string label, int min, int max)
    {
        var text = Scalar(node, label);
        if (text is null)
        {
            return null;
        }

        if (!int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value) || value < min || value > max)
        {
            Add(node, $"{label}: expected a whole number from {min} to {max}, got '{text}'");
            return null;
        }

        return value;
    }

    public double? Double(YamlNode node, string label, double min, double max)
    {
        var text = Scalar(node, label);
        if (text is null)
        {
            return null;
        }

        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || value < min || value > max || !double.IsFinite(value))
        {
            Add(node, $"{label}: expected a number from {min.ToString(CultureInfo.InvariantCulture)} to {max.ToString(CultureInfo.InvariantCulture)}, got '{text}'");
            return null;
        }

        return value;
    }

    public TimeSpan? Duration(YamlNode node, string label)
    {
        var text = Scalar(node, label);
        if (text is null)
        {
            return null;
        }

        if (!Durations.TryParse(text, out var value) || value <= TimeSpan.Zero)
        {
            Add(node, $"{label}: '{text}' is not a duration (a whole number with ms, s, m or h, for example 30s)");
            return null;
        }

        return value;
    }

    public MailboxAddress? Mailbox(YamlNode node, string label)
    {
        var text = Scalar(node, label);
        if (text is null)
        {
            return null;
        }

        if (!MailboxAddress.TryParse(ParserOptions.Default, text, out var mailbox) || mailbox is null)
        {
            Add(node, $"{label}: '{text}' is not an address (for example \"Shop <news@shop.example.com>\")");
            return null;
        }

        if (!EmailAddress.TryNormalize(mailbox.Address, out var normalized, out var error))
        {
            Add(node, $"{label}: '{mailbox.Address}' is not a deliverable address ({error})");
            return null;
        }

        return new MailboxAddress(mailbox.Name, normalized);
    }

    /// <summary>A file that must exist, relative to the campaign file's folder; returns its absolute path.</summary>
    public string? FilePath(YamlNode node, string label)
    {
        var text = Scalar(node, label);
        if (text is null)
        {
            return null;
        }

        var full = Path.GetFullPath(Path.Combine(Directory, text));
        if (!File.Exists(full))
        {
            Add(node, $"{label}: file not found: {text} (looked for {DisplayPath.For(full)})");
            return null;
        }

        return full;
    }

    /// <summary>A value naming a column of a table.</summary>
    public string? Column(YamlNode value, string label)
    {
        var text = Scalar(value, label);
        if (text is not null && string.IsNullOrWhiteSpace(text))
        {
            Add(value, $"{label}: must name a column");
            return null;
        }

        return text;
    }

    /// <summary>The name of an environment variable (never the secret it holds).</summary>
    public string? EnvName(YamlNode value, string key)
    {
        var text = Scalar(value, key);
        if (text is not null && !CampaignLoader.IdentifierPattern().IsMatch(text))
        {
            Add(value, $"{key}: '{text}' is not an environment variable name (letters, digits, '_'); give the NAME, never the secret");
            return null;
        }

        return text;
    }

    public void Require(YamlMappingNode map, object? value, string key, string what)
    {
        // Only complain about a missing key when it is really absent: a present but broken one was already reported.
        var last = key.Split('.')[^1];
        if (value is null && !map.Children.ContainsKey(new YamlScalarNode(last)))
        {
            Add(map, $"missing key '{key}': {what}");
        }
    }

    public void Unknown(YamlNode keyNode, string key, params string[] known)
    {
        var suggestion = known.OrderBy(k => Distance(k, key)).First();
        var hint = Distance(suggestion, key) <= Math.Max(2, key.Length / 3) ? $"; did you mean '{suggestion}'?" : $" (expected one of: {string.Join(", ", known)})";
        Add(keyNode, $"unknown key '{key}'{hint}");
    }

    private static SourcePosition PositionOf(YamlNode node)
    {
        // A quoted scalar's text starts one column after its quote.
        var quoted = node is YamlScalarNode { Style: ScalarStyle.SingleQuoted or ScalarStyle.DoubleQuoted };
        return new SourcePosition((int)node.Start.Line, (int)node.Start.Column + (quoted ? 1 : 0));
    }

    private static int Distance(string a, string b)
    {
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++)
        {
            previous[j] = j;
        }

        for (var i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + cost);
            }

            (previous, current) = (current, previous);
        }

        return previous[b.Length];
    }
}
