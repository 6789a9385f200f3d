using System.Globalization;
using Herald.Recipients;
using Herald.Store;

namespace Herald.ReportBench;

/// <summary>One recipient of the benchmark's ledger.</summary>
internal readonly record struct BenchRecipient(string Id, DeliveryState State, long UpdatedAtMs, int? SmtpCode, string? SmtpText, string? SkipReason);

/// <summary>One event: compact, sorted by time before it is written (so ids, time-ordered, go in in order).</summary>
internal readonly record struct BenchEvent(long AtTicks, int Recipient, TrackingEventKind Kind, short Link, short Target, EventFlags Flags);

/// <summary>The benchmark campaign, generated in memory.</summary>
internal sealed class BenchData
{
    public const int Links = 20;
    public static readonly DateTimeOffset SendStart = new(2026, 3, 2, 9, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan SendLength = TimeSpan.FromMinutes(5);
    private static readonly string[] Categories = ["kitchen", "garden", "living", "outdoor", "kids", "bath", "office", "garage"];

    private BenchData(string campaign, BenchRecipient[] recipients, List<BenchEvent> events)
    {
        Campaign = campaign;
        Recipients = recipients;
        Events = events;
    }

    public string Campaign { get; }

    public BenchRecipient[] Recipients { get; }

    public List<BenchEvent> Events { get; }

    /// <summary>Links 4 to 8 are a product grid: personalized, one of 200 products each.</summary>
    public static bool Personalized(int link) => link is >= 4 and <= 8;

    public static string Target(int link, int target) => Personalized(link)
        ? $"https://shop.example.com/{Categories[target % Categories.Length]}/item-{target}"
        : $"https://shop.example.com/link-{link}";

    public static string Label(int link) => link switch
    {
        1 => "Hero: spring sale",
        2 => "Shop women",
        3 => "Shop men",
        >= 4 and <= 8 => $"{{{{ products[{link - 4}].name }}}}",
        9 => "Find a store",
        _ => $"Footer link {link}",
    };

    public DateTimeOffset DeliveredAt(int recipient) => DateTimeOffset.FromUnixTimeMilliseconds(Recipients[recipient].UpdatedAtMs);

    public static BenchData Generate(string campaign, int count, int eventBudget)
    {
        var random = new Random(42);
        var recipients = new BenchRecipient[count];
        var step = SendLength.TotalMilliseconds / Math.Max(1, count);
        for (var i = 0; i < count; i++)
        {
            var id = RecipientIds.For(null, $"user{i}@example.com");
            var at = SendStart.ToUnixTimeMilliseconds() + (long)(i * step);
            recipients[i] = (i % 1000) switch
            {
                0 or 1 => new BenchRecipient(id, DeliveryState.Failed, at, 550, "5.1.1 <user@example.com>: Recipient address rejected: User unknown", null),
                2 => new BenchRecipient(id, DeliveryState.Failed, at, 552, "5.2.2 Mailbox full", null),
                3 => new BenchRecipient(id, DeliveryState.InDoubt, at, null, null, null),
                4 => new BenchRecipient(id, DeliveryState.Skipped, SendStart.ToUnixTimeMilliseconds(), null, null, "suppressed"),
                _ => new BenchRecipient(id, DeliveryState.Sent, at, 250, "2.0.0 Ok: queued", null),
            };
        }

        var data = new BenchData(campaign, recipients, new List<BenchEvent>(eventBudget + 1024));
        data.AddEvents(random, eventBudget);
        data.Events.Sort((a, b) => a.AtTicks.CompareTo(b.AtTicks));
        return data;
    }

    private void AddEvents(Random random, int budget)
    {
        var flood = budget / 5;
        var scanners = budget * 8 / 100;
        var clicks = budget * 14 / 100;
        var unsubscribes = budget / 1000;
        var opens = budget - flood - scanners - clicks - unsubscribes;
        var sent = Enumerable.Range(0, Recipients.Length).Where(i => Recipients[i].State == DeliveryState.Sent).ToArray();
        if (sent.Length == 0)
        {
            return;
        }

        // Opens: 45 % of the sent open; a third of those read through Apple Mail (prefetched on arrival, flagged).
        var openers = sent.Where(_ => random.NextDouble() < 0.45).ToArray();
        var firstOpen = new Dictionary<int, long>(openers.Length);
        var perOpener = Math.Max(1.0, (double)opens / Math.Max(1, openers.Length));
        var produced = 0;
        foreach (var r in openers)
        {
            var delivered = DeliveredAt(r).UtcTicks;
            var mpp = random.NextDouble() < 0.3;
            var first = mpp ? delivered + (long)(random.NextDouble() * TimeSpan.TicksPerMinute) : delivered + HumanDelay(random);
            firstOpen[r] = first;
            var n = Math.Max(1, (int)Math.Round(perOpener * (0.3 + (random.NextDouble() * 1.4))));
            for (var k = 0; k < n && produced < opens; k++, produced++)
            {
                var at = k == 0 ? first : first + (long)(-Math.Log(1 - random.NextDouble()) * TimeSpan.TicksPerDay);
                Events.Add(new BenchEvent(at, r, TrackingEventKind.Open, 0, 0, mpp ? EventFlags.AppleMpp : random.NextDouble() < 0.02 ? EventFlags.Scanner : EventFlags.None));
            }
        }

        // Clicks by people: 1 to 10 each, popular links first, after their first open.
        var clickers = openers.Where(_ => random.NextDouble() < 0.3).ToArray();
        var perClicker = Math.Max(1.0, (double)clicks / Math.Max(1, clickers.Length));
        produced = 0;
        for (var c = 0; produced < clicks && clickers.Length > 0; c++)
        {
            var r = clickers[c % clickers.Length];
            var at = firstOpen[r] + (long)(random.NextDouble() * 20 * TimeSpan.TicksPerMinute);
            var n = Math.Max(1, (int)Math.Round(perClicker * random.NextDouble() * 2));
            for (var k = 0; k < n && produced < clicks; k++, produced++)
            {
                var link = Zipf(random, Links);
                var head = random.NextDouble() < 0.01;
                Events.Add(new BenchEvent(at, r, TrackingEventKind.Click, (short)link, (short)Zipf(random, 200), head ? EventFlags.Head : EventFlags.None));
                at += (long)(random.NextDouble() * 10 * TimeSpan.TicksPerMinute);
            }
        }

        // Security gateways: every link within two seconds of arrival; half announce themselves.
        produced = 0;
        while (produced < scanners)
        {
            var r = sent[random.Next(sent.Length)];
            var at = DeliveredAt(r).UtcTicks + (long)(random.NextDouble() * 3 * TimeSpan.TicksPerSecond);
            var flags = random.NextDouble() < 0.5 ? EventFlags.Scanner : EventFlags.None;
            for (var link = 1; link <= Links && produced < scanners; link++, produced++)
            {
                Events.Add(new BenchEvent(at + (link * TimeSpan.TicksPerMillisecond * 90), r, TrackingEventKind.Click, (short)link, (short)random.Next(200), flags));
            }
        }

        // One recipient floods one link (a load tool pointed at a real token), about a minute an hour after the send.
        var flooder = sent[sent.Length / 2];
        var floodStart = SendStart.UtcTicks + TimeSpan.TicksPerHour;
        for (var i = 0; i < flood; i++)
        {
            Events.Add(new BenchEvent(floodStart + (i * (60 * TimeSpan.TicksPerSecond / Math.Max(1, flood))), flooder, TrackingEventKind.Click, 1, 0, EventFlags.None));
        }

        for (var i = 0; i < unsubscribes && openers.Length > 0; i++)
        {
            var r = openers[random.Next(openers.Length)];
            Events.Add(new BenchEvent(firstOpen[r] + (long)(random.NextDouble() * TimeSpan.TicksPerHour), r, TrackingEventKind.Unsubscribe, 0, 0, EventFlags.None));
        }
    }

    /// <summary>When a person first opens: a third within the hour, most within a day, a tail over the week.</summary>
    private static long HumanDelay(Random random)
    {
        var mean = random.NextDouble() switch
        {
            < 0.35 => TimeSpan.FromMinutes(15),
            < 0.75 => TimeSpan.FromHours(6),
            _ => TimeSpan.FromDays(2),
        };
        return (long)(-Math.Log(1 - random.NextDouble()) * mean.Ticks);
    }

    private static int Zipf(Random random, int n) => Math.Min(n, 1 + (int)Math.Floor(Math.Pow(n + 1, random.NextDouble()) - 1));

    /// <summary>The campaign file the CLI reads (id, and labels should the store have none).</summary>
    public static void WriteCampaign(string dir, string campaign, string db)
    {
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "campaign.yml"), $"""
            id: {campaign}
            from: "Example Shop <news@shop.example.com>"
            subject: "Spring picks"
            html: body.html
            recipients: recipients.csv
            tracking: {"{"} base_url: "https://t.shop.example.com" {"}"}
            postal_address: "Example Shop Inc., 1 Market St, Springfield"
            relays:
              - url: smtp://127.0.0.1:2525
            """);
        var links = string.Join("\n", Enumerable.Range(1, Links).Select(l => $"<p><a href=\"{(Personalized(l) ? "https://shop.example.com/{{ p.category }}/{{ p.slug }}" : Target(l, 0))}\">{Label(l)}</a></p>"));
        File.WriteAllText(Path.Combine(dir, "body.html"), $"<html><body>\n{links}\n<p><a href=\"{{{{ unsubscribe_url }}}}\">Unsubscribe</a></p></body></html>\n");
        File.WriteAllText(Path.Combine(dir, "recipients.csv"), "email\nuser0@example.com\n");
        File.WriteAllText(Path.Combine(dir, "store.txt"), db + "\n");
    }

    /// <summary>The link catalogue the sender would record.</summary>
    public static IReadOnlyList<LinkDefinition> Catalogue() =>
        [.. Enumerable.Range(1, Links).Select(l => new LinkDefinition(l, Label(l), Personalized(l) ? null : Target(l, 0)))];

    public static string Email(int recipient) => string.Create(CultureInfo.InvariantCulture, $"user{recipient}@example.com");
}
