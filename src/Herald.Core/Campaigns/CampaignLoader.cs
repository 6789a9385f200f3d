using System.Globalization;
using System.Text.RegularExpressions;
using Herald.Data;
using Herald.Recipients;
using MimeKit;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Herald.Campaigns;

/// <summary>
/// Loads <c>campaign.yml</c>: every problem (unknown keys, wrong types, missing files, inline secrets) is collected with
/// its line:col and thrown together as one <see cref="CampaignException"/>.
/// </summary>
public static partial class CampaignLoader
{
    /// <summary>Header names Herald sets itself; a campaign may not override them.</summary>
    internal static readonly HashSet<string> ReservedHeaders = new(StringComparer.OrdinalIgnoreCase)
    {
        "From", "To", "Cc", "Bcc", "Reply-To", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type",
        "Content-Transfer-Encoding", "List-Unsubscribe", "List-Unsubscribe-Post", "Return-Path", "Sender", "DKIM-Signature",
    };

    /// <summary>Names templates get from Herald; recipient columns and data sets may not reuse them.</summary>
    public static readonly IReadOnlyList<string> BuiltInVariables = ["email", "recipient_id", "unsubscribe_url", "postal_address", "campaign"];

    public static Campaign Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var display = DisplayPath.For(path);
        var full = Path.GetFullPath(path);
        if (Directory.Exists(full))
        {
            throw new CampaignException(new Problem(display, 0, 0, "is a folder; give the campaign file (campaign.yml)"));
        }

        if (!File.Exists(full))
        {
            throw new CampaignException(new Problem(display, 0, 0, "file not found"));
        }

        string text;
        try
        {
            text = File.ReadAllText(full, new System.Text.UTF8Encoding(false, true));
        }
        catch (System.Text.DecoderFallbackException)
        {
            throw new CampaignException(new Problem(display, 0, 0, "is not valid UTF-8 text"));
        }

        var parser = new CampaignFileParser(display, full);
        return parser.Parse(text);
    }

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]*$")]
    internal static partial Regex IdentifierPattern();

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")]
    internal static partial Regex CampaignIdPattern();

    private sealed class CampaignFileParser(string display, string fullPath)
    {
        private readonly List<Problem> _problems = [];
        private readonly Dictionary<string, SourcePosition> _positions = new(StringComparer.Ordinal);
        private readonly string _directory = Path.GetDirectoryName(fullPath)!;

        public Campaign Parse(string text)
        {
            var stream = new YamlStream();
            try
            {
                stream.Load(new StringReader(text));
            }
            catch (YamlException ex)
            {
                var message = ex.InnerException is not null && ex.Message.StartsWith("(Line", StringComparison.Ordinal)
                    ? ex.InnerException.Message
                    : ex.Message;
                throw new CampaignException(new Problem(display, (int)ex.Start.Line, (int)ex.Start.Column, $"YAML syntax error: {StripMark(message)}"));
            }

            if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is YamlScalarNode { Value: null or "" })
            {
                throw new CampaignException(new Problem(display, 0, 0, "the campaign file is empty"));
            }

            if (stream.Documents[0].RootNode is not YamlMappingNode root)
            {
                var node = stream.Documents[0].RootNode;
                throw new CampaignException(Problem(node, "expected a mapping of keys (id:, from:, subject:, ...)"));
            }

            string? id = null;
            MailboxAddress? from = null;
            MailboxAddress? replyTo = null;
            string? subject = null;
            string? html = null;
            string? textPath = null;
            string? recipients = null;
            Dictionary<string, string> headers = new(StringComparer.OrdinalIgnoreCase);
            TrackingOptions? tracking = null;
            UnsubscribeOptions unsubscribe = new();
            string? postal = null;
            List<RelayOptions>? relays = null;
            RetryPolicy retry = new();
            DeliveryOptions delivery = new();
            Dictionary<string, DataSetOptions> data = new(StringComparer.Ordinal);
            _positions.Clear();

            foreach (var (keyNode, value) in root.Children)
            {
                var key = KeyOf(keyNode);
                switch (key)
                {
                    case "id":
                        id = Scalar(value, key);
                        if (id is not null && !CampaignIdPattern().IsMatch(id))
                        {
                            Add(value, "id: use letters, digits, '.', '-' or '_' (at most 100 characters), starting with a letter or digit");
                        }

                        break;
                    case "from":
                        from = Mailbox(value, key);
                        break;
                    case "reply_to":
                        replyTo = Mailbox(value, key);
                        break;
                    case "subject":
                        subject = Scalar(value, key);
                        _positions["subject"] = PositionOf(value);
                        if (subject is not null && subject.AsSpan().IndexOfAny('\r', '\n') >= 0)
                        {
                            Add(value, "subject: must be one line");
                        }

                        break;
                    case "html":
                        html = FilePath(value, key);
                        break;
                    case "text":
                        textPath = FilePath(value, key);
                        break;
                    case "recipients":
                        recipients = FilePath(value, key);
                        if (recipients is not null && !TableReaders.IsSupported(recipients))
                        {
                            Add(value, $"recipients: unsupported file type '{Path.GetExtension(recipients)}' (use {TableReaders.SupportedList})");
                        }

                        break;
                    case "headers":
                        ParseHeaders(value, headers);
                        break;
                    case "tracking":
                        tracking = ParseTracking(value);
                        break;
                    case "unsubscribe":
                        unsubscribe = ParseUnsubscribe(value);
                        break;
                    case "postal_address":
                        postal = Scalar(value, key);
                        if (postal is not null && string.IsNullOrWhiteSpace(postal))
                        {
                            Add(value, "postal_address: must not be empty (anti-spam laws require a postal address)");
                        }

                        break;
                    case "relays":
                        relays = ParseRelays(value);
                        break;
                    case "retry":
                        retry = ParseRetry(value);
                        break;
                    case "delivery":
                        delivery = ParseDelivery(value);
                        break;
                    case "data":
                        ParseData(value, data);
                        break;
                    case null:
                        break;
                    default:
                        Unknown(keyNode, key, "id", "from", "reply_to", "subject", "html", "text", "recipients", "headers", "tracking",
                            "unsubscribe", "postal_address", "relays", "retry", "delivery", "data");
                        break;
                }
            }

            Require(root, from, "from", "the sender, for example \"Shop <news@shop.example.com>\"");
            Require(root, subject, "subject", "the subject line (Liquid)");
            Require(root, html, "html", "the HTML template file");
            Require(root, recipients, "recipients", "the recipients file (.csv or .jsonl)");
            Require(root, tracking, "tracking", "tracking: { base_url: https://... }, needed for the unsubscribe link");
            Require(root, postal, "postal_address", "the sender's postal address");
            Require(root, relays, "relays", "at least one SMTP relay");

            if (_problems.Count > 0)
            {
                throw new CampaignException(_problems);
            }

            id ??= DefaultId(_directory);
            return new Campaign
            {
                Id = id,
                FilePath = fullPath,
                From = from!,
                ReplyTo = replyTo,
                Subject = subject!,
                HtmlPath = html!,
                TextPath = textPath,
                RecipientsPath = recipients!,
                Headers = headers,
                Tracking = tracking!,
                Unsubscribe = unsubscribe,
                PostalAddress = postal!,
                Relays = relays!,
                Retry = retry,
                Delivery = delivery,
                Data = data,
                Positions = new Dictionary<string, SourcePosition>(_positions),
            };
        }

        internal static string DefaultId(string directory)
        {
            var name = Path.GetFileName(directory.TrimEnd(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar));
            if (CampaignIdPattern().IsMatch(name))
            {
                return name;
            }

            var chars = name.Select(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_' ? c : '-').ToArray();
            var cleaned = new string(chars).Trim('-', '.', '_');
            if (cleaned.Length > 100)
            {
                cleaned = cleaned[..100];
            }

            return cleaned.Length == 0 ? "campaign" : cleaned;
        }

        private void ParseHeaders(YamlNode node, Dictionary<string, string> headers)
        {
            if (Mapping(node, "headers") is not { } map)
            {
                return;
            }

            foreach (var (keyNode, value) in map.Children)
            {
                var name = KeyOf(keyNode);
                if (name is null)
                {
                    continue;
                }

                if (name.Length == 0 || name.Any(c => c is < '!' or > '~' or ':'))
                {
                    Add(keyNode, $"headers: '{name}' is not a valid header name");
                    continue;
                }

                if (ReservedHeaders.Contains(name))
                {
                    Add(keyNode, $"headers: {name} is set by Herald and cannot be overridden");
                    continue;
                }

                var text = Scalar(value, $"headers.{name}");
                if (text is null)
                {
                    continue;
                }

                if (text.AsSpan().IndexOfAny('\r', '\n') >= 0)
                {
                    Add(value, $"headers.{name}: must be one line");
                    continue;
                }

                _positions[$"headers.{name}"] = PositionOf(value);
                if (!headers.TryAdd(name, text))
                {
                    Add(keyNode, $"headers: {name} is given twice");
                }
            }
        }

        private TrackingOptions? ParseTracking(YamlNode node)
        {
            if (Mapping(node, "tracking") is not { } map)
            {
                return null;
            }

            string? baseUrl = null;
            bool clicks = true, opens = true;
            foreach (var (keyNode, value) in map.Children)
            {
                switch (KeyOf(keyNode))
                {
                    case "base_url":
                        var text = Scalar(value, "tracking.base_url");
                        if (text is null)
                        {
                            break;
                        }

                        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttps && uri.Scheme != Uri.UriSchemeHttp)
                            || !string.IsNullOrEmpty(uri.Query) || !string.IsNullOrEmpty(uri.Fragment))
                        {
                            Add(value, $"tracking.base_url: '{text}' is not an http(s) URL without query (for example https://t.shop.example.com)");
                            break;
                        }

                        baseUrl = text.TrimEnd('/');
                        break;
                    case "clicks":
                        clicks = Bool(value, "tracking.clicks") ?? clicks;
                        break;
                    case "opens":
                        opens = Bool(value, "tracking.opens") ?? opens;
                        break;
                    case null:
                        break;
                    case var other:
                        Unknown(keyNode, other, "base_url", "clicks", "opens");
                        break;
                }
            }

            if (baseUrl is null)
            {
                Require(map, null, "tracking.base_url", "the public URL of `herald serve`, used by the unsubscribe link");
                return null;
            }

            return new TrackingOptions { BaseUrl = baseUrl, Clicks = clicks, Opens = opens };
        }

        private UnsubscribeOptions ParseUnsubscribe(YamlNode node)
        {
            string? mailto = null;
            if (Mapping(node, "unsubscribe") is { } map)
            {
                foreach (var (keyNode, value) in map.Children)
                {
                    switch (KeyOf(keyNode))
                    {
                        case "mailto":
                            var text = Scalar(value, "unsubscribe.mailto");
                            if (text is null)
                            {
                                break;
                            }

                            var address = text.StartsWith("mailto:", StringComparison.OrdinalIgnoreCase) ? text[7..] : text;
                            if (!EmailAddress.TryNormalize(address, out var normalized, out var error))
                            {
                                Add(value, $"unsubscribe.mailto: '{text}' is not an email address ({error})");
                                break;
                            }

                            mailto = normalized;
                            break;
                        case null:
                            break;
                        case var other:
                            Unknown(keyNode, other, "mailto");
                            break;
                    }
                }
            }

            return new UnsubscribeOptions { Mailto = mailto };
        }

        private List<RelayOptions>? ParseRelays(YamlNode node)
        {
            if (node is not YamlSequenceNode sequence)
            {
                Add(node, "relays: expected a list of relays (- url: smtp://host:port)");
                return null;
            }

            if (sequence.Children.Count == 0)
            {
                Add(node, "relays: at least one relay is required");
                return null;
            }

            var relays = new List<RelayOptions>();
            foreach (var item in sequence.Children)
            {
                if (ParseRelay(item) is { } relay)
                {
                    relays.Add(relay);
                }
            }

            return relays;
        }

        private RelayOptions? ParseRelay(YamlNode node)
        {
            if (Mapping(node, "relays[]") is not { } map)
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
                var key = KeyOf(keyNode);
                switch (key)
                {
                    case "url":
                        url = RelayUrl(value);
                        ok &= url is not null;
                        break;
                    case "connections":
                        connections = Int(value, "connections", 1, 1000) ?? connections;
                        break;
                    case "rate_limit":
                        rateLimit = Double(value, "rate_limit", 0.001, 1_000_000);
                        break;
                    case "starttls":
                        switch (Scalar(value, "starttls"))
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
                                Add(value, $"starttls: '{other}' is not one of optional, required, none");
                                break;
                        }

                        break;
                    case "auth":
                        (usernameEnv, passwordEnv) = ParseAuth(value);
                        break;
                    case "insecure_skip_verify":
                        insecure = Bool(value, "insecure_skip_verify") ?? false;
                        break;
                    case "password" or "username" or "user" or "pass" or "secret":
                        Add(keyNode, $"relays: inline secrets are not allowed ('{key}'); use auth: {{ username_env: NAME, password_env: NAME }} naming environment variables");
                        break;
                    case null:
                        break;
                    default:
                        Unknown(keyNode, key, "url", "connections", "rate_limit", "starttls", "auth", "insecure_skip_verify");
                        break;
                }
            }

            if (url is null)
            {
                if (ok)
                {
                    Add(node, "relays: each relay needs a url (smtp://host:port or smtps://host:port)");
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

        private Uri? RelayUrl(YamlNode value)
        {
            var text = Scalar(value, "url");
            if (text is null)
            {
                return null;
            }

            if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || (uri.Scheme != "smtp" && uri.Scheme != "smtps") || string.IsNullOrEmpty(uri.Host))
            {
                Add(value, $"url: '{text}' is not an smtp:// or smtps:// URL (for example smtp://127.0.0.1:2525)");
                return null;
            }

            if (!string.IsNullOrEmpty(uri.UserInfo))
            {
                Add(value, "url: inline secrets are not allowed in the relay URL; use auth: { username_env: NAME, password_env: NAME }");
                return null;
            }

            if ((uri.AbsolutePath.Length > 0 && uri.AbsolutePath != "/") || uri.Query.Length > 0)
            {
                Add(value, $"url: '{text}' must not have a path or query");
                return null;
            }

            var port = uri.IsDefaultPort || uri.Port < 0 ? (uri.Scheme == "smtps" ? 465 : 25) : uri.Port;
            return new UriBuilder(uri.Scheme, uri.Host, port).Uri;
        }

        private (string? User, string? Password) ParseAuth(YamlNode node)
        {
            if (Mapping(node, "auth") is not { } map)
            {
                return (null, null);
            }

            string? user = null, password = null;
            var inline = false;
            foreach (var (keyNode, value) in map.Children)
            {
                var key = KeyOf(keyNode);
                switch (key)
                {
                    case "username_env":
                        user = EnvName(value, key);
                        break;
                    case "password_env":
                        password = EnvName(value, key);
                        break;
                    case "password" or "username" or "user" or "pass" or "secret":
                        Add(keyNode, $"auth: inline secrets are not allowed ('{key}'); use {(key.StartsWith('u') ? "username_env" : "password_env")}: NAME of an environment variable");
                        inline = true;
                        break;
                    case null:
                        break;
                    default:
                        Unknown(keyNode, key, "username_env", "password_env");
                        break;
                }
            }

            if ((user is null) != (password is null) && !inline && map.Children.Count == 1)
            {
                Add(node, "auth: give both username_env and password_env");
            }

            return (user, password);
        }

        private string? EnvName(YamlNode value, string key)
        {
            var text = Scalar(value, key);
            if (text is not null && !IdentifierPattern().IsMatch(text))
            {
                Add(value, $"{key}: '{text}' is not an environment variable name (letters, digits, '_'); give the NAME, never the secret");
                return null;
            }

            return text;
        }

        private RetryPolicy ParseRetry(YamlNode node)
        {
            var result = new RetryPolicy();
            if (Mapping(node, "retry") is not { } map)
            {
                return result;
            }

            int maxAttempts = result.MaxAttempts;
            TimeSpan initial = result.InitialBackoff, max = result.MaxBackoff, giveUp = result.GiveUpAfter;
            foreach (var (keyNode, value) in map.Children)
            {
                switch (KeyOf(keyNode))
                {
                    case "max_attempts":
                        maxAttempts = Int(value, "retry.max_attempts", 1, 1000) ?? maxAttempts;
                        break;
                    case "initial_backoff":
                        initial = Duration(value, "retry.initial_backoff") ?? initial;
                        break;
                    case "max_backoff":
                        max = Duration(value, "retry.max_backoff") ?? max;
                        break;
                    case "give_up_after":
                        giveUp = Duration(value, "retry.give_up_after") ?? giveUp;
                        break;
                    case null:
                        break;
                    case var other:
                        Unknown(keyNode, other, "max_attempts", "initial_backoff", "max_backoff", "give_up_after");
                        break;
                }
            }

            if (max < initial)
            {
                Add(node, $"retry: max_backoff ({Durations.Format(max)}) is shorter than initial_backoff ({Durations.Format(initial)})");
            }

            return new RetryPolicy { MaxAttempts = maxAttempts, InitialBackoff = initial, MaxBackoff = max, GiveUpAfter = giveUp };
        }

        private DeliveryOptions ParseDelivery(YamlNode node)
        {
            var d = new DeliveryOptions();
            if (Mapping(node, "delivery") is not { } map)
            {
                return d;
            }

            TimeSpan connect = d.ConnectTimeout, command = d.CommandTimeout, final = d.FinalReplyTimeout, cooldown = d.BreakerCooldown, unreachable = d.UnreachableTimeout;
            var failures = d.BreakerFailures;
            foreach (var (keyNode, value) in map.Children)
            {
                switch (KeyOf(keyNode))
                {
                    case "connect_timeout":
                        connect = Duration(value, "delivery.connect_timeout") ?? connect;
                        break;
                    case "command_timeout":
                        command = Duration(value, "delivery.command_timeout") ?? command;
                        break;
                    case "final_reply_timeout":
                        final = Duration(value, "delivery.final_reply_timeout") ?? final;
                        break;
                    case "breaker_failures":
                        failures = Int(value, "delivery.breaker_failures", 1, 1_000_000) ?? failures;
                        break;
                    case "breaker_cooldown":
                        cooldown = Duration(value, "delivery.breaker_cooldown") ?? cooldown;
                        break;
                    case "unreachable_timeout":
                        unreachable = Duration(value, "delivery.unreachable_timeout") ?? unreachable;
                        break;
                    case null:
                        break;
                    case var other:
                        Unknown(keyNode, other, "connect_timeout", "command_timeout", "final_reply_timeout", "breaker_failures", "breaker_cooldown", "unreachable_timeout");
                        break;
                }
            }

            return new DeliveryOptions
            {
                ConnectTimeout = connect,
                CommandTimeout = command,
                FinalReplyTimeout = final,
                BreakerFailures = failures,
                BreakerCooldown = cooldown,
                UnreachableTimeout = unreachable,
            };
        }

        private void ParseData(YamlNode node, Dictionary<string, DataSetOptions> data)
        {
            if (Mapping(node, "data") is not { } map)
            {
                return;
            }

            foreach (var (keyNode, value) in map.Children)
            {
                var name = KeyOf(keyNode);
                if (name is null)
                {
                    continue;
                }

                if (!IdentifierPattern().IsMatch(name))
                {
                    Add(keyNode, $"data: '{name}' is not a valid data set name (letters, digits, '_'; it becomes a template variable)");
                    continue;
                }

                if (BuiltInVariables.Contains(name))
                {
                    Add(keyNode, $"data: '{name}' is a built-in template variable; choose another name");
                    continue;
                }

                if (ParseDataSet(name, value) is { } set)
                {
                    data[name] = set;
                }
            }
        }

        private DataSetOptions? ParseDataSet(string name, YamlNode node)
        {
            if (Mapping(node, $"data.{name}") is not { } map)
            {
                return null;
            }

            string? file = null, key = null, orderBy = null;
            var recipientKey = "recipient_id";
            bool many = false, required = false, ok = true;
            int? limit = null;
            YamlNode? limitNode = null;
            foreach (var (keyNode, value) in map.Children)
            {
                var k = KeyOf(keyNode);
                var label = $"data.{name}.{k}";
                switch (k)
                {
                    case "file":
                        file = FilePath(value, label);
                        ok &= file is not null;
                        if (file is not null && !TableReaders.IsSupported(file))
                        {
                            Add(value, $"{label}: unsupported file type '{Path.GetExtension(file)}' (use {TableReaders.SupportedList})");
                        }

                        break;
                    case "key":
                        key = Column(value, label);
                        ok &= key is not null;
                        break;
                    case "recipient_key":
                        recipientKey = Column(value, label) ?? recipientKey;
                        break;
                    case "many":
                        many = Bool(value, label) ?? many;
                        break;
                    case "limit":
                        limit = Int(value, label, 1, 1_000_000);
                        limitNode = value;
                        break;
                    case "order_by":
                        orderBy = Scalar(value, label);
                        break;
                    case "required":
                        required = Bool(value, label) ?? required;
                        break;
                    case null:
                        break;
                    default:
                        Unknown(keyNode, k, "file", "key", "recipient_key", "many", "limit", "order_by", "required");
                        break;
                }
            }

            if (file is null && ok)
            {
                Add(node, $"data.{name}: 'file' is required");
            }

            if (key is null && ok)
            {
                Add(node, $"data.{name}: 'key' is required (the column matching the recipient)");
            }

            if (!many && limitNode is not null)
            {
                Add(limitNode, $"data.{name}.limit: only meaningful with many: true");
            }

            if (!many && orderBy is not null)
            {
                Add(node, $"data.{name}.order_by: only meaningful with many: true");
            }

            if (file is null || key is null)
            {
                return null;
            }

            return new DataSetOptions
            {
                Name = name,
                File = file,
                Key = key,
                RecipientKey = recipientKey,
                Many = many,
                Limit = limit,
                OrderBy = orderBy,
                Required = required,
            };
        }

        private string? Column(YamlNode value, string label)
        {
            var text = Scalar(value, label);
            if (text is not null && string.IsNullOrWhiteSpace(text))
            {
                Add(value, $"{label}: must name a column");
                return null;
            }

            return text;
        }

        private string? KeyOf(YamlNode keyNode)
        {
            if (keyNode is YamlScalarNode { Value: { } key })
            {
                return key;
            }

            Add(keyNode, "expected a plain key");
            return null;
        }

        private YamlMappingNode? Mapping(YamlNode node, string label)
        {
            if (node is YamlMappingNode map)
            {
                return map;
            }

            Add(node, $"{label}: expected a mapping of keys");
            return null;
        }

        private string? Scalar(YamlNode node, string label)
        {
            if (node is YamlScalarNode scalar)
            {
                if (scalar.Value is null || (scalar.Style == YamlDotNet.Core.ScalarStyle.Plain && scalar.Value is "~" or "null" or ""))
                {
                    Add(node, $"{label}: a value is required");
                    return null;
                }

                return scalar.Value;
            }

            Add(node, $"{label}: expected a single value, not a {(node is YamlSequenceNode ? "list" : "mapping")}");
            return null;
        }

        private bool? Bool(YamlNode node, string label)
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

        private int? Int(YamlNode node, string label, int min, int max)
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

        private double? Double(YamlNode node, string label, double min, double max)
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

        private TimeSpan? Duration(YamlNode node, string label)
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

        private MailboxAddress? Mailbox(YamlNode node, string label)
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

        private string? FilePath(YamlNode node, string label)
        {
            var text = Scalar(node, label);
            if (text is null)
            {
                return null;
            }

            var full = Path.GetFullPath(Path.Combine(_directory, text));
            if (!File.Exists(full))
            {
                Add(node, $"{label}: file not found: {text} (looked for {DisplayPath.For(full)})");
                return null;
            }

            return full;
        }

        private void Require(YamlMappingNode map, object? value, string key, string what)
        {
            // Only complain about a missing key when it is really absent: a present but broken one was already reported.
            var last = key.Split('.')[^1];
            if (value is null && !map.Children.ContainsKey(new YamlScalarNode(last)))
            {
                Add(map, $"missing key '{key}': {what}");
            }
        }

        private void Unknown(YamlNode keyNode, string key, params string[] known)
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

        private void Add(YamlNode node, string message) => _problems.Add(Problem(node, message));

        private Problem Problem(YamlNode node, string message) => new(display, (int)node.Start.Line, (int)node.Start.Column, message);

        private static string StripMark(string message)
        {
            var index = message.IndexOf("): ", StringComparison.Ordinal);
            return message.StartsWith("(Line", StringComparison.Ordinal) && index > 0 ? message[(index + 3)..] : message;
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
}
