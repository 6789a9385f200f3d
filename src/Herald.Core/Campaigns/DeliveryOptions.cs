using YamlDotNet.RepresentationModel;

namespace Herald.Campaigns;

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

    internal static DeliveryOptions Parse(YamlNode node, CampaignParseContext context)
    {
        var d = new DeliveryOptions();
        if (context.Mapping(node, "delivery") is not { } map)
        {
            return d;
        }

        TimeSpan connect = d.ConnectTimeout, command = d.CommandTimeout, final = d.FinalReplyTimeout, cooldown = d.BreakerCooldown, unreachable = d.UnreachableTimeout;
        var failures = d.BreakerFailures;
        foreach (var (keyNode, value) in map.Children)
        {
            switch (context.KeyOf(keyNode))
            {
                case "connect_timeout":
                    connect = context.Duration(value, "delivery.connect_timeout") ?? connect;
                    break;
                case "command_timeout":
                    command = context.Duration(value, "delivery.command_timeout") ?? command;
                    break;
                case "final_reply_timeout":
                    final = context.Duration(value, "delivery.final_reply_timeout") ?? final;
                    break;
                case "breaker_failures":
                    failures = context.Int(value, "delivery.breaker_failures", 1, 1_000_000) ?? failures;
                    break;
                case "breaker_cooldown":
                    cooldown = context.Duration(value, "delivery.breaker_cooldown") ?? cooldown;
                    break;
                case "unreachable_timeout":
                    unreachable = context.Duration(value, "delivery.unreachable_timeout") ?? unreachable;
                    break;
                case null:
                    break;
                case var other:
                    context.Unknown(keyNode, other, "connect_timeout", "command_timeout", "final_reply_timeout", "breaker_failures", "breaker_cooldown", "unreachable_timeout");
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
}
