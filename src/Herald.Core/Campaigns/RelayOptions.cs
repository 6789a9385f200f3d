using YamlDotNet.RepresentationModel;

namespace Herald.Campaigns;

/// <summary>How a relay connection is secured.</summary>
public enum StartTlsMode
{
    /// <summary>STARTTLS when the server offers it (smtp:// default).</summary>
    Optional,

    /// <summary>Refuse to send unless STARTTLS succeeds.</summary>
    Required,

    /// <summary>Never STARTTLS.</summary>
    None,
}

/// <summary>One SMTP relay of the pool (an item of the <c>relays</c> section).</summary>
public sealed class RelayOptions
{
    /// <summary><c>smtp://host:port</c> or <c>smtps://host:port</c>.</summary>
    public required Uri Url { get; init; }

    /// <summary>A short name for logs and the ledger (defaults to host:port).</summary>
    public string Name => $"{Url.Host}:{Url.Port}";

    public int Connections { get; init; } = 10;

    /// <summary>Messages per second across this relay's connections; null for unlimited.</summary>
    public double? RateLimit { get; init; }

    public StartTlsMode StartTls { get; init; } = StartTlsMode.Optional;

    /// <summary>Name of the environment variable holding the AUTH user name (never the value itself).</summary>
    public string? UsernameEnv { get; init; }

    /// <summary>Name of the environment variable holding the AUTH password.</summary>
    public string? PasswordEnv { get; init; }

    /// <summary>Accept any TLS certificate (test relays only).</summary>
    public bool InsecureSkipVerify { get; init; }

    /// <summary>Parses the <c>relays</c> list.</summary>
    internal static List<RelayOptions>? ParseList(YamlNode node, CampaignParseContext context)
    {
        if (node is not YamlSequenceNode sequence)
        {
            context.Add(node, "relays: expected a list of relays (- url: smtp://host:port)");
            return null;
        }

        if (sequence.Children.Count == 0)
        {
            context.Add(node, "relays: at least one relay is required");
            return null;
        }

        var relays = new List<RelayOptions>();
        foreach (var item in sequence.Children)
        {
            if (Parse(item, context) is { } relay)
            {
                relays.Add(relay);
            }
        }

        return relays;
    }

    internal static RelayOptions? Parse(YamlNode node, CampaignParseContext context)
    {
        if (context.Mapping(node, "relays[]") is not { } map)
        {
            return null;
        }

        Uri? url = null;
        var connections = 10;
        double? rateLimit = null;
        var startTls = StartTlsMode.Optional;
        string? usernameEnv = null, passwordEnv = null;
        var insecure = false;
        var ok = true;
        foreach (var (keyNode, value) in map.Children)
        {
            var key = context.KeyOf(keyNode);
            switch (key)
            {
                case "url":
                    url = ParseUrl(value, context);
                    ok &= url is not null;
                    break;
                case "connections":
                    connections = context.Int(value, "connections", 1, 1000) ?? connections;
                    break;
                case "rate_limit":
                    rateLimit = context.Double(value, "rate_limit", 0.001, 1_000_000);
                    break;
                case "starttls":
                    switch (context.Scalar(value, "starttls"))
                    {
                        case "optional":
                            startTls = StartTlsMode.Optional;
                            break;
                        case "required":
                            startTls = StartTlsMode.Required;
                            break;
                        case "none":
                            startTls = StartTlsMode.None;
                            break;
                        case null:
                            break;
                        case var other:
                            context.Add(value, $"starttls: '{other}' is not one of optional, required, none");
                            break;
                    }

                    break;
                case "auth":
                    (usernameEnv, passwordEnv) = ParseAuth(value, context);
                    break;
                case "insecure_skip_verify":
                    insecure = context.Bool(value, "insecure_skip_verify") ?? false;
                    break;
                case "password" or "username" or "user" or "pass" or "secret":
                    context.Add(keyNode, $"relays: inline secrets are not allowed ('{key}'); use auth: {{ username_env: NAME, password_env: NAME }} naming environment variables");
                    break;
                case null:
                    break;
                default:
                    context.Unknown(keyNode, key, "url", "connections", "rate_limit", "starttls", "auth", "insecure_skip_verify");
                    break;
            }
        }

        if (url is null)
        {
            if (ok)
            {
                context.Add(node, "relays: each relay needs a url (smtp://host:port or smtps://host:port)");
            }

            return null;
        }

        return new RelayOptions
        {
            Url = url,
            Connections = connections,
            RateLimit = rateLimit,
            StartTls = startTls,
            UsernameEnv = usernameEnv,
            PasswordEnv = passwordEnv,
            InsecureSkipVerify = insecure,
        };
    }

    private static Uri? ParseUrl(YamlNode value, CampaignParseContext context)
    {
        var text = context.Scalar(value, "url");
        if (text is null)
        {
            return null;
        }

        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || (uri.Scheme != "smtp" && uri.Scheme != "smtps") || string.IsNullOrEmpty(uri.Host))
        {
            context.Add(value, $"url: '{text}' is not an smtp:// or smtps:// URL (for example smtp://127.0.0.1:2525)");
            return null;
        }

        if (!string.IsNullOrEmpty(uri.UserInfo))
        {
            context.Add(value, "url: inline secrets are not allowed in the relay URL; use auth: { username_env: NAME, password_env: NAME }");
            return null;
        }

        if ((uri.AbsolutePath.Length > 0 && uri.AbsolutePath != "/") || uri.Query.Length > 0)
        {
            context.Add(value, $"url: '{text}' must not have a path or query");
            return null;
        }

        var port = uri.IsDefaultPort || uri.Port < 0 ? (uri.Scheme == "smtps" ? 465 : 25) : uri.Port;
        return new UriBuilder(uri.Scheme, uri.Host, port).Uri;
    }

    private static (string? User, string? Password) ParseAuth(YamlNode node, CampaignParseContext context)
    {
        if (context.Mapping(node, "auth") is not { } map)
        {
            return (null, null);
        }

        string? user = null, password = null;
        var inline = false;
        foreach (var (keyNode, value) in map.Children)
        {
            var key = context.KeyOf(keyNode);
            switch (key)
            {
                case "username_env":
                    user = context.EnvName(value, key);
                    break;
                case "password_env":
                    password = context.EnvName(value, key);
                    break;
                case "password" or "username" or "user" or "pass" or "secret":
                    context.Add(keyNode, $"auth: inline secrets are not allowed ('{key}'); use {(key.StartsWith('u') ? "username_env" : "password_env")}: NAME of an environment variable");
                    inline = true;
                    break;
                case null:
                    break;
                default:
                    context.Unknown(keyNode, key, "username_env", "password_env");
                    break;
            }
        }

        if ((user is null) != (password is null) && !inline && map.Children.Count == 1)
        {
            context.Add(node, "auth: give both username_env and password_env");
        }

        return (user, password);
    }
}
