using Herald.Campaigns;
using Herald.Rendering;

namespace Herald.Core.Tests.Rendering;

public class RenderLimitsTests
{
    private static CompiledCampaign Compile(TestFiles files, string html, string extra = "") =>
        CampaignTemplates.Compile(CampaignLoader.Load(files.Campaign(html: html, extra: extra)), ["email", "first_name"], TestFiles.Signer);

    private static RecipientRejectedException Reject(CompiledCampaign compiled) =>
        Assert.Throws<RecipientRejectedException>(() => compiled.Create(TestFiles.Item(compiled, "r7", "ann@example.com", ("first_name", "Ann"))));

    [Fact]
    public void A_loop_past_the_step_limit_rejects_the_recipient_naming_the_template()
    {
        using var files = new TestFiles();
        var compiled = Compile(files, "<p>{% for i in (1..100000000) %}x{% endfor %}</p>");
        var error = Reject(compiled);
        Assert.Equal("r7", error.RecipientId);
        Assert.StartsWith("limit: ", error.Reason, StringComparison.Ordinal);
        Assert.Contains("body.html", error.Reason, StringComparison.Ordinal);
        Assert.Contains("limits.render_steps", error.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Output_past_the_message_size_rejects_the_recipient()
    {
        using var files = new TestFiles();
        var compiled = Compile(files, "<p>{% for i in (1..2000) %}" + new string('x', 1000) + "{% endfor %}</p>", "limits: { message_size: 1MB }");
        var error = Reject(compiled);
        Assert.Contains("body.html", error.Reason, StringComparison.Ordinal);
        Assert.Contains("message size limit (1 MB", error.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void A_string_doubled_by_a_filter_is_stopped_before_it_grows_past_the_size_limit()
    {
        using var files = new TestFiles();
        // 40 doublings of 10 characters would be 10 TB after only 40 steps.
        var compiled = Compile(files, "{% assign s = 'xxxxxxxxxx' %}{% for i in (1..40) %}{% assign s = s | append: s %}{% endfor %}<p>{{ s | size }}</p>");
        var error = Reject(compiled);
        Assert.Contains("a filter made a string longer than the message size limit", error.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void A_template_within_the_limits_renders()
    {
        using var files = new TestFiles();
        var compiled = Compile(files, "<p>{% for i in (1..50) %}{% if i > 2 %}{{ first_name }}{% endif %}{% endfor %}</p>");
        using var message = compiled.Create(TestFiles.Item(compiled, "r1", "ann@example.com", ("first_name", "Ann")));
        Assert.Contains("AnnAnn", message.HtmlBody, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(3000)]
    [InlineData(51)]
    public void Deep_nesting_is_a_compile_error_at_its_line_never_a_stack_overflow(int depth)
    {
        using var files = new TestFiles();
        var html = "<p>\n" + string.Concat(Enumerable.Repeat("{% if true %}", depth)) + "x" + string.Concat(Enumerable.Repeat("{% endif %}", depth)) + "</p>";
        var error = Assert.Throws<CampaignException>(() => Compile(files, html));
        var problem = Assert.Single(error.Problems);
        Assert.EndsWith("body.html", problem.File, StringComparison.Ordinal);
        Assert.Equal(2, problem.Line);
        Assert.Contains("nested more than 50 deep", problem.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Nesting_at_the_limit_compiles()
    {
        using var files = new TestFiles();
        var html = string.Concat(Enumerable.Repeat("{% if true %}", 50)) + "x" + string.Concat(Enumerable.Repeat("{% endif %}", 50));
        Assert.Equal(0, Compile(files, html).Links);
    }

    [Fact]
    public void Deep_parentheses_are_a_compile_error()
    {
        using var files = new TestFiles();
        var error = Assert.Throws<CampaignException>(() => Compile(files, "<p>{{ " + new string('(', 100_000) + "1" + " }}</p>"));
        Assert.Contains("nested parentheses", Assert.Single(error.Problems).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Limits_are_configurable_and_checked()
    {
        using var files = new TestFiles();
        var campaign = CampaignLoader.Load(files.Campaign(extra: "limits: { message_size: 512KB, render_steps: 5000 }"));
        Assert.Equal(512 * 1024, campaign.Limits.MaxMessageSize);
        Assert.Equal(5000, campaign.Limits.MaxSteps);
        Assert.Equal(RenderLimits.DefaultMaxMessageSize, CampaignLoader.Load(files.Campaign()).Limits.MaxMessageSize);

        var error = Assert.Throws<CampaignException>(() => CampaignLoader.Load(files.Campaign(extra: "limits: { message_size: lots, render_step: 5 }")));
        Assert.Contains(error.Problems, p => p.Message.Contains("limits.message_size", StringComparison.Ordinal));
        Assert.Contains(error.Problems, p => p.Message.Contains("render_steps", StringComparison.Ordinal));
    }
}
