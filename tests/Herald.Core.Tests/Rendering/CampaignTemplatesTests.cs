using Herald.Campaigns;
using Herald.Rendering;

namespace Herald.Core.Tests.Rendering;

public class CampaignTemplatesTests
{
    [Fact]
    public void Compile_reports_unknown_variables_with_file_line_and_column()
    {
        using var files = new TestFiles();
        var path = files.Campaign(html: "<html>\n<body>\n  <p>{{ frist_name }}</p>{% for p in products %}{{ p.name }}{% endfor %}\n{{ campaign.id }} {{ first_name }}</body></html>", subject: "Hi {{ nmae }}");
        var ex = Assert.Throws<CampaignException>(() => CampaignTemplates.Compile(CampaignLoader.Load(path), ["email", "first_name"], TestFiles.Signer));
        var html = Assert.Single(ex.Problems, p => p.Message.Contains("'frist_name'", StringComparison.Ordinal));
        Assert.EndsWith("body.html", html.File, StringComparison.Ordinal);
        Assert.Equal((3, 9), (html.Line, html.Column));
        Assert.Contains(ex.Problems, p => p.Message.Contains("'products'", StringComparison.Ordinal) && p.Line == 3);
        Assert.DoesNotContain(ex.Problems, p => p.Message.Contains("'p'", StringComparison.Ordinal));
        var subject = Assert.Single(ex.Problems, p => p.Message.Contains("'nmae'", StringComparison.Ordinal));
        Assert.EndsWith("campaign.yml", subject.File, StringComparison.Ordinal);
        Assert.Equal(3, subject.Line);
        Assert.Equal(17, subject.Column);
        Assert.StartsWith("subject: unknown variable 'nmae'", subject.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Compile_accepts_data_sets_builtins_and_locals()
    {
        using var files = new TestFiles();
        files.Write("products.csv", "recipient_id,name\n1,x\n");
        var path = files.Campaign(
            html: "{% assign x = first_name %}{% capture y %}{{ x }}{% endcapture %}{{ y }}{% for p in products %}{{ forloop.index }}{{ p.name }}{% endfor %}{{ email }}{{ recipient_id }}{{ unsubscribe_url }}{{ postal_address }}{{ campaign.id }}",
            extra: "data:\n  products: { file: products.csv, key: recipient_id, many: true }");
        var compiled = CampaignTemplates.Compile(CampaignLoader.Load(path), ["email", "first_name"], TestFiles.Signer);
        Assert.NotNull(compiled);
    }

    [Fact]
    public void Compile_reports_template_syntax_errors_with_location()
    {
        using var files = new TestFiles();
        var path = files.Campaign(html: "<p>ok</p>\n<p>{% if first_name %}unclosed</p>\n");
        var ex = Assert.Throws<CampaignException>(() => CampaignTemplates.Compile(CampaignLoader.Load(path), ["email", "first_name"], TestFiles.Signer));
        var problem = Assert.Single(ex.Problems);
        Assert.EndsWith("body.html", problem.File, StringComparison.Ordinal);
        Assert.StartsWith("template syntax error", problem.Message, StringComparison.Ordinal);
        Assert.True(problem.Line >= 2, problem.ToString());
    }

    [Fact]
    public void Compile_reports_an_unclosed_output_tag()
    {
        using var files = new TestFiles();
        var path = files.Campaign(html: "<p>{{ first_name </p>");
        var ex = Assert.Throws<CampaignException>(() => CampaignTemplates.Compile(CampaignLoader.Load(path), ["email", "first_name"], TestFiles.Signer));
        Assert.Contains("template syntax error", Assert.Single(ex.Problems).ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Compile_rejects_empty_and_non_utf8_templates()
    {
        using var files = new TestFiles();
        var path = files.Campaign(html: "  \n");
        var ex = Assert.Throws<CampaignException>(() => CampaignTemplates.Compile(CampaignLoader.Load(path), ["email"], TestFiles.Signer));
        Assert.Contains("the template is empty", ex.Message, StringComparison.Ordinal);
        files.WriteBytes("body.html", [0x3C, 0x70, 0x3E, 0xE9, 0x3C]);
        ex = Assert.Throws<CampaignException>(() => CampaignTemplates.Compile(CampaignLoader.Load(path), ["email"], TestFiles.Signer));
        Assert.Contains("is not valid UTF-8", ex.Message, StringComparison.Ordinal);
    }
}
