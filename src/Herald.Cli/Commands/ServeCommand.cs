using System.CommandLine;
using Herald.Campaigns;
using Herald.Cli.Stores;
using Herald.Prepare;
using Herald.Tracking;
using Herald.Tracking.Journal;

namespace Herald.Cli.Commands;

/// <summary><c>herald serve</c>: tracking endpoints, unsubscribe, health, metrics and the dashboard.</summary>
internal static class ServeCommand
{
    public const string DashboardTokenVariable = "HERALD_DASHBOARD_TOKEN";

    /// <summary>When set, <c>/metrics</c> needs <c>Authorization: Bearer</c> with this token.</summary>
    public const string MetricsTokenVariable = "HERALD_METRICS_TOKEN";

    public static Command Create()
    {
        var db = DbOption.Create();
        var urls = new Option<string>("--urls")
        {
            Description = "Addresses to listen on, separated by ';' (port 0 picks a free port).",
            DefaultValueFactory = _ => "http://127.0.0.1:8080",
        };
        var tokenEnv = new Option<string>("--dashboard-token-env")
        {
            Description = "Environment variable holding the dashboard password; the dashboard is off when it is unset.",
            DefaultValueFactory = _ => DashboardTokenVariable,
        };
        var journal = new Option<string?>("--journal")
        {
            Description = "Folder of the event journals (each event is on disk there before its request is answered). Several servers may share it. "
                + "Default: the database path + .journal.",
        };
        var journalMax = new Option<string>("--journal-max-size")
        {
            Description = "Most events this server keeps on disk while the store cannot take them; past it, tracking requests get 503.",
            DefaultValueFactory = _ => "1GB",
        };
        var session = new Option<string>("--dashboard-session")
        {
            Description = "How long a dashboard login lasts (e.g. 30m, 12h).",
            DefaultValueFactory = _ => "12h",
        };
        var maxEvents = new Option<int>("--max-events-per-recipient")
        {
            Description = "A recipient with more opens or clicks than this is counted as a bot as a whole (as herald report does).",
            DefaultValueFactory = _ => EngagementOptions.DefaultMaxEventsPerRecipient,
        };
        var command = new Command("serve", "Answer tracking links (clicks, opens, one-click unsubscribe) and serve the dashboard.")
        {
            db, urls, tokenEnv, journal, journalMax, session, maxEvents,
        };
        command.SetAction((result, ct) => CliRunner.RunAsync(async () =>
        {
            var location = StoreLocator.Resolve(result.GetValue(db), campaignFile: null);
            Console.WriteLine(location.Line);
            var maxSize = result.GetValue(journalMax);
            if (!PrepareOptions.TryParseSize(maxSize, out var maxBytes) || maxBytes < 1024 * 1024)
            {
                throw new HeraldException($"--journal-max-size: '{maxSize}' is not a size of at least 1MB (examples: 512MB, 2GB)");
            }

            var journalDirectory = Path.GetFullPath(result.GetValue(journal) ?? JournalLocation.Default(location));
            var token = Environment.GetEnvironmentVariable(result.GetValue(tokenEnv)!);
            // serve only verifies: a key it made up would match no link in the mail sent, so it never creates one.
            var signer = TokenSigner.FromEnvironment(createKeyFile: false);
            var metricsToken = Environment.GetEnvironmentVariable(MetricsTokenVariable);
            if (!Durations.TryParse(result.GetValue(session), out var sessionLifetime) || sessionLifetime <= TimeSpan.Zero)
            {
                throw new HeraldException($"--dashboard-session: '{result.GetValue(session)}' is not a duration (examples: 30m, 12h).");
            }

            var engagement = new EngagementOptions { MaxEventsPerRecipient = result.GetValue(maxEvents) };
            engagement.Validate();

            // serve only answers for campaigns that were prepared: it never creates a store.
            var stores = await StoreFactory.OpenAsync(location, StoreAccess.ReadOnly, ct).ConfigureAwait(false);
            await using (stores.ConfigureAwait(false))
            {
                {
                    var app = TrackingServer.Build(new TrackingServerOptions
                    {
                        Signer = signer,
                        Store = stores.Tracking,
                        Ledger = stores.Delivery,
                        Journal = new JournalOptions
                        {
                            Directory = journalDirectory,
                            MaxBytes = maxBytes,
                            FlushToDisk = JournalLocation.FlushToDisk,
                            // What a server of an earlier version left in its spool is moved too.
                            LegacySpoolPath = LegacySpool(location),
                        },
                        Urls = result.GetValue(urls)!.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
                        DashboardToken = string.IsNullOrEmpty(token) ? null : token,
                        Reports = stores.Reports,
                        MetricsToken = string.IsNullOrEmpty(metricsToken) ? null : metricsToken,
                        DashboardSession = sessionLifetime,
                        Engagement = engagement,
                    });
                    await using (app.ConfigureAwait(false))
                    {
                        try
                        {
                            await app.StartAsync(ct).ConfigureAwait(false);
                        }
                        catch (IOException ex)
                        {
                            throw new HeraldException($"cannot listen on {result.GetValue(urls)}: {ex.Message}", ex);
                        }

                        foreach (var address in TrackingServer.Addresses(app))
                        {
                            Console.WriteLine($"listening on {address}");
                        }

                        Console.WriteLine($"tracking {signer.Describe()}");
                        Console.WriteLine($"event journal: {journalDirectory}");
                        Console.WriteLine(token is { Length: > 0 }
                            ? "dashboard: enabled at /"
                            : $"dashboard: disabled (set {result.GetValue(tokenEnv)} to enable it)");
                        Console.WriteLine(metricsToken is { Length: > 0 }
                            ? $"metrics: /metrics needs the bearer token from {MetricsTokenVariable}"
                            : $"metrics: /metrics is open (set {MetricsTokenVariable} to require a token)");
                        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct, app.Lifetime.ApplicationStopping);
                        try
                        {
                            await Task.Delay(Timeout.Infinite, stop.Token).ConfigureAwait(false);
                        }
                        catch (OperationCanceledException)
                        {
                            // Ctrl-C or SIGTERM: the normal way to stop a server.
                        }

                        // Stopping moves what the store takes within a second; the rest stays in the journal for the next server.
                        await app.StopAsync(CancellationToken.None).ConfigureAwait(false);
                        Console.WriteLine("stopped.");
                        return CliRunner.Ok;
                    }
                }
            }
        }));
        return command;
    }

    /// <summary>Where a server of an earlier version kept events the store could not take.</summary>
    private static string LegacySpool(StoreLocation location) =>
        location.Kind == StoreKind.Sqlite
            ? location.Address + ".spool"
            : Path.Combine(StoreLocator.UserDataFolder(), "herald", "serve.spool");
}
