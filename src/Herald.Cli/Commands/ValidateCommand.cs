using System.CommandLine;
using Herald.Cli.Stores;
using Herald.Recipients;
using Herald.Tracking;

namespace Herald.Cli.Commands;

/// <summary><c>herald validate CAMPAIGN.yml</c>: checks config, templates and recipients; sends nothing.</summary>
internal static class ValidateCommand
{
    public static Command Create()
    {
        var file = new Argument<string>("CAMPAIGN") { Description = "The campaign file (campaign.yml)." };
        var db = DbOption.Create();
        var command = new Command("validate", "Check a campaign's config, templates and recipients; nothing is sent.") { file, db };
        command.SetAction((ParseResult result, CancellationToken cancellationToken) => CliRunner.Run(() =>
        {
            // Validate opens no store; it says which one prepare and send will use.
            Console.WriteLine(StoreLocator.Resolve(result.GetValue(db), result.GetValue(file)).Line);
            return Run(result.GetValue(file)!, Console.Out, cancellationToken);
        }));
        return command;
    }

    internal static int Run(string path, TextWriter output, CancellationToken cancellationToken)
    {
        // Validation signs nothing that leaves the machine: a throwaway key keeps it from creating the key file.
        var signer = new TokenSigner(new byte[32]);
        using var session = CampaignSession.Open(path, signer, cancellationToken);
        session.Describe(output);
        long ok = 0, invalid = 0, duplicate = 0;
        using (var list = RecipientList.Open(session.Campaign.RecipientsPath))
        {
            foreach (var entry in list.Read(cancellationToken))
            {
                switch (entry.Status)
                {
                    case RecipientStatus.Ok:
                        ok++;
                        break;
                    case RecipientStatus.Invalid:
                        invalid++;
                        output.WriteLine($"{list.Path}:{entry.Row}: skipped: {entry.Reason}");
                        break;
                    default:
                        duplicate++;
                        output.WriteLine($"{list.Path}:{entry.Row}: skipped: {entry.Reason}");
                        break;
                }
            }
        }

        if (ok == 0)
        {
            throw new CampaignException(new Problem(Campaigns.DisplayPath.For(session.Campaign.RecipientsPath), 0, 0, "no deliverable recipient"));
        }

        output.WriteLine($"ok: campaign '{session.Campaign.Id}' is sound: {ok} recipients, {invalid} invalid and {duplicate} duplicate rows skipped, {session.Compiled.Links} tracked links.");
        return CliRunner.Ok;
    }
}
