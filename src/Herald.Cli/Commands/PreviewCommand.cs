using System.CommandLine;
using Herald.Cli.Stores;
using Herald.Prepare;
using Herald.Sqlite;
using Herald.Store;
using Herald.Tracking;
using MimeKit;

namespace Herald.Cli.Commands;

/// <summary>
/// <c>herald preview CAMPAIGN.yml --out DIR</c>: writes the first N messages exactly as the plan will send them (joined
/// data included) as .eml files. Uses the store's plan when it is fresh; otherwise prepares a throwaway plan, so the
/// store is never changed.
/// </summary>
internal static class PreviewCommand
{
    public static Command Create()
    {
        var file = new Argument<string>("CAMPAIGN") { Description = "The campaign file (campaign.yml)." };
        var outDir = new Option<string>("--out") { Description = "Folder to write the .eml files to.", Required = true };
        var limit = new Option<int>("--limit") { Description = "How many messages to write.", DefaultValueFactory = _ => 10 };
        var db = DbOption.Create();
        var command = new Command("preview", "Render the first messages of a campaign, as the plan will send them, to .eml files; nothing is sent.")
        {
            file,
            outDir,
            limit,
            db,
        };
        command.SetAction((ParseResult result, CancellationToken cancellationToken) =>
            CliRunner.RunAsync(() => RunAsync(result.GetValue(file)!, result.GetValue(outDir)!, result.GetValue(limit), result.GetValue(db), Console.Out, TokenSigner.FromEnvironment, cancellationToken)));
        return command;
    }

    /// <summary>Write files exactly as they would go on the wire (CRLF).</summary>
    private static readonly FormatOptions Wire = new() { NewLineFormat = NewLineFormat.Dos };

    internal static async Task<int> RunAsync(string path, string outDir, int limit, string? db, TextWriter output, Func<TokenSigner> signerFactory, CancellationToken cancellationToken)
    {
        if (limit < 1)
        {
            throw new HeraldException("--limit must be at least 1.");
        }

        var location = StoreLocator.Resolve(db, path);
        output.WriteLine(location.Line);
        using var session = CampaignSession.Open(path, signerFactory(), cancellationToken);
        session.Describe(output);
        var campaign = session.Campaign;
        string? scratch = null;
        // Preview only reads the store: it uses the store's plan when it is fresh and never creates a store.
        var stores = StoreFactory.Exists(location)
            ? await StoreFactory.OpenAsync(location, StoreAccess.ReadOnly, cancellationToken).ConfigureAwait(false)
            : null;
        try
        {
            if (stores is not null
                && (await PlanFreshness.CheckAsync(campaign, stores.Delivery, cancellationToken).ConfigureAwait(false)).Status == PlanStatus.Fresh)
            {
                output.WriteLine($"Previewing the plan in {location.Display}.");
                return await WriteAsync(stores.Delivery, session, outDir, limit, output, cancellationToken).ConfigureAwait(false);
            }

            // No fresh plan: prepare one in a scratch store, with the real suppression list when there is one.
            scratch = Directory.CreateTempSubdirectory("herald-preview-").FullName;
            var store = await SqliteDeliveryStore.OpenAsync(Path.Combine(scratch, "preview.db"), cancellationToken).ConfigureAwait(false);
            await using (store.ConfigureAwait(false))
            {
                var manifest = await Preparer.PrepareAsync(campaign, store, stores?.Tracking, new PrepareOptions(), cancellationToken).ConfigureAwait(false);
                output.WriteLine($"Previewing a fresh plan (not saved): {manifest.Deliverable} deliverable, {manifest.SkippedTotal} skipped.");
                return await WriteAsync(store, session, outDir, limit, output, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            if (stores is not null)
            {
                await stores.DisposeAsync().ConfigureAwait(false);
            }

            if (scratch is not null)
            {
                Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
                Directory.Delete(scratch, recursive: true);
            }
        }
    }

    private static async Task<int> WriteAsync(IDeliveryStore store, CampaignSession session, string outDir, int limit, TextWriter output, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(outDir);
        var written = 0;
        var rejected = 0;
        // Rows the renderer rejects are not written, so read a few more than asked.
        await foreach (var item in store.ReadPendingAsync(session.Campaign.Id, limit + 100, cancellationToken).ConfigureAwait(false))
        {
            try
            {
                using var message = session.Compiled.Create(item);
                var name = Path.Combine(outDir, $"{written + 1:D4}-{Sanitize(item.RecipientId)}.eml");
                if (session.Dkim is { } dkim)
                {
                    // Signed as send signs it, over the same bytes (here not dot-stuffed: a file, not SMTP DATA).
                    message.Prepare(EncodingConstraint.SevenBit);
                    using var bytes = new MemoryStream();
                    await message.WriteToAsync(Wire, bytes, cancellationToken).ConfigureAwait(false);
                    var content = bytes.GetBuffer().AsMemory(0, (int)bytes.Length);
                    var signature = dkim.Sign(content.Span, dotStuffed: false).ToArray();
                    await using var file = new FileStream(name, FileMode.Create, FileAccess.Write);
                    await file.WriteAsync(signature, cancellationToken).ConfigureAwait(false);
                    await file.WriteAsync(content, cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    await message.WriteToAsync(Wire, name, cancellationToken).ConfigureAwait(false);
                }
                written++;
            }
            catch (RecipientRejectedException ex)
            {
                rejected++;
                output.WriteLine($"{item.Email} ({item.RecipientId}): rejected: {ex.Reason}");
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
