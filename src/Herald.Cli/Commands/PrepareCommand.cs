using System.CommandLine;
using System.Globalization;
using Herald.Campaigns;
using Herald.Cli.Stores;
using Herald.Prepare;
using Herald.Store;
using Spectre.Console;

namespace Herald.Cli.Commands;

/// <summary><c>herald prepare CAMPAIGN.yml</c>: builds the send plan (validate, dedupe, suppress, join) into the store.</summary>
internal static class PrepareCommand
{
    public static Command Create()
    {
        var campaign = new Argument<string>("campaign") { Description = "The campaign file (campaign.yml)." };
        var db = DbOption.Create();
        var json = new Option<bool>("--json") { Description = "Print the manifest as JSON." };
        var budget = new Option<string>("--memory-budget")
        {
            Description = "Memory for join buffers before they spill to disk (e.g. 512MB, 2GB).",
            DefaultValueFactory = _ => "512MB",
        };
        var command = new Command("prepare", "Validate, dedupe, drop suppressed addresses and join per-recipient data into the send plan.")
        {
            campaign, db, json, budget,
        };
        command.SetAction((ParseResult r, CancellationToken ct) => CliRunner.RunAsync(() =>
            RunAsync(r.GetValue(campaign)!, r.GetValue(db), r.GetValue(json), r.GetValue(budget)!, Console.Out, ct)));
        return command;
    }

    internal static async Task<int> RunAsync(string campaignFile, string? db, bool json, string memoryBudget, TextWriter output, CancellationToken cancellationToken)
    {
        if (!PrepareOptions.TryParseSize(memoryBudget, out var budget))
        {
            throw new HeraldException($"--memory-budget: '{memoryBudget}' is not a size (examples: 512MB, 2GB, 65536)");
        }

        var campaign = CampaignLoader.Load(campaignFile);
        var location = StoreLocator.Resolve(db, campaignFile);
        if (!json)
        {
            await output.WriteLineAsync(location.Line).ConfigureAwait(false);
        }

        // The suppression list lives in the same store (as for `herald send`).
        await using var stores = await StoreFactory.OpenAsync(location, StoreAccess.ReadWrite, cancellationToken).ConfigureAwait(false);
        var manifest = await Preparer.PrepareAsync(
            campaign, stores.Delivery, stores.Tracking, new PrepareOptions { MemoryBudget = budget }, cancellationToken).ConfigureAwait(false);
        if (json)
        {
            await output.WriteLineAsync(StoreOutput.WithStore(manifest.ToJson(), location)).ConfigureAwait(false);
        }
        else if (ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected)
        {
            AnsiConsole.Write(Table(manifest));
        }
        else
        {
            await output.WriteAsync(manifest.ToText()).ConfigureAwait(false);
        }

        return CliRunner.Ok;
    }

    private static Table Table(PrepareManifest manifest)
    {
        var c = CultureInfo.InvariantCulture;
        var table = new Table().Title($"plan of [bold]{Markup.Escape(manifest.CampaignId)}[/]").AddColumn("").AddColumn(new TableColumn("rows").RightAligned());
        table.AddRow("read", manifest.RowsRead.ToString("N0", c));
        table.AddRow("[green]deliverable[/]", manifest.Deliverable.ToString("N0", c));
        table.AddRow("skipped", manifest.SkippedTotal.ToString("N0", c));
        foreach (var (reason, count) in manifest.Skipped)
        {
            table.AddRow($"  {Markup.Escape(reason)}", count.ToString("N0", c));
        }

        foreach (var set in manifest.DataSets)
        {
            table.AddRow($"data [bold]{Markup.Escape(set.Name)}[/] rows read / matched", $"{set.RowsRead.ToString("N0", c)} / {set.RowsMatched.ToString("N0", c)}");
        }

        table.Caption($"{manifest.Elapsed.TotalSeconds:F1} s");
        return table;
    }
}
