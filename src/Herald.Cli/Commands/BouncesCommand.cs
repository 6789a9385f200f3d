using System.CommandLine;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Herald.Bounces;
using Herald.Campaigns;
using Herald.Cli.Bounces;
using Herald.Cli.Stores;
using Herald.Recipients;
using Herald.Store;
using Herald.Tracking;

namespace Herald.Cli.Commands;

/// <summary><c>herald bounces listen|import|policy</c>: asynchronous bounces and complaints, and the store's bounce policy.</summary>
internal static class BouncesCommand
{
    public static Command Create()
    {
        var command = new Command("bounces", "Process bounces and complaints (DSN, ARF) and set the store's bounce policy (docs/DELIVERABILITY.md).");
        command.Add(Listen());
        command.Add(Import());
        command.Add(Policy());
        return command;
    }

    private static Option<string?> Quarantine() => new("--quarantine")
    {
        Description = "Folder for mail that is not understood or not about this store's recipients (default: bounces-quarantine beside the SQLite store, else $XDG_DATA_HOME/herald/bounces-quarantine).",
    };

    private static Command Listen()
    {
        var listen = new Option<string>("--listen")
        {
            Description = "Address and port to receive on (the bounce domain's MX points here).",
            DefaultValueFactory = _ => $"127.0.0.1:{BounceReceiverOptions.DefaultPort}",
        };
        var domains = new Option<string[]>("--domain")
        {
            Description = "Also accept mail for this domain (repeatable); the bounce domains of the store's campaigns are always accepted.",
            AllowMultipleArgumentsPerToken = true,
        };
        var maxSize = new Option<string>("--max-message-size") { Description = "Refuse larger messages (e.g. 10MB).", DefaultValueFactory = _ => "10MB" };
        var maxConnections = new Option<int>("--max-connections") { Description = "Open sessions at most.", DefaultValueFactory = _ => 64 };
        var db = DbOption.Create();
        var quarantine = Quarantine();
        var command = new Command("listen", "Receive bounces and complaints over SMTP for the bounce domains (never an open relay).")
        {
            listen, domains, maxSize, maxConnections, db, quarantine,
        };
        command.SetAction((result, ct) => CliRunner.RunAsync(async () =>
        {
            var (address, port) = ParseListen(result.GetValue(listen)!);
            var extra = (result.GetValue(domains) ?? []).Select(ParseDomain).ToList();
            var bytes = ParseSize(result.GetValue(maxSize)!);
            var connections = result.GetValue(maxConnections);
            if (connections is < 1 or > 10_000)
            {
                throw new HeraldException($"--max-connections {connections}: expected 1 to 10000");
            }

            var signer = TokenSigner.FromEnvironment();
            var location = StoreLocator.Resolve(result.GetValue(db), campaignFile: null);
            Console.WriteLine(location.Line);
            var stores = await StoreFactory.OpenAsync(location, StoreAccess.ReadWrite, ct).ConfigureAwait(false);
            await using (stores.ConfigureAwait(false))
            {
                var folder = new BounceQuarantine(QuarantineFolder(result.GetValue(quarantine), location));
                var processor = new BounceProcessor(stores.Bounces, stores.Tracking, signer);
                var options = new BounceReceiverOptions { Address = address, Port = port, Domains = extra, MaxMessageBytes = bytes, MaxConnections = connections };
                BounceReceiver receiver;
                try
                {
                    receiver = await BounceReceiver.StartAsync(options, processor, stores.Bounces, folder, ct).ConfigureAwait(false);
                }
                catch (SocketException ex)
                {
                    throw new HeraldException($"cannot listen on {address}:{port}: {ex.Message}", ex);
                }

                await using (receiver.ConfigureAwait(false))
                {
                    // Tests and scripts read the real port from this line.
                    Console.WriteLine($"listening on {receiver.EndPoint}");
                    var known = await stores.Bounces.ListDomainsAsync(ct).ConfigureAwait(false);
                    var all = extra.Union(known).Order(StringComparer.Ordinal).ToList();
                    Console.WriteLine(all.Count == 0
                        ? "accepting mail for: no domain yet (send a campaign with bounces.domain, or pass --domain); everything else is refused at RCPT"
                        : $"accepting mail for: {string.Join(", ", all)} (and any bounce domain a campaign of this store registers later); everything else is refused at RCPT");
                    Console.WriteLine($"quarantine: {folder.Folder}");
                    receiver.Counters.Kept += (path, reason) => Console.WriteLine($"quarantined {path}: {reason}");
                    receiver.Counters.Failed += error => Console.Error.WriteLine($"deferred (451, the sender will retry): {error}");
                    await ReportUntilStoppedAsync(receiver.Counters, ct).ConfigureAwait(false);
                }

                Console.WriteLine($"stopped: {receiver.Counters}");
                return CliRunner.Ok;
            }
        }));
        return command;
    }

    private static async Task ReportUntilStoppedAsync(BounceReceiverCounters counters, CancellationToken cancellationToken)
    {
        var shown = string.Empty;
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(5));
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                var line = counters.ToString();
                if (line != shown)
                {
                    Console.WriteLine(line);
                    shown = line;
                }
            }
        }
        catch (OperationCanceledException)
        {
            // SIGINT/SIGTERM: the normal way to stop the receiver.
        }
    }

    private static Command Import()
    {
        var path = new Argument<string>("path") { Description = "A .eml file, a folder of them (searched recursively), or an mbox file." };
        var db = DbOption.Create();
        var quarantine = Quarantine();
        var json = new Option<bool>("--json") { Description = "Print the summary as JSON." };
        var command = new Command("import", "Process bounces and complaints collected elsewhere (.eml files, a folder of them, an mbox).") { path, db, quarantine, json };
        command.SetAction((result, ct) => CliRunner.RunAsync(async () =>
        {
            var input = result.GetValue(path)!;
            if (!File.Exists(input) && !Directory.Exists(input))
            {
                throw new HeraldException($"{input}: no such file or folder");
            }

            var asJson = result.GetValue(json);
            var signer = TokenSigner.FromEnvironment();
            var location = StoreLocator.Resolve(result.GetValue(db), campaignFile: null);
            if (!asJson)
            {
                Console.WriteLine(location.Line);
            }

            var stores = await StoreFactory.OpenAsync(location, StoreAccess.ReadWrite, ct).ConfigureAwait(false);
            await using (stores.ConfigureAwait(false))
            {
                var folder = new BounceQuarantine(QuarantineFolder(result.GetValue(quarantine), location));
                var processor = new BounceProcessor(stores.Bounces, stores.Tracking, signer);
                var summary = await BounceImport.RunAsync(input, processor, folder, asJson ? null : Console.Out, ct).ConfigureAwait(false);
                if (asJson)
                {
                    Console.WriteLine(StoreOutput.WithStore(JsonSerializer.Serialize(summary.ToJson()), location));
                }
                else
                {
                    Console.WriteLine(summary.ToString());
                }

                return CliRunner.Ok;
            }
        }));
        return command;
    }

    private static Command Policy()
    {
        var hard = new Option<string?>("--hard-bounces") { Description = "suppress (default) or record." };
        var soft = new Option<int?>("--soft-bounces") { Description = "Soft bounces within --soft-window that suppress an address (default 3; 0: never)." };
        var window = new Option<string?>("--soft-window") { Description = "The window soft bounces are counted in (default 7d)." };
        var complaints = new Option<string?>("--complaints") { Description = "suppress (default) or record." };
        var reset = new Option<bool>("--reset") { Description = "Forget the store's policy: campaigns fall back to the defaults." };
        var json = new Option<bool>("--json") { Description = "Print the store's settings and the effective policy as JSON." };
        var db = DbOption.Create();
        var command = new Command("policy", "Show or set the store's bounce policy (a campaign's bounces section overrides it key by key).")
        {
            hard, soft, window, complaints, reset, json, db,
        };
        command.SetAction((result, ct) => CliRunner.RunAsync(async () =>
        {
            var change = new BouncePolicySettings(
                SuppressOrRecord(result.GetValue(hard), "--hard-bounces"),
                result.GetValue(soft) is { } n ? (n is >= 0 and <= 1000 ? n : throw new HeraldException($"--soft-bounces {n}: expected 0 to 1000")) : null,
                result.GetValue(window) is { } w ? (Durations.TryParse(w, out var span) && span > TimeSpan.Zero ? span : throw new HeraldException($"--soft-window {w}: expected a duration such as 7d or 48h")) : null,
                SuppressOrRecord(result.GetValue(complaints), "--complaints"));
            var writes = result.GetValue(reset) || change != BouncePolicySettings.None;
            var location = StoreLocator.Resolve(result.GetValue(db), campaignFile: null);
            var asJson = result.GetValue(json);
            if (!asJson)
            {
                Console.WriteLine(location.Line);
            }

            var stores = await StoreFactory.OpenAsync(location, writes ? StoreAccess.ReadWrite : StoreAccess.ReadOnly, ct).ConfigureAwait(false);
            await using (stores.ConfigureAwait(false))
            {
                var current = await stores.Bounces.GetStorePolicyAsync(ct).ConfigureAwait(false);
                if (writes)
                {
                    current = result.GetValue(reset) ? BouncePolicySettings.None : Merge(current, change);
                    await stores.Bounces.SetStorePolicyAsync(current, ct).ConfigureAwait(false);
                }

                var effective = current.ApplyTo(BouncePolicy.Default);
                if (asJson)
                {
                    Console.WriteLine(StoreOutput.WithStore(JsonSerializer.Serialize(new
                    {
                        store_settings = JsonDocument.Parse(current.ToJson()).RootElement,
                        effective = new
                        {
                            hard_bounces = effective.SuppressHard ? "suppress" : "record",
                            soft_bounces = effective.SoftLimit,
                            soft_window = Durations.Format(effective.SoftWindow),
                            complaints = effective.SuppressComplaints ? "suppress" : "record",
                        },
                    }), location));
                }
                else
                {
                    Console.WriteLine($"store policy{(writes ? " (saved)" : string.Empty)}: hard bounces: {Word(effective.SuppressHard)}{Origin(current.SuppressHard)}; "
                        + $"soft bounces: {(effective.SoftLimit == 0 ? "never suppress" : $"suppress after {effective.SoftLimit} within {Durations.Format(effective.SoftWindow)}")}{Origin(current.SoftLimit ?? (object?)current.SoftWindow)}; "
                        + $"complaints: {Word(effective.SuppressComplaints)}{Origin(current.SuppressComplaints)}");
                    Console.WriteLine("a campaign's bounces section overrides these key by key.");
                }

                return CliRunner.Ok;
            }
        }));
        return command;
    }

    private static BouncePolicySettings Merge(BouncePolicySettings current, BouncePolicySettings change) => new(
        change.SuppressHard ?? current.SuppressHard,
        change.SoftLimit ?? current.SoftLimit,
        change.SoftWindow ?? current.SoftWindow,
        change.SuppressComplaints ?? current.SuppressComplaints);

    private static string Word(bool suppress) => suppress ? "suppress" : "record only";

    private static string Origin(object? set) => set is null ? " (default)" : string.Empty;

    private static bool? SuppressOrRecord(string? text, string option) => text switch
    {
        null => null,
        "suppress" => true,
        "record" => false,
        _ => throw new HeraldException($"{option} {text}: expected 'suppress' or 'record'"),
    };

    /// <summary>The quarantine folder: as given, else beside the SQLite store, else in the user's data folder.</summary>
    internal static string QuarantineFolder(string? given, StoreLocation location)
    {
        if (!string.IsNullOrWhiteSpace(given))
        {
            return Path.GetFullPath(given);
        }

        return location.Kind == StoreKind.Sqlite
            ? Path.Combine(Path.GetDirectoryName(location.Address)!, "bounces-quarantine")
            : Path.Combine(StoreLocator.UserDataFolder(), "herald", "bounces-quarantine");
    }

    private static (IPAddress Address, int Port) ParseListen(string text)
    {
        var colon = text.LastIndexOf(':');
        if (colon <= 0 || !IPAddress.TryParse(text[..colon].Trim('[', ']'), out var address)
            || !int.TryParse(text.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port > 65535)
        {
            throw new HeraldException($"--listen {text}: expected ADDRESS:PORT, for example 127.0.0.1:2526 or 0.0.0.0:25");
        }

        return (address, port);
    }

    private static string ParseDomain(string text) =>
        !text.Contains('@', StringComparison.Ordinal) && EmailAddress.TryNormalize("b@" + text.Trim(), out var normalized, out _)
            ? normalized[2..]
            : throw new HeraldException($"--domain {text}: not a domain name");

    private static int ParseSize(string text)
    {
        var span = text.Trim().ToUpperInvariant();
        var (digits, factor) = span.EndsWith("MB", StringComparison.Ordinal) ? (span[..^2], 1 << 20)
            : span.EndsWith("KB", StringComparison.Ordinal) ? (span[..^2], 1 << 10)
            : (span, 1);
        if (!long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var value) || value * factor is < 1024 or > 100L << 20)
        {
            throw new HeraldException($"--max-message-size {text}: expected a size from 1KB to 100MB, for example 10MB");
        }

        return (int)(value * factor);
    }
}
