using System.Collections.Concurrent;
using System.CommandLine;
using Herald.Cli.Stores;
using Herald.Recipients;
using Herald.Store;
using Herald.Tracking;

namespace Herald.Cli.Commands;

/// <summary>
/// <c>herald validate CAMPAIGN.yml [--all]</c>: checks config, templates and recipients; sends and writes nothing.
/// With <c>--all</c> it also joins the data sets and renders every recipient's message (in parallel, from a
/// throwaway plan), so header injection, missing join keys and size or step limits show up as <c>file:row</c>.
/// </summary>
internal static class ValidateCommand
{
    public static Command Create()
    {
        var file = new Argument<string>("CAMPAIGN") { Description = "The campaign file (campaign.yml)." };
        var db = DbOption.Create();
        var all = new Option<bool>("--all")
        {
            Description = "Also join the data sets and render every recipient's message (header injection, missing join keys, size and step limits); nothing is written.",
        };
        var command = new Command("validate", "Check a campaign's config, templates and recipients; nothing is sent.") { file, db, all };
        command.SetAction((ParseResult result, CancellationToken cancellationToken) => CliRunner.RunAsync(() =>
        {
            // Validate opens no store for writing; it says which one prepare and send will use.
            var location = StoreLocator.Resolve(result.GetValue(db), result.GetValue(file));
            Console.WriteLine(location.Line);
            return RunAsync(result.GetValue(file)!, result.GetValue(all) ? location : null, Console.Out, cancellationToken);
        }));
        return command;
    }

    internal static int Run(string path, TextWriter output, CancellationToken cancellationToken) =>
        RunAsync(path, null, output, cancellationToken).GetAwaiter().GetResult();

    /// <param name="renderAll">The store whose suppression list (and fresh plan) --all uses; null for the quick checks only.</param>
    internal static async Task<int> RunAsync(string path, StoreLocation? renderAll, TextWriter output, CancellationToken cancellationToken)
    {
        // Validation signs nothing that leaves the machine: without a key yet, a throwaway one keeps it from creating the key file.
        var signer = TokenSigner.TryFromEnvironment();
        output.WriteLine(signer is null
            ? $"tracking key: none yet ({TokenSigner.SecretVariable} is unset; the first send or preview creates {TokenSigner.DefaultKeyFile()})"
            : $"links will be signed with {signer.Describe()}");
        signer ??= new TokenSigner(new byte[32]);
        using var session = CampaignSession.Open(path, signer, cancellationToken);
        session.Describe(output);
        long ok = 0, invalid = 0, duplicate = 0;
        // --all reports rendering problems by row: the row of each deliverable recipient id.
        var rows = renderAll is null ? null : new Dictionary<string, int>(StringComparer.Ordinal);
        string recipientsFile;
        using (var list = RecipientList.Open(session.Campaign.RecipientsPath, session.Campaign.Addresses.CaseSensitiveLocalPart))
        {
            recipientsFile = list.Path;
            foreach (var entry in list.Read(cancellationToken))
            {
                switch (entry.Status)
                {
                    case RecipientStatus.Ok:
                        ok++;
                        rows?.TryAdd(entry.RecipientId!, entry.Row);
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
        if (renderAll is null)
        {
            output.WriteLine("not checked: each recipient's rendering (header injection, message size and step limits), data-set joins " +
                "(missing keys, required data), the suppression list. 'herald validate --all' checks them (nothing is written).");
            return CliRunner.Ok;
        }

        var problems = await ReadOnlyPlan.RunAsync(session.Campaign, renderAll, output, "Rendering",
            async store => (true, await RenderAllAsync(store, session, rows!, recipientsFile, cancellationToken).ConfigureAwait(false)),
            cancellationToken).ConfigureAwait(false);
        foreach (var problem in problems)
        {
            output.WriteLine(problem.Text);
        }

        var rejected = problems.Count(p => p.Blocking);
        output.WriteLine(rejected == 0
            ? $"ok: every deliverable recipient renders within the limits ({problems.Count} note(s))."
            : $"{rejected} recipient(s) would not be sent (see above); nothing was written.");
        return rejected == 0 ? CliRunner.Ok : CliRunner.Invalid;
    }

    private sealed record RenderProblem(int Row, string Text, bool Blocking) : IComparable<RenderProblem>
    {
        public int CompareTo(RenderProblem? other) => other is null ? 1 : Row.CompareTo(other.Row);
    }

    private static async Task<List<(string Text, bool Blocking)>> RenderAllAsync(
        IDeliveryStore store, CampaignSession session, Dictionary<string, int> rows, string file, CancellationToken cancellationToken)
    {
        var campaign = session.Campaign;
        var found = new ConcurrentBag<RenderProblem>();
        int RowOf(string id) => rows.TryGetValue(id, out var row) ? row : 0;

        // Skipped at plan time for reasons the recipients file alone cannot show.
        await foreach (var record in store.ReadRecipientsAsync(campaign.Id, cancellationToken).ConfigureAwait(false))
        {
            if (record.SkipReason is { } reason && (reason.StartsWith("missing:", StringComparison.Ordinal) || reason == "suppressed"))
            {
                var blocking = reason != "suppressed";
                var what = blocking ? $"no row in data set '{reason["missing:".Length..]}' (required: true), so not sent" : "suppressed (on the store's suppression list)";
                found.Add(new RenderProblem(RowOf(record.RecipientId), $"{file}:{RowOf(record.RecipientId)}: {record.Email}: {what}", blocking));
            }
        }

        await Parallel.ForEachAsync(
            store.ReadPendingAsync(campaign.Id, int.MaxValue, cancellationToken),
            new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount, CancellationToken = cancellationToken },
            (item, _) =>
            {
                try
                {
                    using var message = session.Compiled.Create(item);
                }
                catch (RecipientRejectedException ex)
                {
                    var row = RowOf(item.RecipientId);
                    found.Add(new RenderProblem(row, $"{file}:{row}: {item.Email}: rejected: {ex.Reason}", true));
                }

                return ValueTask.CompletedTask;
            }).ConfigureAwait(false);

        return [.. found.Order().Select(p => (p.Text, p.Blocking))];
    }
}
