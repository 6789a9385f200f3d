using Herald.Prepare;
using YamlDotNet.RepresentationModel;

namespace Herald.Campaigns;

/// <summary>
/// The <c>limits</c> section: bounds on rendering one message, so a template (or one recipient's data) can never
/// take the process down. Exceeding a render limit rejects that recipient with a reason naming the template.
/// </summary>
public sealed class RenderLimits
{
    public const long DefaultMaxMessageSize = 2L << 20;

    /// <summary>Liquid statements per message; a 50 kB email with a few product loops runs about a thousand.</summary>
    public const int DefaultMaxSteps = 100_000;

    /// <summary>
    /// Blocks ({% if %}, {% for %}, ...) nested in one template, checked before parsing: the parser recurses per level
    /// and 3,000 levels overflowed its stack. Not configurable: no real email needs more.
    /// </summary>
    public const int MaxNesting = 50;

    /// <summary>Parentheses nested in one Liquid tag or output (the parser recurses on them too).</summary>
    public const int MaxParentheses = 16;

    /// <summary>Fluid's own recursion bound at render time (nested loops, includes); above <see cref="MaxNesting"/>.</summary>
    public const int MaxRecursion = 64;

    /// <summary>Largest template file read.</summary>
    public const int MaxTemplateChars = 1 << 20;

    /// <summary>Rendered HTML and text of one message together, in characters (~bytes); also bounds any one Liquid string value.</summary>
    public long MaxMessageSize { get; init; } = DefaultMaxMessageSize;

    /// <summary>Liquid statements one message may execute (Fluid's MaxSteps).</summary>
    public int MaxSteps { get; init; } = DefaultMaxSteps;

    internal static RenderLimits Parse(YamlNode node, CampaignParseContext context)
    {
        var limits = new RenderLimits();
        if (context.Mapping(node, "limits") is not { } map)
        {
            return limits;
        }

        long size = limits.MaxMessageSize;
        int steps = limits.MaxSteps;
        foreach (var (keyNode, value) in map.Children)
        {
            switch (context.KeyOf(keyNode))
            {
                case "message_size":
                    var text = context.Scalar(value, "limits.message_size");
                    if (text is null)
                    {
                        break;
                    }

                    if (!PrepareOptions.TryParseSize(text, out var bytes) || bytes < 1024 || bytes > (256L << 20))
                    {
                        context.Add(value, $"limits.message_size: expected a size from 1KB to 256MB (for example 2MB), got '{text}'");
                        break;
                    }

                    size = bytes;
                    break;
                case "render_steps":
                    steps = context.Int(value, "limits.render_steps", 100, 100_000_000) ?? steps;
                    break;
                case null:
                    break;
                case var other:
                    context.Unknown(keyNode, other, "message_size", "render_steps");
                    break;
            }
        }

        return new RenderLimits { MaxMessageSize = size, MaxSteps = steps };
    }
}
