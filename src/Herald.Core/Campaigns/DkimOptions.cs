using Herald.Recipients;
using YamlDotNet.RepresentationModel;

namespace Herald.Campaigns;

/// <summary>Which DKIM signatures each message carries.</summary>
public enum DkimAlgorithm
{
    /// <summary>RSA with SHA-256 (RFC 6376); every receiver verifies it.</summary>
    RsaSha256,

    /// <summary>Ed25519 with SHA-256 (RFC 8463); short and cheap, not verified everywhere yet.</summary>
    Ed25519Sha256,

    /// <summary>Two signatures: RSA and Ed25519 (RFC 8463 §5), each with its own selector and key.</summary>
    Both,
}

/// <summary>Where a DKIM private key comes from: a PEM file, or an environment variable holding the PEM text.</summary>
/// <param name="FilePath">Absolute path of the PEM file, or null for an environment variable.</param>
/// <param name="EnvironmentVariable">Name of the environment variable (never its value), or null for a file.</param>
/// <param name="Position">Where the key is named in the campaign file, for errors about the key itself.</param>
public sealed record DkimKeySource(string? FilePath, string? EnvironmentVariable, SourcePosition Position)
{
    /// <summary>How the key is named in messages: the file as the campaign gives it, or <c>env:NAME</c>; never key material.</summary>
    public required string Label { get; init; }
}

/// <summary>The <c>dkim</c> section: sign every message for <see cref="Domain"/> (RFC 6376, relaxed/relaxed).</summary>
public sealed class DkimOptions
{
    /// <summary>Headers signed by default, when present; From is also over-signed (listed once more than it occurs).</summary>
    public static readonly IReadOnlyList<string> DefaultHeaders =
    [
        "From", "To", "Subject", "Date", "Message-ID", "Reply-To", "MIME-Version", "Content-Type",
        "List-Unsubscribe", "List-Unsubscribe-Post", "List-Id", "Feedback-ID",
    ];

    /// <summary>The signing domain (<c>d=</c>), lower-case ASCII (A-label).</summary>
    public required string Domain { get; init; }

    /// <summary>The selector (<c>s=</c>) of the RSA key, or of the only key.</summary>
    public required string Selector { get; init; }

    /// <summary>The RSA key, or the only key.</summary>
    public required DkimKeySource Key { get; init; }

    public DkimAlgorithm Algorithm { get; init; } = DkimAlgorithm.RsaSha256;

    /// <summary>With <see cref="DkimAlgorithm.Both"/>: the Ed25519 key's selector.</summary>
    public string? Ed25519Selector { get; init; }

    /// <summary>With <see cref="DkimAlgorithm.Both"/>: the Ed25519 key.</summary>
    public DkimKeySource? Ed25519Key { get; init; }

    /// <summary>Header names to sign (when present), in this order.</summary>
    public IReadOnlyList<string> Headers { get; init; } = DefaultHeaders;

    private static readonly string[] Keys = ["domain", "selector", "key", "algorithm", "ed25519_selector", "ed25519_key", "headers"];

    internal static DkimOptions? Parse(YamlNode node, CampaignParseContext context)
    {
        if (context.Mapping(node, "dkim") is not { } map)
        {
            return null;
        }

        string? domain = null, selector = null, edSelector = null;
        DkimKeySource? key = null, edKey = null;
        var algorithm = DkimAlgorithm.RsaSha256;
        YamlNode? edSelectorNode = null, edKeyNode = null;
        IReadOnlyList<string>? headers = null;
        var broken = false;
        foreach (var (keyNode, value) in map.Children)
        {
            var name = context.KeyOf(keyNode);
            switch (name)
            {
                case "domain":
                    domain = ParseDomain(value, context);
                    broken |= domain is null;
                    break;
                case "selector":
                    selector = ParseSelector(value, "dkim.selector", context);
                    broken |= selector is null;
                    break;
                case "key":
                    key = KeySource(value, "dkim.key", context);
                    broken |= key is null;
                    break;
                case "ed25519_selector":
                    edSelectorNode = keyNode;
                    edSelector = ParseSelector(value, "dkim.ed25519_selector", context);
                    broken |= edSelector is null;
                    break;
                case "ed25519_key":
                    edKeyNode = keyNode;
                    edKey = KeySource(value, "dkim.ed25519_key", context);
                    broken |= edKey is null;
                    break;
                case "algorithm":
                    switch (context.Scalar(value, "dkim.algorithm"))
                    {
                        case "rsa-sha256":
                            algorithm = DkimAlgorithm.RsaSha256;
                            break;
                        case "ed25519-sha256":
                            algorithm = DkimAlgorithm.Ed25519Sha256;
                            break;
                        case "both":
                            algorithm = DkimAlgorithm.Both;
                            break;
                        case null:
                            broken = true;
                            break;
                        case var other:
                            context.Add(value, $"dkim.algorithm: '{other}' is not one of rsa-sha256, ed25519-sha256, both");
                            broken = true;
                            break;
                    }

                    break;
                case "headers":
                    headers = SignedHeaders(value, context);
                    broken |= headers is null;
                    break;
                case null:
                    break;
                default:
                    context.Unknown(keyNode, name, Keys);
                    break;
            }
        }

        context.Require(map, domain, "dkim.domain", "the signing domain (d=), for example shop.example.com");
        context.Require(map, selector, "dkim.selector", "the selector (s=) whose DNS record holds the public key, for example s2026");
        context.Require(map, key, "dkim.key", "the private key: a PEM file, or env:NAME of an environment variable holding it");
        if (algorithm == DkimAlgorithm.Both)
        {
            context.Require(map, edSelector, "dkim.ed25519_selector", "with algorithm: both, the selector of the Ed25519 key (each key has its own DNS record)");
            context.Require(map, edKey, "dkim.ed25519_key", "with algorithm: both, the Ed25519 private key (key: is the RSA one)");
        }
        else
        {
            foreach (var extra in new[] { edSelectorNode, edKeyNode })
            {
                if (extra is not null)
                {
                    context.Add(extra, $"dkim.{((YamlScalarNode)extra).Value}: only used with algorithm: both");
                    broken = true;
                }
            }
        }

        if (broken || domain is null || selector is null || key is null
            || (algorithm == DkimAlgorithm.Both && (edSelector is null || edKey is null)))
        {
            return null;
        }

        if (algorithm == DkimAlgorithm.Both && edSelector == selector)
        {
            context.Add(edSelectorNode!, "dkim.ed25519_selector: must differ from dkim.selector (one DNS record per key)");
            return null;
        }

        return new DkimOptions
        {
            Domain = domain,
            Selector = selector,
            Key = key,
            Algorithm = algorithm,
            Ed25519Selector = edSelector,
            Ed25519Key = edKey,
            Headers = headers ?? DefaultHeaders,
        };
    }

    /// <summary>
    /// DMARC's relaxed alignment, which Gmail and Yahoo require of bulk senders: the From domain is d= or one of its
    /// subdomains. Without it the signature verifies but does not count for the From domain.
    /// </summary>
    public static bool IsAligned(string fromDomain, string signingDomain) =>
        fromDomain.Equals(signingDomain, StringComparison.OrdinalIgnoreCase)
        || fromDomain.EndsWith("." + signingDomain, StringComparison.OrdinalIgnoreCase);

    /// <summary>Refuses a d= that does not align with the From domain (reported at the <c>dkim.domain</c> key).</summary>
    internal static void CheckAlignment(DkimOptions dkim, string fromDomain, YamlMappingNode dkimNode, CampaignParseContext context)
    {
        if (IsAligned(fromDomain, dkim.Domain))
        {
            return;
        }

        var at = dkimNode.Children.TryGetValue(new YamlScalarNode("domain"), out var domainNode) ? domainNode : dkimNode;
        context.Add(at, $"dkim.domain: '{dkim.Domain}' does not align with the From domain '{fromDomain}' (it must be that domain or a parent of it, for example {fromDomain}); receivers would not credit the signature to the sender");
    }

    private static string? ParseDomain(YamlNode value, CampaignParseContext context)
    {
        var text = context.Scalar(value, "dkim.domain");
        if (text is null)
        {
            return null;
        }

        if (TryNormalizeDomain(text) is not { } domain)
        {
            context.Add(value, $"dkim.domain: '{text}' is not a domain name (for example shop.example.com)");
            return null;
        }

        return domain;
    }

    /// <summary>A signing domain normalized as addresses are (IDNA, lower case), so d= compares with the From domain as sent; null when not a domain.</summary>
    public static string? TryNormalizeDomain(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Contains('@', StringComparison.Ordinal) || !EmailAddress.TryNormalize("postmaster@" + text.TrimEnd('.'), out var normalized, out _))
        {
            return null;
        }

        var domain = normalized[(normalized.IndexOf('@', StringComparison.Ordinal) + 1)..];
        return domain.Contains('.', StringComparison.Ordinal) ? domain : null;
    }

    /// <summary>A selector is one or more DNS labels (RFC 6376 §3.1); it becomes <c>selector._domainkey.domain</c>.</summary>
    public static bool IsSelector(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return text.Length is > 0 and <= 63 && text.Split('.').All(l => l.Length > 0 && !l.StartsWith('-') && !l.EndsWith('-') && l.All(c => char.IsAsciiLetterOrDigit(c) || c == '-'));
    }

    private static string? ParseSelector(YamlNode value, string label, CampaignParseContext context)
    {
        var text = context.Scalar(value, label);
        if (text is null)
        {
            return null;
        }

        if (!IsSelector(text))
        {
            context.Add(value, $"{label}: '{text}' is not a selector (letters, digits and '-', for example s2026)");
            return null;
        }

        return text.ToLowerInvariant();
    }

    private static DkimKeySource? KeySource(YamlNode value, string label, CampaignParseContext context)
    {
        var text = context.Scalar(value, label);
        if (text is null)
        {
            return null;
        }

        var position = new SourcePosition((int)value.Start.Line, (int)value.Start.Column);
        if (text.StartsWith("env:", StringComparison.Ordinal))
        {
            var name = text[4..];
            if (!CampaignLoader.IdentifierPattern().IsMatch(name))
            {
                context.Add(value, $"{label}: 'env:{name}' does not name an environment variable (letters, digits, '_')");
                return null;
            }

            return new DkimKeySource(null, name, position) { Label = text };
        }

        if (text.Contains("PRIVATE KEY", StringComparison.Ordinal) || text.Length > 1024)
        {
            // Never echo it: this is key material pasted into the file.
            context.Add(value, $"{label}: inline keys are not allowed; give the PEM file's path or env:NAME of an environment variable holding it");
            return null;
        }

        return context.FilePath(value, label) is { } path ? new DkimKeySource(path, null, position) { Label = text } : null;
    }

    private static List<string>? SignedHeaders(YamlNode value, CampaignParseContext context)
    {
        if (value is not YamlSequenceNode list || list.Children.Count == 0)
        {
            context.Add(value, "dkim.headers: expected a list of header names, for example [From, To, Subject, Date]");
            return null;
        }

        var names = new List<string>();
        foreach (var item in list.Children)
        {
            var name = context.Scalar(item, "dkim.headers[]");
            if (name is null)
            {
                return null;
            }

            if (name.Length == 0 || name.Any(c => c is < '!' or > '~' or ':'))
            {
                context.Add(item, $"dkim.headers: '{name}' is not a header name");
                return null;
            }

            if (name.Equals("DKIM-Signature", StringComparison.OrdinalIgnoreCase))
            {
                context.Add(item, "dkim.headers: DKIM-Signature cannot sign itself");
                return null;
            }

            if (!names.Contains(name, StringComparer.OrdinalIgnoreCase))
            {
                names.Add(name);
            }
        }

        if (!names.Contains("From", StringComparer.OrdinalIgnoreCase))
        {
            context.Add(value, "dkim.headers: must include From (RFC 6376 §5.4)");
            return null;
        }

        return names;
    }
}
