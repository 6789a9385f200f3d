using MimeKit;

namespace Herald.Campaigns;

/// <summary>A loaded, validated campaign definition (<c>campaign.yml</c>); paths are absolute.</summary>
public sealed class Campaign
{
    /// <summary>Campaign id: the <c>id</c> key, or the campaign file's folder name.</summary>
    public required string Id { get; init; }

    /// <summary>Absolute path of the campaign file.</summary>
    public required string FilePath { get; init; }

    /// <summary>Folder of the campaign file; relative paths in it resolve here.</summary>
    public string Directory => Path.GetDirectoryName(FilePath)!;

    public required MailboxAddress From { get; init; }

    public MailboxAddress? ReplyTo { get; init; }

    /// <summary>Liquid source of the subject.</summary>
    public required string Subject { get; init; }

    public required string HtmlPath { get; init; }

    public string? TextPath { get; init; }

    public required string RecipientsPath { get; init; }

    /// <summary>Extra headers; values are Liquid sources.</summary>
    public IReadOnlyDictionary<string, string> Headers { get; init; } = new Dictionary<string, string>();

    public required TrackingOptions Tracking { get; init; }

    public UnsubscribeOptions Unsubscribe { get; init; } = new();

    public required string PostalAddress { get; init; }

    public required IReadOnlyList<RelayOptions> Relays { get; init; }

    public RetryPolicy Retry { get; init; } = new();

    public DeliveryOptions Delivery { get; init; } = new();

    /// <summary>DKIM signing, when the campaign has a <c>dkim</c> section.</summary>
    public DkimOptions? Dkim { get; init; }

    /// <summary>The List-Id header value (RFC 2919), for example <c>&lt;spring.shop.example.com&gt;</c>.</summary>
    public string ListId
    {
        get => _listId ??= ListHeaders.DefaultListId(Id, From.Domain);
        init => _listId = value;
    }

    /// <summary>The Feedback-ID header value (Gmail's feedback loop): <c>campaign-id:stream:herald:sender-id</c>.</summary>
    public string FeedbackId
    {
        get => _feedbackId ??= ListHeaders.FeedbackId(Id, ListHeaders.DefaultStream, ListHeaders.DefaultSenderId(From.Domain) ?? "heraldmail");
        init => _feedbackId = value;
    }

    private string? _listId;
    private string? _feedbackId;

    /// <summary>Named per-recipient data sets joined at prepare time.</summary>
    public IReadOnlyDictionary<string, DataSetOptions> Data { get; init; } = new Dictionary<string, DataSetOptions>();

    /// <summary>Where inline templates start in the campaign file (<c>subject</c>, <c>headers.NAME</c>), for error messages.</summary>
    public IReadOnlyDictionary<string, SourcePosition> Positions { get; init; } = new Dictionary<string, SourcePosition>();
}

/// <summary>A 1-based line and column in a file.</summary>
public readonly record struct SourcePosition(int Line, int Column);
