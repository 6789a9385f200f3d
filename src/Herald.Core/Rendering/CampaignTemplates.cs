using System.Text;
using System.Text.RegularExpressions;
using Fluid;
using Herald.Campaigns;
using Herald.Store;
using Herald.Tracking;

namespace Herald.Rendering;

/// <summary>Compiles a campaign's templates once: syntax and unknown variables checked, links rewritten for tracking.</summary>
public static partial class CampaignTemplates
{
    private static readonly FluidParser Parser = new(new FluidParserOptions { AllowFunctions = false });

    /// <summary>
    /// Parses and checks subject, HTML, text and header templates. <paramref name="availableVariables"/> are the recipient
    /// columns and data set names; the built-ins are always available. Throws <see cref="CampaignException"/> with every
    /// problem (syntax errors and unknown variables, each with file:line:col).
    /// </summary>
    public static CompiledCampaign Compile(Campaign campaign, IReadOnlyCollection<string> availableVariables, TokenSigner signer)
    {
        ArgumentNullException.ThrowIfNull(campaign);
        ArgumentNullException.ThrowIfNull(availableVariables);
        ArgumentNullException.ThrowIfNull(signer);
        var problems = new List<Problem>();
        var known = new HashSet<string>(availableVariables, StringComparer.Ordinal);
        known.UnionWith(CampaignLoader.BuiltInVariables);
        known.UnionWith(campaign.Data.Keys);

        var campaignFile = DisplayPath.For(campaign.FilePath);
        var subject = Check(campaign.Subject, campaignFile, "subject", known, problems, PositionOf(campaign, "subject"));
        var headers = new List<(string, IFluidTemplate)>();
        foreach (var (name, source) in campaign.Headers)
        {
            if (Check(source, campaignFile, $"headers.{name}", known, problems, PositionOf(campaign, $"headers.{name}")) is { } template)
            {
                headers.Add((name, template));
            }
        }

        var htmlFile = DisplayPath.For(campaign.HtmlPath);
        var htmlSource = ReadTemplate(campaign.HtmlPath, htmlFile, problems);
        var html = htmlSource is null ? null : Check(htmlSource, htmlFile, null, known, problems, null);

        IFluidTemplate? text = null;
        string? textFile = null;
        if (campaign.TextPath is not null)
        {
            textFile = DisplayPath.For(campaign.TextPath);
            var textSource = ReadTemplate(campaign.TextPath, textFile, problems);
            text = textSource is null ? null : Check(textSource, textFile, null, known, problems, null);
        }

        if (problems.Count > 0)
        {
            throw new CampaignException(problems);
        }

        var rewritten = LinkRewriter.Rewrite(htmlSource!, campaign.Tracking.Clicks, campaign.Tracking.Opens);
        var trackedHtml = ParseGenerated(rewritten.Html, htmlFile, "tracking links");
        var textTemplate = text ?? ParseGenerated(rewritten.DerivedText, htmlFile, "the text part derived from it");

        var options = new TemplateOptions { MaxSteps = campaign.Limits.MaxSteps, MaxRecursion = RenderLimits.MaxRecursion };
        options.Filters.AddFilter(LinkRewriter.LinkFilter, CompiledCampaign.LinkFilter);
        RenderBounds.BoundFilters(options, campaign.Limits.MaxMessageSize);
        var steps = campaign.Limits.MaxSteps;
        trackedHtml = RangeBounds.Apply(trackedHtml, steps);
        textTemplate = RangeBounds.Apply(textTemplate, steps);
        subject = RangeBounds.Apply(subject!, steps);
        headers = [.. headers.Select(h => (h.Item1, RangeBounds.Apply(h.Item2, steps)))];
        var names = new TemplateNames(
            $"{campaignFile} (subject)", htmlFile, textFile ?? $"{htmlFile} (text part derived from it)", [.. headers.Select(h => $"{campaignFile} (headers.{h.Item1})")]);
        return new CompiledCampaign(campaign, options, subject!, trackedHtml, textTemplate, text is null, [.. headers], rewritten.Links, signer, names);
    }

    /// <summary>
    /// The tracked links of the campaign's HTML template, as reports name them, without compiling anything: how a report
    /// labels links of a campaign whose store has no link catalogue (sent by an older Herald). Empty when the template
    /// cannot be read.
    /// </summary>
    public static IReadOnlyList<LinkDefinition> ReadLinks(Campaign campaign)
    {
        ArgumentNullException.ThrowIfNull(campaign);
        var problems = new List<Problem>();
        var source = ReadTemplate(campaign.HtmlPath, DisplayPath.For(campaign.HtmlPath), problems);
        return source is null ? [] : [.. LinkRewriter.Rewrite(source, campaign.Tracking.Clicks, trackOpens: false).Links.Select(LinkLabels.Define)];
    }

    private static string? ReadTemplate(string path, string display, List<Problem> problems)
    {
        try
        {
            var source = File.ReadAllText(path, new UTF8Encoding(false, true));
            if (source.Length > 0 && source[0] == '\uFEFF')
            {
                source = source[1..];
            }

            if (source.Length > RenderLimits.MaxTemplateChars)
            {
                problems.Add(new Problem(display, 0, 0, $"the template is larger than {RenderLimits.MaxTemplateChars >> 20} MB"));
                return null;
            }

            if (string.IsNullOrWhiteSpace(source))
            {
                problems.Add(new Problem(display, 0, 0, "the template is empty"));
                return null;
            }

            // One line-ending convention: the MIME writer turns LF into CRLF.
            return source.Contains('\r') ? source.Replace("\r\n", "\n", StringComparison.Ordinal) : source;
        }
        catch (DecoderFallbackException)
        {
            problems.Add(new Problem(display, 0, 0, "is not valid UTF-8 text"));
        }
        catch (IOException ex)
        {
            problems.Add(new Problem(display, 0, 0, $"cannot be read: {ex.Message}"));
        }

        return null;
    }

    /// <summary>Parses one template and checks its variables; <paramref name="label"/> names an inline template of the campaign file.</summary>
    private static IFluidTemplate? Check(string source, string file, string? label, HashSet<string> known, List<Problem> problems, SourcePosition? inline)
    {
        var prefix = label is null ? string.Empty : $"{label}: ";
        if (TemplateNesting.Check(source) is { } deep)
        {
            var (deepLine, deepColumn) = TemplateSource.Position(source, deep.Offset);
            problems.Add(At(file, inline, deepLine, deepColumn, $"{prefix}{deep.Message}"));
            return null;
        }

        if (!Parser.TryParse(source, out var template, out var error))
        {
            var (line, column, message) = ParseError(error);
            problems.Add(At(file, inline, line, column, $"{prefix}template syntax error: {message}"));
            return null;
        }

        foreach (var name in TemplateVariables.FreeVariables(template))
        {
            if (known.Contains(name))
            {
                continue;
            }

            var (line, column) = TemplateVariables.Locate(source, name);
            var message = $"unknown variable '{name}' (not a recipient column, data set or built-in)";
            problems.Add(At(file, inline, line, column, $"{prefix}{message}"));
        }

        return template;
    }

    /// <summary>A problem at line:col of a template; for an inline template, offset by where it starts in the campaign file.</summary>
    private static Problem At(string file, SourcePosition? inline, int line, int column, string message)
    {
        if (inline is not { } start)
        {
            return new Problem(file, line, column, message);
        }

        return line <= 1
            ? new Problem(file, start.Line, start.Column + Math.Max(0, column - 1), message)
            : new Problem(file, start.Line + line - 1, column, message);
    }

    private static SourcePosition? PositionOf(Campaign campaign, string key) =>
        campaign.Positions.TryGetValue(key, out var position) ? position : new SourcePosition(0, 0);

    private static IFluidTemplate ParseGenerated(string source, string file, string what)
    {
        if (Parser.TryParse(source, out var template, out var error))
        {
            return template;
        }

        var (line, column, message) = ParseError(error);
        throw new CampaignException(new Problem(file, 0, 0, $"cannot apply {what} (generated line {line}:{column}: {message}); check the href attributes"));
    }

    private static (int Line, int Column, string Message) ParseError(string error)
    {
        var firstLine = error.Split('\n')[0].Trim();
        var match = PositionPattern().Match(firstLine);
        if (!match.Success)
        {
            return (0, 0, firstLine);
        }

        var message = firstLine.Remove(match.Index, match.Length).Trim().TrimEnd(',', ':').Trim();
        return (int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture),
            int.Parse(match.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture), message);
    }

    [GeneratedRegex(@"\s*at \((\d+):(\d+)\)")]
    private static partial Regex PositionPattern();
}
