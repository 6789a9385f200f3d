using System.Net;

namespace Herald.Cli.Sink;

/// <summary>How a <see cref="CaptureSink"/> listens and what it keeps.</summary>
internal sealed record CaptureSinkOptions
{
    /// <summary>TCP port; 0 picks a free one (read it back from <see cref="CaptureSink.Port"/>).</summary>
    public int Port { get; init; } = 2525;

    /// <summary>Loopback by default: a capture sink accepts mail from anyone, so it must not face a network unasked.</summary>
    public IPAddress Address { get; init; } = IPAddress.Loopback;

    /// <summary>When set, every accepted message is written there as a uniquely named <c>.eml</c>.</summary>
    public string? OutDir { get; init; }

    /// <summary>When set, one line per accepted message is appended (and flushed) before the 250 reply is sent.</summary>
    public string? LogFile { get; init; }

    /// <summary>With <see cref="OutDir"/>: keep only the first this many messages as files (every message is still counted).</summary>
    public long MaxFiles { get; init; } = long.MaxValue;

    /// <summary>Wait this long after the final dot before replying: simulates a slow relay.</summary>
    public TimeSpan Delay { get; init; } = TimeSpan.Zero;
}
