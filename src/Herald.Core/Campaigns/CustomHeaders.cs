using YamlDotNet.RepresentationModel;

namespace Herald.Campaigns;

/// <summary>The <c>headers</c> section: extra headers whose values are Liquid sources.</summary>
internal static class CustomHeaders
{
    /// <summary>Header names Herald sets itself; a campaign may not override them.</summary>
    internal static readonly HashSet<string> Reserved = new(StringComparer.OrdinalIgnoreCase)
    {
        "From", "To", "Cc", "Bcc", "Reply-To", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type",
        "Content-Transfer-Encoding", "List-Unsubscribe", "List-Unsubscribe-Post", "Return-Path", "Sender", "DKIM-Signature",
        "List-Id", "Feedback-ID",
    };

    internal static void Parse(YamlNode node, CampaignParseContext context, Dictionary<string, string> headers)
    {
        if (context.Mapping(node, "headers") is not { } map)
        {
            return;
        }

        foreach (var (keyNode, value) in map.Children)
        {
            var name = context.KeyOf(keyNode);
            if (name is null)
            {
                continue;
            }

            if (name.Length == 0 || name.Any(c => c is < '!' or > '~' or ':'))
            {
                context.Add(keyNode, $"headers: '{name}' is not a valid header name");
                continue;
            }

            if (Reserved.Contains(name))
            {
                context.Add(keyNode, $"headers: {name} is set by Herald and cannot be overridden");
                continue;
            }

            var text = context.Scalar(value, $"headers.{name}");
            if (text is null)
            {
                continue;
            }

            if (text.AsSpan().IndexOfAny('\r', '\n') >= 0)
            {
                context.Add(value, $"headers.{name}: must be one line");
                continue;
            }

            context.RecordPosition($"headers.{name}", value);
            if (!headers.TryAdd(name, text))
            {
                context.Add(keyNode, $"headers: {name} is given twice");
            }
        }
    }
}
