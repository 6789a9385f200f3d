using System.Buffers;
using System.Diagnostics;
using System.Runtime;
using Herald.Campaigns;
using Herald.Recipients;
using Herald.Store;

namespace Herald.Prepare;

/// <summary>
/// <c>herald prepare</c>: turns a campaign's inputs into its send plan in the store. The plan is built as a chain
/// of small operators (read → normalize → dedupe → drop suppressed → join → write) and run as fused streaming
/// passes: one pass when there is nothing to join; otherwise a recipients pass that also indexes the join keys,
/// one pass per data set into a budgeted external sort, and a final merge pass that writes the plan.
/// </summary>
public static class Preparer
{
    /// <summary>The fingerprint a plan of this campaign records (see <see cref="PlanFingerprint"/>).</summary>
    public static string ComputeFingerprint(Campaign campaign) => PlanFingerprint.Compute(campaign);

    /// <summary>
    /// Reads, validates and joins the campaign's inputs and replaces its plan atomically: on any failure the
    /// previous plan (or none) is left as it was. Throws <see cref="CampaignException"/> for bad input and
    /// <see cref="StoreException"/> when the campaign has already started sending.
    /// </summary>
    public static async Task<PrepareManifest> PrepareAsync(
        Campaign campaign, IDeliveryStore store, ISuppressionList? suppression, PrepareOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(campaign);
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(options);
        var stopwatch = Stopwatch.StartNew();
        var fingerprint = PlanFingerprint.Compute(campaign);
        var existing = await store.GetPlanAsync(campaign.Id, cancellationToken).ConfigureAwait(false);
        if (existing is { Started: true })
        {
            throw new StoreException(
                $"campaign '{campaign.Id}' has already started sending; its plan cannot be replaced. " +
                (existing.Fingerprint == fingerprint
                    ? "Its inputs are unchanged: run `herald send` to continue."
                    : "Its inputs changed since: restore them to continue sending, or send the changes as a new campaign (new id)."));
        }

        var spillDirectory = Path.Combine(options.TempDirectory ?? Path.GetTempPath(), $"herald-prepare-{Guid.NewGuid():N}");
        Directory.CreateDirectory(spillDirectory);
        try
        {
            var run = new PrepareRun(campaign, store, suppression, options, fingerprint, spillDirectory);
            var manifest = await run.ExecuteAsync(cancellationToken).ConfigureAwait(false);
            return new PrepareManifest
            {
                CampaignId = manifest.CampaignId,
                Fingerprint = manifest.Fingerprint,
                RowsRead = manifest.RowsRead,
                Deliverable = manifest.Deliverable,
                Skipped = manifest.Skipped,
                DataSets = manifest.DataSets,
                Passes = manifest.Passes,
                Elapsed = stopwatch.Elapsed,
            };
        }
        finally
        {
            try
            {
                Directory.Delete(spillDirectory, recursive: true);
            }
            catch (IOException)
            {
                // Spill files are temporary; a leftover in the temp folder is not worth failing a good plan for.
            }
        }
    }

    /// <summary>One execution of the plan.</summary>
    private sealed class PrepareRun(
        Campaign campaign, IDeliveryStore store, ISuppressionList? suppression, PrepareOptions options, string fingerprint, string spillDirectory)
    {
        private readonly List<string> _passes = [];
        private readonly Stopwatch _clock = Stopwatch.StartNew();

        /// <summary>Appends the time the pass just finished took to its description.</summary>
        private void Timed()
        {
            _passes[^1] += FormattableString.Invariant($" [{_clock.Elapsed.TotalSeconds:F1} s]");
            if (Environment.GetEnvironmentVariable("HERALD_PREPARE_DEBUG") is not null)
            {
                var info = GC.GetGCMemoryInfo();
                Console.Error.WriteLine(FormattableString.Invariant($"{_passes[^1]}: heap {info.HeapSizeBytes >> 20} MB, committed {info.TotalCommittedBytes >> 20} MB, ws {Environment.WorkingSet >> 20} MB, peak ws {System.Diagnostics.Process.GetCurrentProcess().PeakWorkingSet64 >> 20} MB"));
            }

            _clock.Restart();
        }

        public async Task<PrepareManifest> ExecuteAsync(CancellationToken cancellationToken)
        {
            var dataSets = campaign.Data.Values.ToList();
            using var recipients = RecipientList.Open(campaign.RecipientsPath, campaign.Addresses.CaseSensitiveLocalPart);
            var recipientsPath = recipients.Path;
            var source = new RecipientSource(recipients, dataSets.Count, options.BatchSize);
            var email = new ColumnRef(recipientsPath, () => source.Columns, RecipientList.EmailColumn);
            email.Require("the recipients' addresses");
            var recipientId = new ColumnRef(recipientsPath, () => source.Columns, RecipientIds.Column);

            // Build the plan first: the per-row operators of the recipients pass, in pipeline order, after the
            // source that reads, normalizes and dedupes.
            var operators = new List<IRowOperator>();
            if (suppression is not null)
            {
                operators.Add(new DropSuppressed(suppression));
            }

            var keyColumns = new List<ColumnRef>();
            var indexes = new List<IndexJoinKeys>();
            for (var i = 0; i < dataSets.Count; i++)
            {
                var column = new ColumnRef(recipientsPath, () => source.Columns, dataSets[i].RecipientKey);
                column.Require($"recipient_key of data set '{dataSets[i].Name}'");
                keyColumns.Add(column);
                var index = new IndexJoinKeys(i, dataSets[i].Name, recipientsPath, column);
                indexes.Add(index);
                operators.Add(index);
            }

            var fields = new FieldsSerializer(() => source.Columns);
            var fromDomain = campaign.From.Domain;
            var recipientsPass = string.Join(" → ", operators.Select(o => o.Describe()).Prepend(RecipientSource.Describe(recipientsPath)));

            if (dataSets.Count == 0)
            {
                // Nothing to join: the whole plan is one fused pass straight into the plan writer.
                _passes.Add(recipientsPass + " → write plan");
                await using var writer = await store.BeginPlanAsync(campaign.Id, fingerprint, cancellationToken).ConfigureAwait(false);
                PrepareManifest manifest;
                await using (var sink = new PlanWriterSink(writer, campaign.Id, fromDomain, options.BatchSize, cancellationToken))
                {
                    await foreach (var batch in RunOperatorsAsync(source, operators, cancellationToken).ConfigureAwait(false))
                    {
                        foreach (var row in batch)
                        {
                            var context = row.Deliverable ? fields.Serialize(row.Values, email.Index, recipientId.Index) : default;
                            await sink.AddAsync(row.RecipientId, row.Email, context, row.SkipReason, cancellationToken).ConfigureAwait(false);
                        }
                    }

                    email.Require("the recipients' addresses", atEnd: true);
                    await sink.CompleteAsync(cancellationToken).ConfigureAwait(false);
                    manifest = Manifest(source.RowsRead, sink, []);
                }

                await writer.CommitAsync(cancellationToken).ConfigureAwait(false);
                return manifest;
            }

            // Pass 1: recipients, fused, into a spool in file order (keys indexed on the way).
            _passes.Add(recipientsPass + " → spool");
            using var spool = new RecipientSpool(spillDirectory, dataSets.Count);
            await foreach (var batch in RunOperatorsAsync(source, operators, cancellationToken).ConfigureAwait(false))
            {
                foreach (var row in batch)
                {
                    spool.Write(row, row.Deliverable ? fields.Serialize(row.Values, email.Index, recipientId.Index).Span : default);
                }
            }

            email.Require("the recipients' addresses", atEnd: true);
            Timed();
            for (var i = 0; i < dataSets.Count; i++)
            {
                keyColumns[i].Require($"recipient_key of data set '{dataSets[i].Name}'", atEnd: true);
            }

            recipients.Dispose();

            // Pass boundary: the dedupe sets of the recipients pass are garbage now. Collect them (and compact the
            // large-object heap) before the join buffers fill, so the peak is the join's, not the sum of both.
            GCSettings.LargeObjectHeapCompactionMode = GCLargeObjectHeapCompactionMode.CompactOnce;
            GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);

            // Passes 2..n: each data set streamed once, matched rows sorted within the memory budget.
            var joins = new List<DataSetJoin>();
            try
            {
                for (var i = 0; i < dataSets.Count; i++)
                {
                    var set = dataSets[i];
                    var join = new DataSetJoin(set, ResolvePath(set.File), indexes[i], SortBudget(indexes), options.MemoryBudget + (128L << 20), spillDirectory);
                    joins.Add(join);
                    _passes.Add($"read {Path.GetFileName(set.File)} → match '{set.Key}' to recipients' '{set.RecipientKey}' → sort by key{(set.OrderBy is null ? string.Empty : $", {set.OrderBy}")} (reader + sort buffers within {SortBudget(indexes) / (1 << 20)} MB, then spill)");
                    join.Build(cancellationToken);
                    Timed();

                    // Pass boundary again: the data set's reader (a Parquet row group's strings) is garbage now.
                    GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
                }

                // Final pass: spool merged with every sorted data set, then written.
                _passes.Add($"merge spool with {string.Join(", ", dataSets.Select(d => d.Name))} → write plan");
                return await WriteJoinedAsync(spool, joins, source.RowsRead, fromDomain, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                foreach (var join in joins)
                {
                    join.Dispose();
                }
            }
        }

        private async Task<PrepareManifest> WriteJoinedAsync(
            RecipientSpool spool, List<DataSetJoin> joins, long rowsRead, string fromDomain, CancellationToken cancellationToken)
        {
            await using var writer = await store.BeginPlanAsync(campaign.Id, fingerprint, cancellationToken).ConfigureAwait(false);
            PrepareManifest manifest;
            var joined = new ArrayBufferWriter<byte>(4096);
            var context = new ArrayBufferWriter<byte>(4096);
            await using (var sink = new PlanWriterSink(writer, campaign.Id, fromDomain, options.BatchSize, cancellationToken))
            {
                long n = 0;
                foreach (var row in spool.Read())
                {
                    if ((++n & 0xFFF) == 0)
                    {
                        cancellationToken.ThrowIfCancellationRequested();
                    }

                    var skip = row.SkipReason;
                    if (skip is not null)
                    {
                        await sink.AddAsync(row.RecipientId, row.Email, default, skip, cancellationToken).ConfigureAwait(false);
                        continue;
                    }

                    // Every join is probed even after a miss: the merge walks each data set in step with the spool.
                    joined.ResetWrittenCount();
                    for (var i = 0; i < joins.Count; i++)
                    {
                        if (!joins[i].TryWrite(row.Groups[i], joined))
                        {
                            if (joins[i].Required)
                            {
                                skip ??= SkipReasons.Missing(joins[i].Name);
                            }
                            else
                            {
                                joins[i].WriteEmpty(joined);
                            }
                        }
                    }

                    if (skip is not null)
                    {
                        await sink.AddAsync(row.RecipientId, row.Email, default, skip, cancellationToken).ConfigureAwait(false);
                        continue;
                    }

                    context.ResetWrittenCount();
                    var fields = row.Fields.Span;
                    var tail = joined.WrittenSpan;
                    context.Write(fields[..^1]);
                    context.Write(fields.Length == 2 ? tail[1..] : tail);
                    context.Write("}"u8);
                    await sink.AddAsync(row.RecipientId, row.Email, context.WrittenMemory, null, cancellationToken).ConfigureAwait(false);
                }

                await sink.CompleteAsync(cancellationToken).ConfigureAwait(false);
                Timed();
                manifest = Manifest(rowsRead, sink, [.. joins.Select(j => j.Manifest)]);
            }

            await writer.CommitAsync(cancellationToken).ConfigureAwait(false);
            _passes.Add("commit");
            Timed();
            return manifest;
        }

        private static async IAsyncEnumerable<List<PlanRow>> RunOperatorsAsync(
            RecipientSource source, List<IRowOperator> operators, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
        {
            foreach (var batch in source.ReadBatches(cancellationToken))
            {
                foreach (var op in operators)
                {
                    await op.ApplyAsync(batch, cancellationToken).ConfigureAwait(false);
                }

                yield return batch;
            }
        }

        private PrepareManifest Manifest(long rowsRead, PlanWriterSink sink, IReadOnlyList<DataSetManifest> dataSets) => new()
        {
            CampaignId = campaign.Id,
            Fingerprint = fingerprint,
            RowsRead = rowsRead,
            Deliverable = sink.Deliverable,
            Skipped = new SortedDictionary<string, long>((IDictionary<string, long>)sink.Skipped, StringComparer.Ordinal),
            DataSets = dataSets,
            Passes = _passes,
        };

        /// <summary>
        /// Each data set's share of the budget (for its reader and sort buffers): the budget less what the key
        /// indexes already hold (about 200 bytes a key, two dictionaries).
        /// </summary>
        private long SortBudget(List<IndexJoinKeys> indexes)
        {
            const long BytesPerKey = 200;
            var left = options.MemoryBudget - indexes.Sum(i => (long)i.Count * BytesPerKey);
            return Math.Max(left, options.MemoryBudget / 8) / indexes.Count;
        }

        private string ResolvePath(string file) => Path.IsPathRooted(file) ? file : Path.GetFullPath(Path.Combine(campaign.Directory, file));
    }
}
