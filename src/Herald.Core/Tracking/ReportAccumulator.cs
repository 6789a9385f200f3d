using Herald.Store;

namespace Herald.Tracking;

/// <summary>Sums <see cref="RecipientActivity"/> rows into the numbers of a report. Memory: per link and target, never per event.</summary>
internal sealed class ReportAccumulator
{
    private readonly EngagementOptions _options;
    private readonly long[] _edges;
    private readonly Dictionary<int, LinkAccumulator> _links = [];
    private readonly HashSet<int> _rawLinks = [];
    private readonly HashSet<int> _humanLinks = [];
    private readonly HashSet<(int, string)> _rawTargets = [];
    private readonly HashSet<(int, string)> _humanTargets = [];

    public ReportAccumulator(EngagementOptions options, IReadOnlyList<LinkDefinition> links, IReadOnlyList<DateTimeOffset> edges)
    {
        _options = options;
        _edges = [.. edges.Select(e => e.UtcTicks)];
        HumanClicksPerBucket = new long[Math.Max(0, edges.Count - 1)];
        foreach (var link in links)
        {
            _links[link.Number] = new LinkAccumulator(link);
        }

        Known = links.Count > 0;
    }

    /// <summary>True when the store knew the campaign's links (labels, which are personalized).</summary>
    public bool Known { get; }

    public long Opens { get; private set; }

    public long UniqueOpens { get; private set; }

    public long HumanOpens { get; private set; }

    public long HumanUniqueOpens { get; private set; }

    public long Clicks { get; private set; }

    public long UniqueClicks { get; private set; }

    public long HumanClicks { get; private set; }

    public long HumanUniqueClicks { get; private set; }

    public long OpenedOrClicked { get; private set; }

    public long HumanOpenedOrClicked { get; private set; }

    public long Unsubscribers { get; private set; }

    public long Head { get; private set; }

    public long Scanner { get; private set; }

    public long AppleMpp { get; private set; }

    public long EarlyClicks { get; private set; }

    public long BurstClicks { get; private set; }

    public long VolumeRecipients { get; private set; }

    public long VolumeEvents { get; private set; }

    /// <summary>Volume bots with unflagged opens: the human open timeline leaves them out.</summary>
    public List<string> VolumeOpeners { get; } = [];

    public long[] HumanClicksPerBucket { get; }

    public List<long> OpenDelays { get; } = [];

    public List<long> HumanOpenDelays { get; } = [];

    public List<long> ClickDelays { get; } = [];

    public List<long> HumanClickDelays { get; } = [];

    public IEnumerable<LinkAccumulator> Links => _links.Values.OrderBy(l => l.Definition.Number);

    public void Add(RecipientActivity a)
    {
        var delivered = a.DeliveredAt;
        if (a.Opens is { } opens)
        {
            Opens += opens.Opens;
            UniqueOpens++;
            Head += opens.Head;
            Scanner += opens.Scanner;
            AppleMpp += opens.AppleMpp;
            Delay(OpenDelays, delivered, opens.FirstAt);
            if (a.HumanOpened)
            {
                HumanOpens += a.HumanOpens;
                HumanUniqueOpens++;
                Delay(HumanOpenDelays, delivered, opens.FirstUnflaggedAt);
            }
        }

        if (a.HeavyClicks is { } heavy)
        {
            // Counted by the store (per link through AddHeavyLinks), never examined click by click.
            Clicks += heavy.Count;
            Head += heavy.Head;
            Scanner += heavy.Scanner;
        }
        else
        {
            AddClicks(a);
        }

        if (a.Clicked)
        {
            UniqueClicks++;
            Delay(ClickDelays, delivered, a.FirstClickAt);
        }

        if (a.HumanClicked)
        {
            HumanClicks += a.HumanClicks;
            HumanUniqueClicks++;
            Delay(HumanClickDelays, delivered, a.FirstHumanClickAt);
        }

        OpenedOrClicked += a.Opened || a.Clicked ? 1 : 0;
        HumanOpenedOrClicked += a.HumanOpened || a.HumanClicked ? 1 : 0;
        Unsubscribers += a.Unsubscribe is null ? 0 : 1;
        if (a.VolumeBot)
        {
            VolumeRecipients++;
            VolumeEvents += (a.Opens?.Opens ?? 0) + a.ClickCount;
            if (a.Opens is { Unflagged: > 0 })
            {
                VolumeOpeners.Add(a.RecipientId);
            }
        }
    }

    /// <summary>Adds the per-link counts of the heavy clickers (<see cref="IReportStore.CountClicksByLinkAsync"/>): raw only.</summary>
    public void AddHeavyLinks(IReadOnlyList<LinkClickCount> counts)
    {
        var seen = new HashSet<(string, int)>();
        foreach (var c in counts)
        {
            var link = Link(c.LinkNumber);
            link.Clicks += c.Clicks;
            if (seen.Add((c.RecipientId, c.LinkNumber)))
            {
                link.Unique++;
            }

            if (c.Target is not null && link.TrackTargets)
            {
                var target = link.Target(c.Target, _options.MaxTargetsPerLink);
                if (target is not null)
                {
                    target.Clicks += c.Clicks;
                    target.Unique++;
                }
                else
                {
                    link.OtherClicks += c.Clicks;
                }
            }
        }
    }

    private void AddClicks(RecipientActivity a)
    {
        if (a.Clicks.Count == 0)
        {
            return;
        }

        _rawLinks.Clear();
        _humanLinks.Clear();
        _rawTargets.Clear();
        _humanTargets.Clear();
        for (var i = 0; i < a.Clicks.Count; i++)
        {
            var click = a.Clicks[i];
            var human = a.IsHuman(i);
            var derived = a.Derived(i);
            Clicks++;
            Head += (click.Flags & EventFlags.Head) != 0 ? 1 : 0;
            Scanner += (click.Flags & EventFlags.Scanner) != 0 ? 1 : 0;
            EarlyClicks += (derived & EventFlags.EarlyClick) != 0 ? 1 : 0;
            BurstClicks += (derived & EventFlags.ClickBurst) != 0 ? 1 : 0;
            var link = Link(click.LinkNumber);
            link.Clicks++;
            link.Unique += _rawLinks.Add(click.LinkNumber) ? 1 : 0;
            if (human)
            {
                link.Human++;
                link.HumanUnique += _humanLinks.Add(click.LinkNumber) ? 1 : 0;
                if (Bucket(click.At.UtcTicks) is >= 0 and var bucket)
                {
                    HumanClicksPerBucket[bucket]++;
                }
            }

            if (click.Target is not { } url || !link.TrackTargets)
            {
                continue;
            }

            var target = link.Target(url, _options.MaxTargetsPerLink);
            if (target is null)
            {
                link.OtherClicks++;
                link.OtherHuman += human ? 1 : 0;
                continue;
            }

            target.Clicks++;
            target.Unique += _rawTargets.Add((click.LinkNumber, url)) ? 1 : 0;
            if (human)
            {
                target.Human++;
                target.HumanUnique += _humanTargets.Add((click.LinkNumber, url)) ? 1 : 0;
            }
        }
    }

    /// <summary>The bucket of a time, -1 outside the timeline (a binary search over the edges).</summary>
    private int Bucket(long ticks)
    {
        if (_edges.Length < 2 || ticks < _edges[0] || ticks >= _edges[^1])
        {
            return -1;
        }

        var at = Array.BinarySearch(_edges, ticks);
        return at >= 0 ? at : ~at - 1;
    }

    private LinkAccumulator Link(int number)
    {
        if (!_links.TryGetValue(number, out var link))
        {
            // A click on a link the catalogue does not know (or no catalogue): label it by number, keep its targets.
            link = new LinkAccumulator(new LinkDefinition(number, $"link {number}", null));
            _links.Add(number, link);
        }

        return link;
    }

    private static void Delay(List<long> delays, DateTimeOffset? delivered, DateTimeOffset? first)
    {
        if (delivered is { } d && first is { } f)
        {
            // The ledger records delivery when the outcome is committed; an event a moment earlier is "at delivery".
            delays.Add(Math.Max(0, (f - d).Ticks / TimeSpan.TicksPerSecond));
        }
    }

    internal sealed class LinkAccumulator(LinkDefinition definition)
    {
        private readonly Dictionary<string, TargetAccumulator> _targets = new(StringComparer.Ordinal);

        public LinkDefinition Definition { get; } = definition;

        public bool TrackTargets => Definition.Personalized;

        public long Clicks { get; set; }

        public long Unique { get; set; }

        public long Human { get; set; }

        public long HumanUnique { get; set; }

        public long OtherClicks { get; set; }

        public long OtherHuman { get; set; }

        /// <summary>True when some targets were not counted one by one (more than the per-link bound).</summary>
        public bool Overflowed { get; private set; }

        public IReadOnlyCollection<TargetAccumulator> Targets => _targets.Values;

        public TargetAccumulator? Target(string url, int max)
        {
            if (_targets.TryGetValue(url, out var target))
            {
                return target;
            }

            if (_targets.Count >= max)
            {
                Overflowed = true;
                return null;
            }

            target = new TargetAccumulator(url);
            _targets.Add(url, target);
            return target;
        }
    }

    internal sealed class TargetAccumulator(string url)
    {
        public string Url { get; } = url;

        public long Clicks { get; set; }

        public long Unique { get; set; }

        public long Human { get; set; }

        public long HumanUnique { get; set; }
    }
}
