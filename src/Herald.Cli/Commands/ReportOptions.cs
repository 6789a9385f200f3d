using System.CommandLine;
using Herald.Campaigns;
using Herald.Cli.Stores;
using Herald.Tracking;

namespace Herald.Cli.Commands;

/// <summary>The options <c>report</c> and <c>events export</c> share, and how they open the store (read only: never created).</summary>
internal sealed class ReportOptions
{
    public const string DefaultTimeout = "2m";

    public Argument<string> Campaign { get; } = new("campaign") { Description = "The campaign file (campaign.yml)." };

    public Option<string?> Db { get; } = DbOption.Create();

    public Option<string> Timeout { get; } = new("--timeout")
    {
        Description = "Give up when the report takes longer than this (e.g. 30s, 5m).",
        DefaultValueFactory = _ => DefaultTimeout,
    };

    public Option<int> MaxEventsPerRecipient { get; } = new("--max-events-per-recipient")
    {
        Description = "A recipient with more opens or clicks than this is counted as a bot as a whole (raw only, not examined).",
        DefaultValueFactory = _ => EngagementOptions.DefaultMaxEventsPerRecipient,
    };

    /// <param name="engagement">False for commands that classify nothing (the raw events export): no bot threshold.</param>
    public void AddTo(Command command, bool engagement = true)
    {
        command.Add(Campaign);
        command.Add(Db);
        command.Add(Timeout);
        if (engagement)
        {
            command.Add(MaxEventsPerRecipient);
        }
    }

    public static DateTimeOffset? ParseTime(ParseResult result, Option<string?> option)
    {
        if (result.GetValue(option) is not { } text)
        {
            return null;
        }

        return ReportTimes.TryParse(text, DateTimeOffset.UtcNow, out var value)
            ? value
            : throw new HeraldException($"{option.Name}: '{text}' is not a time (examples: 2026-04-01T10:00:00Z, 2026-04-01, 24h, 7d).");
    }

    public TimeSpan ParseTimeout(ParseResult result)
    {
        var text = result.GetValue(Timeout);
        return Durations.TryParse(text, out var value) && value > TimeSpan.Zero
            ? value
            : throw new HeraldException($"--timeout: '{text}' is not a duration (examples: 30s, 5m).");
    }

    public EngagementOptions Engagement(ParseResult result)
    {
        var options = new EngagementOptions { MaxEventsPerRecipient = result.GetValue(MaxEventsPerRecipient) };
        options.Validate();
        return options;
    }

    /// <summary>
    /// The campaign and its stores, opened read only (a missing store is an error naming where it looked). The store's
    /// line goes to <paramref name="storeLine"/>: standard output in text mode, standard error when stdout carries data.
    /// </summary>
    public static async Task<(Campaign Campaign, HeraldStores Stores)> OpenAsync(ParseResult result, ReportOptions options, TextWriter? storeLine, CancellationToken cancellationToken)
    {
        var file = result.GetValue(options.Campaign)!;
        var campaign = CampaignLoader.Load(file);
        var location = StoreLocator.Resolve(result.GetValue(options.Db), file);
        storeLine?.WriteLine(location.Line);
        return (campaign, await StoreFactory.OpenAsync(location, StoreAccess.ReadOnly, cancellationToken).ConfigureAwait(false));
    }

    /// <summary>Runs <paramref name="work"/> under the time limit; the limit and Ctrl-C/SIGTERM both cancel the store's queries.</summary>
    /// <param name="streaming">True when <paramref name="work"/> writes as it goes: then what it wrote is cut short, not absent.</param>
    public static async Task<int> WithTimeLimitAsync(TimeSpan limit, CancellationToken stop, Func<CancellationToken, Task<int>> work, bool streaming = false)
    {
        using var timeout = new CancellationTokenSource(limit);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(stop, timeout.Token);
        try
        {
            return await work(linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !stop.IsCancellationRequested)
        {
            Console.Error.WriteLine(streaming
                ? $"error: stopped after {Durations.Format(limit)} (--timeout); the output is incomplete."
                : $"error: stopped after {Durations.Format(limit)} (--timeout); nothing was written.");
            return CliRunner.Incomplete;
        }
    }
}
