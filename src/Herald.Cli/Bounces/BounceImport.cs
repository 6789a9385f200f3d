using System.Globalization;
using Herald.Bounces;
using Herald.Store;

namespace Herald.Cli.Bounces;

/// <summary>What <c>herald bounces import</c> did.</summary>
internal sealed class BounceImportSummary
{
    public long Messages { get; set; }

    public long Hard { get; set; }

    public long Soft { get; set; }

    public long Complaints { get; set; }

    public long Ignored { get; set; }

    public long Quarantined { get; set; }

    public long Suppressed { get; set; }

    public required string QuarantineFolder { get; init; }

    public object ToJson() => new
    {
        messages = Messages,
        hard = Hard,
        soft = Soft,
        complaints = Complaints,
        ignored = Ignored,
        quarantined = Quarantined,
        suppressed = Suppressed,
        quarantine = QuarantineFolder,
    };

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"imported {Messages} message(s): {Hard} hard bounce(s), {Soft} soft, {Complaints} complaint(s), {Ignored} ignored (auto-replies, delay warnings), {Suppressed} address(es) newly suppressed; "
        + $"{Quarantined} not understood or not ours, kept in {QuarantineFolder}");
}

/// <summary>Feeds files, folders and mboxes through the bounce processor, one message at a time.</summary>
internal static class BounceImport
{
    public const int MaxMessageBytes = 25 * 1024 * 1024;

    public static async Task<BounceImportSummary> RunAsync(string path, BounceProcessor processor, BounceQuarantine quarantine, TextWriter? log, CancellationToken cancellationToken)
    {
        var summary = new BounceImportSummary { QuarantineFolder = quarantine.Folder };
        var files = Directory.Exists(path)
            ? Directory.EnumerateFiles(path, "*", new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = false, AttributesToSkip = FileAttributes.Hidden })
                .Where(f => !f.StartsWith(quarantine.Folder + Path.DirectorySeparatorChar, StringComparison.Ordinal))
                .Order(StringComparer.Ordinal)
            : (IEnumerable<string>)[path];
        foreach (var file in files)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var display = Path.GetRelativePath(Directory.GetCurrentDirectory(), file);
            if (MboxReader.LooksLikeMbox(file))
            {
                await using var stream = File.OpenRead(file);
                foreach (var message in MboxReader.Read(stream, MaxMessageBytes))
                {
                    var where = $"{display} message {message.Number.ToString(CultureInfo.InvariantCulture)}";
                    await OneAsync(message.Data, message.Truncated ? $"larger than {MaxMessageBytes >> 20} MB, cut there" : null, where, processor, quarantine, summary, log, cancellationToken).ConfigureAwait(false);
                }
            }
            else if (new FileInfo(file).Length > MaxMessageBytes)
            {
                await using var stream = File.OpenRead(file);
                var head = new byte[MaxMessageBytes];
                var read = await stream.ReadAtLeastAsync(head, head.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
                await OneAsync(head.AsMemory(0, read).ToArray(), $"larger than {MaxMessageBytes >> 20} MB, cut there", display, processor, quarantine, summary, log, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await OneAsync(await File.ReadAllBytesAsync(file, cancellationToken).ConfigureAwait(false), null, display, processor, quarantine, summary, log, cancellationToken).ConfigureAwait(false);
            }
        }

        return summary;
    }

    private static async Task OneAsync(byte[] data, string? tooLarge, string where, BounceProcessor processor, BounceQuarantine quarantine, BounceImportSummary summary, TextWriter? log, CancellationToken cancellationToken)
    {
        summary.Messages++;
        var outcome = tooLarge is null
            ? await processor.ProcessAsync(data, BounceEnvelope.None, cancellationToken).ConfigureAwait(false)
            : BounceOutcome.Quarantined(tooLarge);
        switch (outcome.Disposition)
        {
            case BounceDisposition.Quarantine:
                var kept = quarantine.Keep(data, outcome.Reason);
                summary.Quarantined++;
                log?.WriteLine($"{where}: quarantined as {kept}: {outcome.Reason}");
                break;
            case BounceDisposition.Ignored:
                summary.Ignored++;
                break;
            default:
                summary.Suppressed += outcome.Suppressed;
                foreach (var e in outcome.Events)
                {
                    switch (e.Type)
                    {
                        case BounceType.Hard: summary.Hard++; break;
                        case BounceType.Soft: summary.Soft++; break;
                        default: summary.Complaints++; break;
                    }
                }

                break;
        }
    }
}
