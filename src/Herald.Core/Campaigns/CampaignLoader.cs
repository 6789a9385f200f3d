using System.Text.RegularExpressions;
using Herald.Data;
using MimeKit;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Herald.Campaigns;

/// <summary>
/// Loads <c>campaign.yml</c>: every problem (unknown keys, wrong types, missing files, inline secrets) is collected with
/// its line:col and thrown together as one <see cref="CampaignException"/>. The top level is read here; each section is
/// parsed beside its options type (<see cref="TrackingOptions"/>, <see cref="RelayOptions"/>, ...) with the shared
/// readers of <see cref="CampaignParseContext"/>.
/// </summary>
public static partial class CampaignLoader
{
    /// <summary>Names templates get from Herald; recipient columns and data sets may not reuse them.</summary>
    public static readonly IReadOnlyList<string> BuiltInVariables = ["email", "recipient_id", "unsubscribe_url", "postal_address", "campaign"];

    /// <summary>Every top-level key, for the "did you mean" of an unknown one.</summary>
    private static readonly string[] TopLevelKeys =
    [
        "id", "from", "reply_to", "subject", "html", "text", "recipients", "headers", "tracking",
        "unsubscribe", "postal_address", "relays", "retry", "delivery", "data", "dkim", "list_id", "feedback_id",
    ];

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

        return Parse(text, new CampaignParseContext(display, full));
    }

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]*$")]
    internal static partial Regex IdentifierPattern();

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")]
    internal static partial Regex CampaignIdPattern();

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

    private static Campaign Parse(string text, CampaignParseContext context)
    {
        var root = ReadRoot(text, context);

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
        DkimOptions? dkim = null;
        YamlMappingNode? dkimNode = null;
        string? listId = null;
        (string? Stream, string? SenderId) feedback = (null, null);
        YamlNode? feedbackNode = null;

        foreach (var (keyNode, value) in root.Children)
        {
            var key = context.KeyOf(keyNode);
            switch (key)
            {
                case "id":
                    id = context.Scalar(value, key);
                    if (id is not null && !CampaignIdPattern().IsMatch(id))
                    {
                        context.Add(value, "id: use letters, digits, '.', '-' or '_' (at most 100 characters), starting with a letter or digit");
                    }

                    break;
                case "from":
                    from = context.Mailbox(value, key);
                    break;
                case "reply_to":
                    replyTo = context.Mailbox(value, key);
                    break;
                case "subject":
                    subject = context.Scalar(value, key);
                    context.RecordPosition("subject", value);
                    if (subject is not null && subject.AsSpan().IndexOfAny('\r', '\n') >= 0)
                    {
                        context.Add(value, "subject: must be one line");
                    }

                    break;
                case "html":
                    html = context.FilePath(value, key);
                    break;
                case "text":
                    textPath = context.FilePath(value, key);
                    break;
                case "recipients":
                    recipients = context.FilePath(value, key);
                    if (recipients is not null && !TableReaders.IsSupported(recipients))
                    {
                        context.Add(value, $"recipients: unsupported file type '{Path.GetExtension(recipients)}' (use {TableReaders.SupportedList})");
                    }

                    break;
                case "headers":
                    CustomHeaders.Parse(value, context, headers);
                    break;
                case "tracking":
                    tracking = TrackingOptions.Parse(value, context);
                    break;
                case "unsubscribe":
                    unsubscribe = UnsubscribeOptions.Parse(value, context);
                    break;
                case "postal_address":
                    postal = context.Scalar(value, key);
                    if (postal is not null && string.IsNullOrWhiteSpace(postal))
                    {
                        context.Add(value, "postal_address: must not be empty (anti-spam laws require a postal address)");
                    }

                    break;
                case "relays":
                    relays = RelayOptions.ParseList(value, context);
                    break;
                case "retry":
                    retry = RetryPolicy.Parse(value, context);
                    break;
                case "delivery":
                    delivery = DeliveryOptions.Parse(value, context);
                    break;
                case "data":
                    DataSetOptions.ParseSection(value, context, data);
                    break;
                case "dkim":
                    dkim = DkimOptions.Parse(value, context);
                    dkimNode = value as YamlMappingNode;
                    break;
                case "list_id":
                    listId = ListHeaders.ParseListId(value, context);
                    break;
                case "feedback_id":
                    feedback = ListHeaders.ParseFeedbackId(value, context);
                    feedbackNode = value;
                    break;
                case null:
                    break;
                default:
                    context.Unknown(keyNode, key, TopLevelKeys);
                    break;
            }
        }

        context.Require(root, from, "from", "the sender, for example \"Shop <news@shop.example.com>\"");
        context.Require(root, subject, "subject", "the subject line (Liquid)");
        context.Require(root, html, "html", "the HTML template file");
        context.Require(root, recipients, "recipients", "the recipients file (.csv or .jsonl)");
        context.Require(root, tracking, "tracking", "tracking: { base_url: https://... }, needed for the unsubscribe link");
        context.Require(root, postal, "postal_address", "the sender's postal address");
        context.Require(root, relays, "relays", "at least one SMTP relay");

        id ??= DefaultId(context.Directory);
        string? senderId = null;
        if (from is not null)
        {
            if (dkim is not null)
            {
                DkimOptions.CheckAlignment(dkim, from.Domain, dkimNode!, context);
            }

            senderId = feedback.SenderId ?? ListHeaders.DefaultSenderId(from.Domain);
            if (senderId is null)
            {
                context.Add(feedbackNode ?? root, $"feedback_id: set sender_id (5 to 15 letters or digits, Gmail's SenderId); '{from.Domain}' is too short to derive one");
            }
        }

        if (context.Problems.Count > 0)
        {
            throw new CampaignException(context.Problems);
        }

        return new Campaign
        {
            Id = id,
            FilePath = context.FullPath,
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
            Dkim = dkim,
            ListId = listId ?? ListHeaders.DefaultListId(id, from!.Domain),
            FeedbackId = ListHeaders.FeedbackId(id, feedback.Stream ?? ListHeaders.DefaultStream, senderId!),
            Positions = new Dictionary<string, SourcePosition>(context.Positions),
        };
    }

    /// <summary>The YAML document's top-level mapping; a syntax error, an empty file or a non-mapping stops here.</summary>
    private static YamlMappingNode ReadRoot(string text, CampaignParseContext context)
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
            throw new CampaignException(new Problem(context.Display, (int)ex.Start.Line, (int)ex.Start.Column, $"YAML syntax error: {StripMark(message)}"));
        }

        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is YamlScalarNode { Value: null or "" })
        {
            throw new CampaignException(new Problem(context.Display, 0, 0, "the campaign file is empty"));
        }

        if (stream.Documents[0].RootNode is not YamlMappingNode root)
        {
            throw new CampaignException(context.Problem(stream.Documents[0].RootNode, "expected a mapping of keys (id:, from:, subject:, ...)"));
        }

        return root;
    }

    private static string StripMark(string message)
    {
        var index = message.IndexOf("): ", StringComparison.Ordinal);
        return message.StartsWith("(Line", StringComparison.Ordinal) && index > 0 ? message[(index + 3)..] : message;
    }
}
