using System.Net;

namespace Herald.Cli.Bounces;

/// <summary>How <see cref="BounceReceiver"/> listens and what it accepts.</summary>
internal sealed record BounceReceiverOptions
{
    public const int DefaultPort = 2526;

    public IPAddress Address { get; init; } = IPAddress.Loopback;

    /// <summary>TCP port; 0 picks a free one.</summary>
    public int Port { get; init; } = DefaultPort;

    /// <summary>Domains accepted besides those the store's campaigns registered (lowercase).</summary>
    public IReadOnlyList<string> Domains { get; init; } = [];

    /// <summary>Larger messages are refused (advertised with SIZE and enforced): a bounce is small.</summary>
    public int MaxMessageBytes { get; init; } = 10 * 1024 * 1024;

    /// <summary>Open sessions at most; more wait in the listen backlog.</summary>
    public int MaxConnections { get; init; } = 64;

    /// <summary>An idle client is dropped after this long without a command.</summary>
    public TimeSpan CommandTimeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>How long the list of the store's bounce domains is cached.</summary>
    public TimeSpan DomainRefresh { get; init; } = TimeSpan.FromSeconds(5);
}
