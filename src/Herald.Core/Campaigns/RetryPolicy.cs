using YamlDotNet.RepresentationModel;

namespace Herald.Campaigns;

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

    internal static RetryPolicy Parse(YamlNode node, CampaignParseContext context)
    {
        var result = new RetryPolicy();
        if (context.Mapping(node, "retry") is not { } map)
        {
            return result;
        }

        int maxAttempts = result.MaxAttempts;
        TimeSpan initial = result.InitialBackoff, max = result.MaxBackoff, giveUp = result.GiveUpAfter;
        foreach (var (keyNode, value) in map.Children)
        {
            switch (context.KeyOf(keyNode))
            {
                case "max_attempts":
                    maxAttempts = context.Int(value, "retry.max_attempts", 1, 1000) ?? maxAttempts;
                    break;
                case "initial_backoff":
                    initial = context.Duration(value, "retry.initial_backoff") ?? initial;
                    break;
                case "max_backoff":
                    max = context.Duration(value, "retry.max_backoff") ?? max;
                    break;
                case "give_up_after":
                    giveUp = context.Duration(value, "retry.give_up_after") ?? giveUp;
                    break;
                case null:
                    break;
                case var other:
                    context.Unknown(keyNode, other, "max_attempts", "initial_backoff", "max_backoff", "give_up_after");
                    break;
            }
        }

        if (max < initial)
        {
            context.Add(node, $"retry: max_backoff ({Durations.Format(max)}) is shorter than initial_backoff ({Durations.Format(initial)})");
        }

        return new RetryPolicy { MaxAttempts = maxAttempts, InitialBackoff = initial, MaxBackoff = max, GiveUpAfter = giveUp };
    }
}
