using System.CommandLine;
using Herald.Recipients;
using Herald.Tracking;
using MimeKit;

namespace Herald.Cli.Commands;

/// <summary><c>herald preview CAMPAIGN.yml --out DIR</c>: writes the first N rendered messages as .eml files.</summary>
internal static class PreviewCommand
{
    public static Command Create()
    {
        var file = new Argument<string>("CAMPAIGN") { Description = "The campaign file (campaign.yml)." };
        var outDir = new Option<string>("--out") { Description = "Folder to write the .eml files to.", Required = true };
        var limit = new Option<int>("--limit") { Description = "How many messages to write.", DefaultValueFactory = _ => 10 };
        var command = new Command("preview", "Render the first messages of a campaign to .eml files; nothing is sent.") { file, outDir, limit };
        command.SetAction((ParseResult result, CancellationToken cancellationToken) =>
            CliRunner.Run(() => Run(result.GetValue(file)!, result.GetValue(outDir)!, result.GetValue(limit), Console.Out, TokenSigner.FromEnvironment, cancellationToken)));
        return command;
    }

    /// <summary>Write files exactly as they would go on the wire (CRLF).</summary>
    private static readonly FormatOptions Wire = new() { NewLineFormat = NewLineFormat.Dos };

    internal static int Run(string path, string outDir, int limit, TextWriter output, Func<TokenSigner> signerFactory, CancellationToken cancellationToken)
    {
        if (limit < 1)
        {
            throw new HeraldException("--limit must be at least 1.");
        }

        var session = CampaignSession.Open(path, signerFactory(), cancellationToken);
        Directory.CreateDirectory(outDir);
        var written = 0;
        var rejected = 0;
        using var list = RecipientList.Open(session.Campaign.RecipientsPath);
        foreach (var entry in list.Read(cancellationToken))
        {
            if (entry.Status != RecipientStatus.Ok)
            {
                output.WriteLine($"{list.Path}:{entry.Row}: skipped: {entry.Reason}");
                continue;
            }

            try
            {
                using var message = session.Compiled.Create(session.WorkItemFor(entry, list.Columns, entry.Row));
                var name = Path.Combine(outDir, $"{written + 1:D4}-{Sanitize(entry.RecipientId!)}.eml");
                message.WriteTo(Wire, name, cancellationToken);
                written++;
            }
            catch (RecipientRejectedException ex)
            {
                rejected++;
                output.WriteLine($"{list.Path}:{entry.Row}: rejected: {ex.Reason}");
            }

            if (written >= limit)
            {
                break;
            }
        }

        output.WriteLine($"Wrote {written} message(s) to {outDir}{(rejected > 0 ? $"; {rejected} recipient(s) rejected" : "")}.");
        return CliRunner.Ok;
    }

    private static string Sanitize(string id)
    {
        var chars = id.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' ? c : '_').Take(40).ToArray();
        return new string(chars);
    }
}
