using Herald.Data;
using YamlDotNet.RepresentationModel;

namespace Herald.Campaigns;

/// <summary>One named data set of the <c>data</c> section.</summary>
public sealed class DataSetOptions
{
    public required string Name { get; init; }

    public required string File { get; init; }

    public required string Key { get; init; }

    public string RecipientKey { get; init; } = "recipient_id";

    public bool Many { get; init; }

    public int? Limit { get; init; }

    public string? OrderBy { get; init; }

    public bool Required { get; init; }

    /// <summary>Parses the <c>data</c> section into <paramref name="data"/>, one entry per valid data set.</summary>
    internal static void ParseSection(YamlNode node, CampaignParseContext context, Dictionary<string, DataSetOptions> data)
    {
        if (context.Mapping(node, "data") is not { } map)
        {
            return;
        }

        foreach (var (keyNode, value) in map.Children)
        {
            var name = context.KeyOf(keyNode);
            if (name is null)
            {
                continue;
            }

            if (!CampaignLoader.IdentifierPattern().IsMatch(name))
            {
                context.Add(keyNode, $"data: '{name}' is not a valid data set name (letters, digits, '_'; it becomes a template variable)");
                continue;
            }

            if (CampaignLoader.BuiltInVariables.Contains(name))
            {
                context.Add(keyNode, $"data: '{name}' is a built-in template variable; choose another name");
                continue;
            }

            if (Parse(name, value, context) is { } set)
            {
                data[name] = set;
            }
        }
    }

    internal static DataSetOptions? Parse(string name, YamlNode node, CampaignParseContext context)
    {
        if (context.Mapping(node, $"data.{name}") is not { } map)
        {
            return null;
        }

        string? file = null, key = null, orderBy = null;
        var recipientKey = "recipient_id";
        bool many = false, required = false, ok = true;
        int? limit = null;
        YamlNode? limitNode = null;
        foreach (var (keyNode, value) in map.Children)
        {
            var k = context.KeyOf(keyNode);
            var label = $"data.{name}.{k}";
            switch (k)
            {
                case "file":
                    file = context.FilePath(value, label);
                    ok &= file is not null;
                    if (file is not null && !TableReaders.IsSupported(file))
                    {
                        context.Add(value, $"{label}: unsupported file type '{Path.GetExtension(file)}' (use {TableReaders.SupportedList})");
                    }

                    break;
                case "key":
                    key = context.Column(value, label);
                    ok &= key is not null;
                    break;
                case "recipient_key":
                    recipientKey = context.Column(value, label) ?? recipientKey;
                    break;
                case "many":
                    many = context.Bool(value, label) ?? many;
                    break;
                case "limit":
                    limit = context.Int(value, label, 1, 1_000_000);
                    limitNode = value;
                    break;
                case "order_by":
                    orderBy = context.Scalar(value, label);
                    break;
                case "required":
                    required = context.Bool(value, label) ?? required;
                    break;
                case null:
                    break;
                default:
                    context.Unknown(keyNode, k, "file", "key", "recipient_key", "many", "limit", "order_by", "required");
                    break;
            }
        }

        if (file is null && ok)
        {
            context.Add(node, $"data.{name}: 'file' is required");
        }

        if (key is null && ok)
        {
            context.Add(node, $"data.{name}: 'key' is required (the column matching the recipient)");
        }

        if (!many && limitNode is not null)
        {
            context.Add(limitNode, $"data.{name}.limit: only meaningful with many: true");
        }

        if (!many && orderBy is not null)
        {
            context.Add(node, $"data.{name}.order_by: only meaningful with many: true");
        }

        if (file is null || key is null)
        {
            return null;
        }

        return new DataSetOptions
        {
            Name = name,
            File = file,
            Key = key,
            RecipientKey = recipientKey,
            Many = many,
            Limit = limit,
            OrderBy = orderBy,
            Required = required,
        };
    }
}
