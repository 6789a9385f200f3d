using System.Net;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Unicode;
using Fluid;
using Fluid.Values;
using Herald.Campaigns;
using Herald.Store;
using Herald.Tracking;
using MimeKit;

namespace Herald.Rendering;

/// <summary>
/// A campaign whose templates are parsed, checked and link-rewritten once; renders one MIME message per recipient.
/// Thread-safe: every call gets its own Liquid context.
/// </summary>
public sealed class CompiledCampaign : IMessageFactory
{
    /// <summary>Leaves non-ASCII text as is (the part is UTF-8), escapes what HTML needs escaped.</summary>
    private static readonly HtmlEncoder Html = HtmlEncoder.Create(UnicodeRanges.All);

    private const int BodyCapacity = 128 * 1024;

    [ThreadStatic]
    private static StringBuilder? t_html;

    [ThreadStatic]
    private static StringBuilder? t_text;

    private readonly TemplateOptions _options;
    private readonly IFluidTemplate _subject;
    private readonly IFluidTemplate _html;
    private readonly IFluidTemplate _text;
    private readonly bool _textDerived;
    private readonly (string Name, IFluidTemplate Template)[] _headers;
    private readonly string?[] _staticTargets;
    private readonly TokenSigner _signer;
    private readonly string _baseUrl;
    private readonly string _fromDomain;
    private readonly FluidValue _campaignValue;
    private readonly StringValue _postalAddress;
    private readonly TemplateNames _names;
    private readonly long _maxChars;

    internal CompiledCampaign(
        Campaign campaign,
        TemplateOptions options,
        IFluidTemplate subject,
        IFluidTemplate html,
        IFluidTemplate text,
        bool textDerived,
        (string Name, IFluidTemplate Template)[] headers,
        IReadOnlyList<TrackedLink> links,
        TokenSigner signer,
        TemplateNames names)
    {
        _names = names;
        _maxChars = campaign.Limits.MaxMessageSize;
        Campaign = campaign;
        _options = options;
        _subject = subject;
        _html = html;
        _text = text;
        _textDerived = textDerived;
        _headers = headers;
        _signer = signer;
        _baseUrl = campaign.Tracking.BaseUrl;
        _fromDomain = campaign.From.Domain;
        _staticTargets = new string?[links.Count + 1];
        foreach (var link in links)
        {
            _staticTargets[link.Number] = link.StaticTarget;
        }

        Links = links.Count;
        TrackedLinks = [.. links.Select(LinkLabels.Define)];
        _campaignValue = new DictionaryValue(new FluidValueDictionaryFluidIndexable(new Dictionary<string, FluidValue>
        {
            ["id"] = new StringValue(campaign.Id),
        }));
        _postalAddress = new StringValue(campaign.PostalAddress);
    }

    public Campaign Campaign { get; }

    /// <summary>Number of tracked links in the HTML template.</summary>
    public int Links { get; }

    /// <summary>The tracked links with their labels, as reports name them (recorded in the store when sending starts).</summary>
    public IReadOnlyList<LinkDefinition> TrackedLinks { get; }

    /// <summary>The Message-ID of a recipient of this campaign.</summary>
    public string MessageIdFor(string recipientId) => MessageIds.Create(Campaign.Id, recipientId, _fromDomain);

    /// <summary>The one-click unsubscribe URL of a recipient.</summary>
    public string UnsubscribeUrl(string recipientId) =>
        $"{_baseUrl}/u/{_signer.Create(new TrackingToken(TokenKind.Unsubscribe, Campaign.Id, recipientId, 0, null))}";

    public MimeMessage Create(WorkItem item)
    {
        ArgumentNullException.ThrowIfNull(item);
        var state = new RenderState(_options, this, item.RecipientId, Links);
        state.Load(item.Context.Span);
        var unsubscribe = UnsubscribeUrl(item.RecipientId);
        state.SetValue("email", new StringValue(item.Email));
        state.SetValue("recipient_id", new StringValue(item.RecipientId));
        state.SetValue("unsubscribe_url", new StringValue(unsubscribe));
        state.SetValue("postal_address", _postalAddress);
        state.SetValue("campaign", _campaignValue);
        if (Campaign.Tracking.Opens)
        {
            var open = _signer.Create(new TrackingToken(TokenKind.Open, Campaign.Id, item.RecipientId, 0, null));
            state.SetValue(LinkRewriter.OpenVariable, new StringValue($"{_baseUrl}/o/{open}", false));
        }

        var subject = RenderLine(_subject, state, item.RecipientId, "Subject", _names.Subject);
        List<(string, string)>? headers = null;
        for (var h = 0; h < _headers.Length; h++)
        {
            var (name, template) = _headers[h];
            (headers ??= []).Add((name, RenderLine(template, state, item.RecipientId, name, _names.Headers[h])));
        }

        if (item.Email.AsSpan().IndexOfAny('\r', '\n') >= 0)
        {
            throw new RecipientRejectedException(item.RecipientId, "header-injection: To");
        }

        // One chunk big enough for a whole body: a StringBuilder that had to grow in chunks reallocates on every
        // Clear() and shrink (Tidy), which made ~100 kB of garbage per email.
        var html = t_html ??= new StringBuilder(BodyCapacity);
        var text = t_text ??= new StringBuilder(BodyCapacity);
        html.Clear();
        text.Clear();
        state.HtmlMode = true;
        Render(_html, state, html, Html, _maxChars, item.RecipientId, _names.Html);
        state.HtmlMode = false;
        Render(_text, state, text, NullEncoder.Default, _maxChars - html.Length, item.RecipientId, _names.Text);
        if (_textDerived)
        {
            PlainText.Tidy(text);
        }

        if (IsChunked(html) || IsChunked(text))
        {
            // An unusually large body grew a builder in chunks: start this thread over with one chunk of that size.
            t_html = new StringBuilder(html.Capacity);
            t_text = new StringBuilder(text.Capacity);
        }

        var messageId = string.IsNullOrEmpty(item.MessageId) ? MessageIdFor(item.RecipientId) : item.MessageId;
        return Build(item.Email, subject, headers, messageId, unsubscribe, html, text);
    }

    private MimeMessage Build(string email, string subject, List<(string Name, string Value)>? headers, string messageId, string unsubscribe, StringBuilder html, StringBuilder text)
    {
        var body = PreEncodedAlternative.Create(text, html);

        // The header-list constructor skips MimeMessage's default Message-Id (a host name lookup per message).
        var message = new MimeMessage((IEnumerable<Header>)[]);
        try
        {
            // Fresh address objects: an address list subscribes to its items' Changed events, so adding the campaign's
            // shared MailboxAddress would root every message ever built through that handler (a leak of the whole tree).
            message.From.Add(new MailboxAddress(Campaign.From.Name, Campaign.From.Address));
            message.To.Add(new MailboxAddress(string.Empty, email));
            if (Campaign.ReplyTo is not null)
            {
                message.ReplyTo.Add(new MailboxAddress(Campaign.ReplyTo.Name, Campaign.ReplyTo.Address));
            }

            message.Subject = subject;
            message.Date = DateTimeOffset.UtcNow;
            message.MessageId = messageId;
            message.Headers.Add(HeaderId.MimeVersion, "1.0");
            var listUnsubscribe = Campaign.Unsubscribe.Mailto is { } mailto
                ? $"<{unsubscribe}>, <mailto:{mailto}?subject=unsubscribe>"
                : $"<{unsubscribe}>";
            message.Headers.Add("List-Unsubscribe", listUnsubscribe);
            message.Headers.Add("List-Unsubscribe-Post", "List-Unsubscribe=One-Click");
            message.Headers.Add("List-Id", Campaign.ListId);
            message.Headers.Add("Feedback-ID", Campaign.FeedbackId);
            if (headers is not null)
            {
                foreach (var (name, value) in headers)
                {
                    message.Headers.Add(name, Encoding.UTF8, value);
                }
            }

            message.Body = body;
            return message;
        }
        catch
        {
            message.Dispose();
            throw;
        }
    }

    private static bool IsChunked(StringBuilder builder)
    {
        var chunks = 0;
        foreach (var _ in builder.GetChunks())
        {
            if (++chunks > 1)
            {
                return true;
            }
        }

        return false;
    }

    private string RenderLine(IFluidTemplate template, RenderState state, string recipientId, string header, string templateName)
    {
        var output = new StringBuilder();
        Render(template, state, output, NullEncoder.Default, _maxChars, recipientId, templateName);
        var value = output.ToString();
        if (value.AsSpan().IndexOfAny('\r', '\n') >= 0)
        {
            throw new RecipientRejectedException(recipientId, $"header-injection: {header}");
        }

        return value;
    }

    /// <summary>Renders into <paramref name="output"/>; a passed limit rejects the recipient, naming the template.</summary>
    private static void Render(IFluidTemplate template, RenderState state, StringBuilder output, TextEncoder encoder, long maxChars, string recipientId, string templateName)
    {
        using var writer = new BoundedStringWriter(output, maxChars);
        try
        {
            var task = template.RenderAsync(writer, encoder, state);
            if (!task.IsCompletedSuccessfully)
            {
                task.AsTask().GetAwaiter().GetResult();
            }
        }
        catch (RenderLimitException ex)
        {
            throw new RecipientRejectedException(recipientId, $"limit: {templateName}: {ex.Message}");
        }
        catch (InvalidOperationException ex) when (ex.Message.Contains("maximum", StringComparison.OrdinalIgnoreCase))
        {
            // Fluid reports both its step and its recursion bound with one "maximum level of recursion" message.
            throw new RecipientRejectedException(recipientId,
                $"limit: {templateName}: more than {state.MaxSteps:N0} Liquid steps or loops nested more than {RenderLimits.MaxRecursion} deep (limits.render_steps)");
        }
    }

    /// <summary>The <c>herald_link</c> filter: a tracked URL for link N, or the rendered URL untouched when it is not http(s).</summary>
    internal static ValueTask<FluidValue> LinkFilter(FluidValue input, FilterArguments arguments, TemplateContext context)
    {
        var state = (RenderState)context;
        var campaign = state.Campaign;
        if (arguments.Count == 0)
        {
            var number = (int)input.ToNumberValue();
            var cached = state.StaticLinks[number];
            if (cached is null)
            {
                cached = campaign.ClickUrl(state.RecipientId, number, campaign._staticTargets[number]!);
                state.StaticLinks[number] = cached;
            }

            return new ValueTask<FluidValue>(new StringValue(cached, false));
        }

        var link = (int)arguments.At(0).ToNumberValue();
        var rendered = input.ToStringValue().Trim();
        var target = state.HtmlMode ? WebUtility.HtmlDecode(rendered) : rendered;
        if (!target.StartsWith("http://", StringComparison.OrdinalIgnoreCase) && !target.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
        {
            // Rendered to mailto:, tel:, #anchor or empty: leave it as the template wrote it.
            return new ValueTask<FluidValue>(new StringValue(rendered, false));
        }

        var cache = state.DynamicLinks ??= [];
        if (!cache.TryGetValue((link, target), out var url))
        {
            url = campaign.ClickUrl(state.RecipientId, link, target);
            cache[(link, target)] = url;
        }

        return new ValueTask<FluidValue>(new StringValue(url, false));
    }

    private string ClickUrl(string recipientId, int number, string target) =>
        $"{_baseUrl}/c/{_signer.Create(new TrackingToken(TokenKind.Click, Campaign.Id, recipientId, number, target))}";
}
