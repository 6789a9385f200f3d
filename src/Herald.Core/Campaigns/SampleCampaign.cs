using System.Globalization;
using System.Text;

namespace Herald.Campaigns;

/// <summary>
/// Writes a working sample campaign: <c>campaign.yml</c>, a realistic ~50 kB promotional <c>body.html</c> (8 product
/// blocks, ~20 links) and <c>recipients.csv</c>. Deterministic: the same arguments always write the same bytes.
/// </summary>
public static class SampleCampaign
{
    public const string CampaignFile = "campaign.yml";

    private static readonly string[] FirstNames =
    [
        "Ada", "Ben", "Chloé", "Dmitri", "Elena", "Farid", "Grace", "Hiro", "Inès", "Jonas", "Kemi", "Liam", "Mei", "Noah",
        "Olga", "Pablo", "Quinn", "Rosa", "Sven", "Tara", "Umar", "Vera", "Wen", "Xavier", "Yara", "Zoë",
    ];

    private static readonly string[] LastNames =
    [
        "Smith", "García", "Müller", "Rossi", "Kowalski", "Nguyen", "Okafor", "Silva", "Tanaka", "Jensen", "Dubois", "Novak",
        "Haddad", "Kim", "Larsen", "Moreau", "Petrov", "Quist", "Reyes", "Schmidt",
    ];

    private static readonly string[] FirstAscii = [.. FirstNames.Select(Ascii)];

    private static readonly string[] LastAscii = [.. LastNames.Select(Ascii)];

    private static readonly string[] Cities = ["Springfield", "Lyon", "Porto", "Kraków", "Osaka", "Austin", "Leeds", "Graz"];

    private static readonly string[] Segments = ["garden", "kitchen", "outdoor", "home"];

    private static readonly string[] Domains = ["example.com", "example.net", "example.org"];

    /// <summary>Writes the sample into <paramref name="directory"/> (created when missing); returns the campaign file path.</summary>
    public static string Write(string directory, int recipients = 5, string relayUrl = "smtp://127.0.0.1:2525", int connections = 4)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(recipients);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(connections);
        Directory.CreateDirectory(directory);
        var utf8 = new UTF8Encoding(false);
        File.WriteAllText(Path.Combine(directory, CampaignFile), CampaignYaml(relayUrl, connections), utf8);
        File.WriteAllText(Path.Combine(directory, "body.html"), SampleTemplates.Html, utf8);
        WriteRecipients(Path.Combine(directory, "recipients.csv"), recipients);
        return Path.Combine(directory, CampaignFile);
    }

    private static string CampaignYaml(string relayUrl, int connections) => string.Create(CultureInfo.InvariantCulture, $$$"""
        # A sample Herald campaign: see docs/CAMPAIGN.md for every key.
        from: "Example Shop <news@shop.example.com>"
        reply_to: "help@shop.example.com"
        subject: "{{ first_name }}, your spring picks are here"
        html: body.html                 # Liquid template; the text part is derived from it (or add text: body.txt)
        recipients: recipients.csv      # header row with an email column; every column is a template variable
        headers:
          X-Campaign-Segment: "{{ segment }}"
        tracking:
          base_url: "http://127.0.0.1:8080"   # where `herald serve` answers clicks, opens and unsubscribes
          clicks: true
          opens: true
        unsubscribe:
          mailto: "unsubscribe@shop.example.com"
        postal_address: "Example Shop Inc., 1 Market St, Springfield"
        relays:
          - url: {{{relayUrl}}}   # `herald sink` listens here
            connections: {{{connections}}}

        """);

    private static void WriteRecipients(string path, int count)
    {
        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        using var writer = new StreamWriter(stream, new UTF8Encoding(false), 1 << 16);
        writer.NewLine = "\n";
        writer.Write("email,first_name,last_name,city,segment\n");
        Span<char> line = stackalloc char[256];
        for (var i = 0; i < count; i++)
        {
            var first = FirstNames[i % FirstNames.Length];
            var last = LastNames[(i / FirstNames.Length) % LastNames.Length];
            var city = Cities[(i / 7) % Cities.Length];
            var segment = Segments[(i / 3) % Segments.Length];
            var domain = Domains[i % Domains.Length];
            var ok = line.TryWrite(CultureInfo.InvariantCulture, $"{FirstAscii[i % FirstNames.Length]}.{LastAscii[(i / FirstNames.Length) % LastNames.Length]}.{i}@{domain},{first},{last},{city},{segment}\n", out var written);
            if (!ok)
            {
                throw new InvalidOperationException("Sample recipient line too long.");
            }

            writer.Write(line[..written]);
        }
    }

    private static string Ascii(string name) => name switch
    {
        "Chloé" => "chloe",
        "Inès" => "ines",
        "Zoë" => "zoe",
        "García" => "garcia",
        "Müller" => "mueller",
        _ => name.ToLowerInvariant(),
    };
}
