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

    /// <summary>Named per-recipient data sets joined at prepare time.</summary>
    public IReadOnlyDictionary<string, DataSetOptions> Data { get; init; } = new Dictionary<string, DataSetOptions>();

    /// <summary>Where inline templates start in the campaign file (<c>subject</c>, <c>headers.NAME</c>), for error messages.</summary>
    public IReadOnlyDictionary<string, SourcePosition> Positions { get; init; } = new Dictionary<string, SourcePosition>();
}

/// <summary>A 1-based line and column in a file.</summary>
public readonly record struct SourcePosition(int Line, int Column);

/// <summary>The <c>tracking</c> section.</summary>
public sealed class TrackingOptions
{
    /// <summary>Public base URL of <c>herald serve</c>, without a trailing slash.</summary>
    public required string BaseUrl { get; init; }

    public bool Clicks { get; init; } = true;

    public bool Opens { get; init; } = true;
}

/// <summary>The <c>unsubscribe</c> section.</summary>
public sealed class UnsubscribeOptions
{
    /// <summary>Optional mailto address offered in List-Unsubscribe besides the https URL.</summary>
    public string? Mailto { get; init; }
}

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

/// <summary>One SMTP relay of the pool.</summary>
public sealed class RelayOptions
{
    /// <summary><c>smtp://host:port</c> or <c>smtps://host:port</c>.</summary>
    public required Uri Url { get; init; }

    private readonly string? _name;

    /// <summary>A short name for messages, logs, <c>status</c> and the ledger (the <c>name</c> key; defaults to host:port).</summary>
    public string Name
    {
        get => _name ?? $"{Url.Host}:{Url.Port}";
        init => _name = string.IsNullOrWhiteSpace(value) ? null : value;
    }

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

    /// <summary>
    /// Use BDAT (RFC 3030) when the relay offers CHUNKING: the content goes as one chunk whose reply is awaited before
    /// the final <c>BDAT 0 LAST</c>, which narrows the window in which a lost connection leaves a recipient in doubt.
    /// </summary>
    public bool Chunking { get; init; } = true;
}

/// <summary>The <c>retry</c> section: how failures that are safe to retry are retried.</summary>
public sealed class RetryPolicy
{
    public int MaxAttempts { get; init; } = 5;

    public TimeSpan InitialBackoff { get; init; } = TimeSpan.FromSeconds(30);

    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromMinutes(5);

    public TimeSpan GiveUpAfter { get; init; } = TimeSpan.FromHours(2);

    /// <summary>Backoff before attempt number <paramref name="attemptsSoFar"/> + 1 (exponential, capped).</summary>
    public TimeSpan BackoffAfter(int attemptsSoFar)
    {
        var exponent = Math.Clamp(attemptsSoFar - 1, 0, 30);
        var ticks = InitialBackoff.Ticks * Math.Pow(2, exponent);
        return ticks >= MaxBackoff.Ticks ? MaxBackoff : TimeSpan.FromTicks((long)ticks);
    }
}

/// <summary>The <c>delivery</c> section: timeouts and the relay circuit breaker.</summary>
public sealed class DeliveryOptions
{
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Timeout for each SMTP command reply before the data.</summary>
    public TimeSpan CommandTimeout { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>How long to wait for the reply to the final dot (RFC 5321 §4.5.3.2.6 suggests 10 minutes).</summary>
    public TimeSpan FinalReplyTimeout { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>Consecutive connection failures that open a relay's circuit.</summary>
    public int BreakerFailures { get; init; } = 5;

    /// <summary>How long an open circuit keeps a relay out of rotation.</summary>
    public TimeSpan BreakerCooldown { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long sending may stay paused with every relay down before <c>herald send</c> gives up (exit non-zero, nothing marked failed).</summary>
    public TimeSpan UnreachableTimeout { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// Policy or spam refusals (5.7.x, 5.3.x) in a row, for different recipients, that take a relay out of rotation:
    /// the block is then about the sender, not the recipients, who stay pending.
    /// </summary>
    public int PolicyStreak { get; init; } = 10;

    /// <summary>Temporary failures (4xx, connections lost mid-transaction) in a row that make a storm and take a relay out of rotation.</summary>
    public int TransientStreak { get; init; } = 25;
}

/// <summary>One named data set of the <c>data</c> section.</summary>
public sealed class DataSetOptions
{
    public required string Name { get; init; }

    public required string File { get; init; }

    public required string Key { get; init; }

    public string RecipientKey { get; init; } = "recipient_id";

    public bool Many { get; init; }

    public int? Limit { get; init; }

    public string? OrderBy { get; init; }

    public bool Required { get; init; }
}
