using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Herald.Campaigns;
using Herald.Cli.Stores;
using Herald.Recipients;
using Herald.Store;
using Spectre.Console;
using Sylvan.Data.Csv;

namespace Herald.Cli.Commands;

/// <summary><c>herald suppress add|remove|list|import</c>: the store's suppression list.</summary>
internal static class SuppressCommand
{
    public static Command Create()
    {
        var command = new Command("suppress", "Manage the suppression list: addresses that are never sent to.");
        command.Add(Add());
        command.Add(Remove());
        command.Add(List());
        command.Add(Import());
        return command;
    }

    private static Option<string?> Db() => DbOption.Create();

    private static Option<string> Reason() => new("--reason")
    {
        Description = "unsubscribed, bounced, complained or manual.",
        DefaultValueFactory = _ => "manual",
    };

    private static Command Add()
    {
        var emails = new Argument<string[]>("email") { Description = "Addresses to suppress.", Arity = ArgumentArity.OneOrMore };
        var db = Db();
        var reason = Reason();
        var command = new Command("add", "Suppress addresses.") { emails, db, reason };
        command.SetAction((result, ct) => CliRunner.RunAsync(async () =>
        {
            var why = ParseReason(result.GetValue(reason));
            var entries = new List<SuppressionEntry>();
            foreach (var raw in result.GetValue(emails)!)
            {
                entries.Add(new SuppressionEntry(Normalize(raw, "argument"), why, null, DateTimeOffset.UtcNow));
            }

            await using var stores = await OpenAsync(result.GetValue(db), StoreAccess.ReadWrite, lineToError: false, ct).ConfigureAwait(false);
            var store = stores.Tracking;
            var added = await store.AddSuppressionsAsync(entries, ct).ConfigureAwait(false);
            Console.WriteLine($"{added} address(es) added, {entries.Count - added} already suppressed.");
            return CliRunner.Ok;
        }));
        return command;
    }

    private static Command Remove()
    {
        var emails = new Argument<string[]>("email") { Description = "Addresses to send to again.", Arity = ArgumentArity.OneOrMore };
        var db = Db();
        var command = new Command("remove", "Remove addresses from the suppression list.") { emails, db };
        command.SetAction((result, ct) => CliRunner.RunAsync(async () =>
        {
            await using var stores = await OpenAsync(result.GetValue(db), StoreAccess.ReadOnly, lineToError: false, ct).ConfigureAwait(false);
            var store = stores.Tracking;
            var missing = 0;
            foreach (var raw in result.GetValue(emails)!)
            {
                var email = Normalize(raw, "argument");
                if (!await store.RemoveSuppressionAsync(email, ct).ConfigureAwait(false))
                {
                    Console.Error.WriteLine($"{email}: not suppressed");
                    missing++;
                }
            }

            Console.WriteLine($"{result.GetValue(emails)!.Length - missing} address(es) removed.");
            return missing == 0 ? CliRunner.Ok : CliRunner.Invalid;
        }));
        return command;
    }

    private static Command List()
    {
        var db = Db();
        var json = new Option<bool>("--json") { Description = "One JSON object per line: email, reason, campaign, at." };
        var command = new Command("list", "Print the suppression list.") { db, json };
        command.SetAction((result, ct) => CliRunner.RunAsync(async () =>
        {
            await using var stores = await OpenAsync(result.GetValue(db), StoreAccess.ReadOnly, lineToError: true, ct).ConfigureAwait(false);
            var store = stores.Tracking;
            var asJson = result.GetValue(json);
            Console.WriteLine(asJson ? string.Empty : "email,reason,campaign,at");
            await foreach (var e in store.ListSuppressionsAsync(ct).ConfigureAwait(false))
            {
                var at = e.At.ToString("O", CultureInfo.InvariantCulture);
                Console.WriteLine(asJson
                    ? JsonSerializer.Serialize(new { email = e.Email, reason = e.Reason.ToName(), campaign = e.CampaignId, at })
                    : $"{Csv.Field(e.Email)},{e.Reason.ToName()},{Csv.Field(e.CampaignId)},{at}");
            }

            return CliRunner.Ok;
        }));
        return command;
    }

    private static Command Import()
    {
        var file = new Argument<string>("file") { Description = "A CSV with an 'email' column (optional 'reason', 'campaign'), or one address per line." };
        var db = Db();
        var reason = Reason();
        var skipInvalid = new Option<bool>("--skip-invalid") { Description = "Import the valid addresses even when some rows are invalid." };
        var command = new Command("import", "Suppress every address of a file.") { file, db, reason, skipInvalid };
        command.SetAction((result, ct) => CliRunner.RunAsync(async () =>
        {
            var path = result.GetValue(file)!;
            var (entries, problems) = ReadImport(path, ParseReason(result.GetValue(reason)));
            foreach (var problem in problems)
            {
                Console.Error.WriteLine(problem.ToString());
            }

            if (problems.Count > 0 && !result.GetValue(skipInvalid))
            {
                Console.Error.WriteLine($"nothing imported: {problems.Count} invalid row(s); fix them or pass --skip-invalid.");
                return CliRunner.Invalid;
            }

            await using var stores = await OpenAsync(result.GetValue(db), StoreAccess.ReadWrite, lineToError: false, ct).ConfigureAwait(false);
            var store = stores.Tracking;
            var added = 0;
            foreach (var chunk in entries.Chunk(10_000))
            {
                added += await store.AddSuppressionsAsync(chunk, ct).ConfigureAwait(false);
            }

            Console.WriteLine($"{added} address(es) added, {entries.Count - added} already suppressed, {problems.Count} invalid row(s) skipped.");
            return CliRunner.Ok;
        }));
        return command;
    }

    internal static (List<SuppressionEntry> Entries, List<Problem> Problems) ReadImport(string path, SuppressionReason defaultReason)
    {
        var display = DisplayPath.For(path);
        if (!File.Exists(path))
        {
            throw new CampaignException(new Problem(display, 0, 0, "file not found"));
        }

        var entries = new List<SuppressionEntry>();
        var problems = new List<Problem>();
        var now = DateTimeOffset.UtcNow;
        var firstLine = File.ReadLines(path).FirstOrDefault() ?? string.Empty;
        var hasHeader = firstLine.Split(',').Any(h => string.Equals(h.Trim().Trim('"'), "email", StringComparison.OrdinalIgnoreCase));
        if (!hasHeader)
        {
            var line = 0;
            foreach (var text in File.ReadLines(path))
            {
                line++;
                if (string.IsNullOrWhiteSpace(text) || text.TrimStart().StartsWith('#'))
                {
                    continue;
                }

                if (EmailAddress.TryNormalize(text, out var email, out var error))
                {
                    entries.Add(new SuppressionEntry(email, defaultReason, null, now));
                }
                else
                {
                    problems.Add(new Problem(display, line, 0, $"invalid address: {error}", IsRow: true));
                }
            }

            return (entries, problems);
        }

        using var reader = CsvDataReader.Create(path, new CsvDataReaderOptions { HasHeaders = true });
        var emailColumn = Ordinal(reader, "email")!.Value;
        var reasonColumn = Ordinal(reader, "reason");
        var campaignColumn = Ordinal(reader, "campaign");
        var row = 0;
        while (reader.Read())
        {
            row++;
            if (!EmailAddress.TryNormalize(reader.GetString(emailColumn), out var email, out var error))
            {
                problems.Add(new Problem(display, row, 0, $"invalid address: {error}", IsRow: true));
                continue;
            }

            var rowReason = defaultReason;
            if (reasonColumn is { } rc && !string.IsNullOrWhiteSpace(reader.GetString(rc)) && !SuppressionReasons.TryParse(reader.GetString(rc), out rowReason))
            {
                problems.Add(new Problem(display, row, 0, $"unknown reason '{reader.GetString(rc)}' (use unsubscribed, bounced, complained or manual)", IsRow: true));
                continue;
            }

            var campaign = campaignColumn is { } cc && !string.IsNullOrWhiteSpace(reader.GetString(cc)) ? reader.GetString(cc) : null;
            entries.Add(new SuppressionEntry(email, rowReason, campaign, now));
        }

        return (entries, problems);
    }

    private static int? Ordinal(CsvDataReader reader, string name)
    {
        for (var i = 0; i < reader.FieldCount; i++)
        {
            if (string.Equals(reader.GetName(i).Trim(), name, StringComparison.OrdinalIgnoreCase))
            {
                return i;
            }
        }

        return null;
    }

    private static SuppressionReason ParseReason(string? text) =>
        SuppressionReasons.TryParse(text, out var reason)
            ? reason
            : throw new HeraldException($"--reason: unknown reason '{text}' (use unsubscribed, bounced, complained or manual)");

    private static string Normalize(string raw, string where) =>
        EmailAddress.TryNormalize(raw, out var email, out var error)
            ? email
            : throw new HeraldException($"{where} '{Markup.Escape(raw)}': invalid address: {error}");

    /// <summary>The suppression list belongs to the store, not a campaign: found by the store rule from the current folder.</summary>
    private static async Task<HeraldStores> OpenAsync(string? db, StoreAccess access, bool lineToError, CancellationToken cancellationToken)
    {
        var location = StoreLocator.Resolve(db, campaignFile: null);
        (lineToError ? Console.Error : Console.Out).WriteLine(location.Line);
        return await StoreFactory.OpenAsync(location, access, cancellationToken).ConfigureAwait(false);
    }
}
