using Herald.Campaigns;
using Herald.Store;

namespace Herald.Core.Tests.Campaigns;

public class BounceOptionsTests
{
    [Fact]
    public void The_bounces_section_sets_the_return_path_domain_and_the_policy()
    {
        using var files = new TestFiles();
        var path = files.Campaign(extra: "bounces: { domain: Bounces.Shop.Example.COM, hard_bounces: record, soft_bounces: 5, soft_window: 14d, complaints: suppress }");

        var bounces = CampaignLoader.Load(path).Bounces;

        Assert.Equal("bounces.shop.example.com", bounces.Domain);
        Assert.Equal(new BouncePolicySettings(false, 5, TimeSpan.FromDays(14), true), bounces.Policy);
    }

    [Fact]
    public void The_rate_guards_default_to_5_percent_of_1000_attempts_and_0_3_percent_complaints_and_can_be_set_or_turned_off()
    {
        using var files = new TestFiles();
        var defaults = CampaignLoader.Load(files.Campaign()).Bounces;
        Assert.Equal((0.05, 1000, 0.003), (defaults.PauseAtHardBounceRate, defaults.HardBounceWindow, defaults.PauseAtComplaintRate));

        using var other = new TestFiles();
        var set = CampaignLoader.Load(other.Campaign(extra: "bounces: { pause_at_hard_bounce_rate: 2.5%, hard_bounce_window: 200, pause_at_complaint_rate: off }")).Bounces;
        Assert.Equal((0.025, 200, (double?)null), (set.PauseAtHardBounceRate, set.HardBounceWindow, set.PauseAtComplaintRate));
    }

    [Fact]
    public void Without_the_section_there_is_no_return_path_and_the_policy_is_left_to_the_store()
    {
        using var files = new TestFiles();

        var bounces = CampaignLoader.Load(files.Campaign()).Bounces;

        Assert.Null(bounces.Domain);
        Assert.Equal(BouncePolicySettings.None, bounces.Policy);
    }

    [Fact]
    public void An_unset_key_keeps_the_stores_value_which_keeps_the_default()
    {
        var store = new BouncePolicySettings(SoftLimit: 2);
        var campaign = new BouncePolicySettings(SoftWindow: TimeSpan.FromDays(1));

        var effective = campaign.ApplyTo(store.ApplyTo(BouncePolicy.Default));

        Assert.Equal(new BouncePolicy(true, 2, TimeSpan.FromDays(1), true), effective);
    }

    [Theory]
    [InlineData("bounces: { domain: \"not a domain\" }", "bounces.domain: 'not a domain' is not a domain name")]
    [InlineData("bounces: { domain: b@shop.example.com }", "bounces.domain: 'b@shop.example.com' is not a domain name")]
    [InlineData("bounces: { domain: localhost }", "bounces.domain: 'localhost' is not a domain name")]
    [InlineData("bounces: { hard_bounces: drop }", "bounces.hard_bounces: expected 'suppress' or 'record', got 'drop'")]
    [InlineData("bounces: { soft_bounces: -1 }", "bounces.soft_bounces: expected a whole number from 0 to 1000")]
    [InlineData("bounces: { soft_window: 7 }", "bounces.soft_window: '7' is not a duration")]
    [InlineData("bounces: { domian: x.example.com }", "unknown key 'domian'; did you mean 'domain'?")]
    [InlineData("bounces: bounces.shop.example.com", "bounces: expected a mapping of keys")]
    [InlineData("bounces: { pause_at_hard_bounce_rate: 0.05 }", "bounces.pause_at_hard_bounce_rate: expected a percentage such as 5% or 0.3%, or off; got '0.05'")]
    [InlineData("bounces: { pause_at_complaint_rate: 120% }", "bounces.pause_at_complaint_rate: expected a percentage")]
    [InlineData("bounces: { hard_bounce_window: 5 }", "bounces.hard_bounce_window: expected a whole number from 10 to 1000000")]
    public void A_bad_bounces_section_is_an_error_at_its_line(string yaml, string message)
    {
        using var files = new TestFiles();
        var path = files.Campaign(extra: yaml);

        var ex = Assert.Throws<CampaignException>(() => CampaignLoader.Load(path));

        var problem = Assert.Single(ex.Problems);
        Assert.Contains(message, problem.Message, StringComparison.Ordinal);
        Assert.Equal(10, problem.Line);
    }
}
