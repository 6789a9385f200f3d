using Herald.Campaigns;
using Herald.Recipients;
using Herald.Rendering;
using Herald.Store;
using Herald.Tracking;

namespace Herald.Cli.Commands;

/// <summary>Loads a campaign, its recipients' columns and its compiled templates: what validate and preview share.</summary>
internal sealed class CampaignSession
{
    private CampaignSession(Campaign campaign, IReadOnlyList<string> columns, CompiledCampaign compiled)
    {
        Campaign = campaign;
        Columns = columns;
        Compiled = compiled;
    }

    public Campaign Campaign { get; }

    public IReadOnlyList<string> Columns { get; }

    public CompiledCampaign Compiled { get; }

    /// <summary>Every problem of the campaign file and its templates together, as one <see cref="CampaignException"/>.</summary>
    public static CampaignSession Open(string path, TokenSigner signer, CancellationToken cancellationToken)
    {
        var campaign = CampaignLoader.Load(path);
        var columns = ReadColumns(campaign.RecipientsPath, cancellationToken);
        var compiled = CampaignTemplates.Compile(campaign, columns, signer);
        return new CampaignSession(campaign, columns, compiled);
    }

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
