using Herald.Campaigns;
using Herald.Dkim;
using Herald.Recipients;
using Herald.Rendering;
using Herald.Store;
using Herald.Tracking;

namespace Herald.Cli.Commands;

/// <summary>
/// Loads a campaign, its recipients' columns, its compiled templates and its DKIM key(s): what validate, preview and
/// send share.
/// </summary>
internal sealed class CampaignSession : IDisposable
{
    private CampaignSession(Campaign campaign, IReadOnlyList<string> columns, CompiledCampaign compiled, DkimSigner? dkim, IReadOnlyList<Problem> warnings)
    {
        Campaign = campaign;
        Columns = columns;
        Compiled = compiled;
        Dkim = dkim;
        Warnings = warnings;
    }

    public Campaign Campaign { get; }

    public IReadOnlyList<string> Columns { get; }

    public CompiledCampaign Compiled { get; }

    /// <summary>The campaign's DKIM signer, its keys loaded once; null without a <c>dkim</c> section.</summary>
    public DkimSigner? Dkim { get; }

    /// <summary>What is allowed but should be fixed (a 1024-bit DKIM key).</summary>
    public IReadOnlyList<Problem> Warnings { get; }

    /// <summary>Every problem of the campaign file and its templates together, as one <see cref="CampaignException"/>.</summary>
    public static CampaignSession Open(string path, TokenSigner signer, CancellationToken cancellationToken)
    {
        var campaign = CampaignLoader.Load(path);
        var columns = ReadColumns(campaign.RecipientsPath, cancellationToken);
        var compiled = CampaignTemplates.Compile(campaign, columns, signer);
        var warnings = new List<Problem>();
        var dkim = campaign.Dkim is null ? null : DkimSigner.Load(campaign, warnings);
        return new CampaignSession(campaign, columns, compiled, dkim, warnings);
    }

    /// <summary>Prints the warnings, then one line naming how messages are signed (never key material).</summary>
    public void Describe(TextWriter output)
    {
        foreach (var warning in Warnings)
        {
            output.WriteLine($"warning: {warning}");
        }

        if (Dkim is { } dkim)
        {
            var keys = string.Join(", ", dkim.Keys.Select(k => $"s={k.Selector} {k.Key.AlgorithmTag} {k.Key.Bits} bits"));
            output.WriteLine($"dkim: signing as d={dkim.Options.Domain} ({keys}); DNS: {string.Join(", ", dkim.Keys.Select(k => $"{k.Selector}._domainkey.{dkim.Options.Domain}"))}");
        }
    }

    public void Dispose() => Dkim?.Dispose();

    /// <summary>The recipient columns; JSONL files only know theirs once every line was read.</summary>
    private static IReadOnlyList<string> ReadColumns(string path, CancellationToken cancellationToken)
    {
        using var list = RecipientList.Open(path);
        if (Path.GetExtension(path).Equals(".csv", StringComparison.OrdinalIgnoreCase))
        {
            return [.. list.Columns];
        }

        foreach (var _ in list.Read(cancellationToken))
        {
        }

        return [.. list.Columns];
    }
}
