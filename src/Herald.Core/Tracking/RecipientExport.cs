using Herald.Store;

namespace Herald.Tracking;

/// <summary>
/// The per-recipient export ("who failed and why, who engaged"): one CSV row per ledger row, by recipient id, streamed
/// from the store with the same bot rules as the report. Recipients with events but no ledger row (a store without
/// the plan) get a row with the ledger columns empty. Bounces are per recipient and not limited to the window.
/// </summary>
public static class RecipientExport
{
    public const string Header =
        "email,recipient_id,state,smtp_code,smtp_text,attempts,skip_reason,opened,clicked,unsubscribed,human_opened,human_clicked,opens,clicks,first_open_at,first_click_at,bot,bounce_type,bounce_code,complained";

    /// <summary>Writes the header and every row; returns the number of rows.</summary>
    public static async Task<long> WriteCsvAsync(IReportStore store, EventWindow window, EngagementOptions? options, TextWriter output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(window);
        ArgumentNullException.ThrowIfNull(output);
        options ??= new EngagementOptions();
        options.Validate();
        var heavy = await store.FindHeavyClickersAsync(window, options.MaxEventsPerRecipient, cancellationToken).ConfigureAwait(false);
        await output.WriteAsync((Header + "\n").AsMemory(), cancellationToken).ConfigureAwait(false);
        long rows = 0;
        var reader = await RecipientActivityReader.OpenAsync(store, window, delivered: null, engagedDeliveries: false, heavy, withTarget: new HashSet<int>(), options, cancellationToken)
            .ConfigureAwait(false);
        await using (reader.ConfigureAwait(false))
        {
            while (await reader.MoveNextAsync().ConfigureAwait(false))
            {
                var a = reader.Current;
                if (a.Ledger.Count == 0)
                {
                    await WriteAsync(null, a).ConfigureAwait(false);
                }

                foreach (var row in a.Ledger)
                {
                    await WriteAsync(row, a).ConfigureAwait(false);
                }
            }
        }

        return rows;

        async Task WriteAsync(LedgerEntry? row, RecipientActivity a)
        {
            var line = Csv.Line(
                row?.Email, a.RecipientId, row?.State.ToName(), row?.SmtpCode, row?.SmtpText, row?.Attempts, row?.SkipReason,
                a.Opened, a.Clicked, a.Unsubscribe is not null, a.HumanOpened, a.HumanClicked,
                a.Opens?.Opens ?? 0, a.ClickCount, a.Opens?.FirstAt, a.FirstClickAt, a.VolumeBot,
                a.Bounce?.ToName(), a.BounceCode, a.Complained);
            await output.WriteAsync((line + "\n").AsMemory(), cancellationToken).ConfigureAwait(false);
            rows++;
        }
    }
}
