using System.CommandLine;
using Herald.Campaigns;
using Herald.Cli.Stores;

namespace Herald.Cli.Commands;

/// <summary><c>herald init DIR</c>: scaffolds a working sample campaign.</summary>
internal static class InitCommand
{
    public static Command Create()
    {
        var directory = new Argument<string>("DIR") { Description = "Folder to create the campaign in (created when missing)." };
        var recipients = new Option<int>("--recipients") { Description = "How many sample recipients to write.", DefaultValueFactory = _ => 5 };
        var force = new Option<bool>("--force") { Description = "Overwrite an existing campaign.yml." };
        var command = new Command("init", "Scaffold a working sample campaign (campaign.yml, body.html, recipients.csv).")
        {
            directory,
            recipients,
            force,
        };
        command.SetAction((ParseResult result, CancellationToken cancellationToken) => CliRunner.Run(() =>
        {
            var dir = result.GetValue(directory)!;
            var count = result.GetValue(recipients);
            if (count < 1)
            {
                throw new HeraldException("--recipients must be at least 1.");
            }

            if (File.Exists(Path.Combine(dir, SampleCampaign.CampaignFile)) && !result.GetValue(force))
            {
                throw new HeraldException($"{Path.Combine(dir, SampleCampaign.CampaignFile)} already exists; use --force to overwrite it.");
            }

            if (File.Exists(dir))
            {
                throw new HeraldException($"{dir} is a file, not a folder.");
            }

            var file = SampleCampaign.Write(dir, count);
            // Resolved the way every later command will, so the user sees where plans, events and suppressions go.
            var store = StoreLocator.Resolve(db: null, file);
            Console.WriteLine(store.Line);
            Console.WriteLine($"Created {file} with {count} recipients.");
            Console.WriteLine($"The campaign will use the store {store.Display}: {store.Reason} (--db or {StoreLocator.Variable} choose another; see docs/STORE.md).");
            Console.WriteLine($"Next: herald validate {file}");
            Console.WriteLine($"      herald preview {file} --out {Path.Combine(dir, "preview")}");
            return CliRunner.Ok;
        }));
        return command;
    }
}
