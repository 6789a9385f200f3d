using System.CommandLine;
using Herald.Campaigns;

namespace Herald.Cli.Commands;

/// <summary>The engine knobs <c>send</c> and <c>retry</c> take from the command line (<c>--lease</c>, <c>--store-outage-timeout</c>).</summary>
internal sealed record SendTuning(TimeSpan Lease, TimeSpan StoreOutageTimeout)
{
    public static SendTuning Default { get; } = new(TimeSpan.FromSeconds(30), TimeSpan.FromMinutes(10));

    /// <summary>The two options, added to <paramref name="command"/>; the returned function reads them from a parse result.</summary>
    public static Func<ParseResult, SendTuning> AddOptions(Command command)
    {
        var lease = new Option<string>("--lease")
        {
            Description = "How long this sender's claim on rows lasts without a renewal (renewed every third of it); a dead sender's rows are taken over after it. "
                + "Example: 30s (the default), 2m.",
            DefaultValueFactory = _ => Durations.Format(Default.Lease),
        };
        var outage = new Option<string>("--store-outage-timeout")
        {
            Description = "How long the store may stay unavailable (sending pauses meanwhile) before send stops with exit code 5; run it again to resume. Default: 10m.",
            DefaultValueFactory = _ => Durations.Format(Default.StoreOutageTimeout),
        };
        command.Add(lease);
        command.Add(outage);
        return result => new SendTuning(
            Parse(result.GetValue(lease)!, "--lease", TimeSpan.FromSeconds(3)),
            Parse(result.GetValue(outage)!, "--store-outage-timeout", TimeSpan.FromSeconds(1)));
    }

    private static TimeSpan Parse(string text, string option, TimeSpan least)
    {
        if (!Durations.TryParse(text, out var value) || value < least)
        {
            throw new HeraldException($"{option}: '{text}' is not a duration of at least {Durations.Format(least)} (examples: 30s, 2m, 1h)");
        }

        return value;
    }
}
