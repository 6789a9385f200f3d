using Herald.Rendering;
using Herald.Store;

namespace Herald.Core.Tests.Rendering;

public sealed class LinkLabelsTests
{
    [Fact]
    public void Links_are_named_by_attribute_text_image_alt_or_url_and_personalized_ones_have_no_static_target()
    {
        const string html = """
            <html><body>
            <a href="https://shop.example.com/sale" data-herald-label="Hero banner"><img src="x.png" alt="Spring sale"></a>
            <a href="https://shop.example.com/new">  See   what's &amp; new  </a>
            <a href="https://shop.example.com/logo"><img src="logo.png" alt="Shop logo"></a>
            {% for p in products %}<a href="https://shop.example.com/{{ p.category }}/{{ p.slug }}">{{ p.name }} – now {{ p.price }}</a>{% endfor %}
            <a href="https://shop.example.com/bare"></a>
            <a href="{{ unsubscribe_url }}">Unsubscribe</a>
            </body></html>
            """;

        var links = LinkRewriter.Rewrite(html, trackClicks: true, trackOpens: true).Links.Select(LinkLabels.Define).ToList();

        Assert.Equal(
        [
            new LinkDefinition(1, "Hero banner", "https://shop.example.com/sale"),
            new LinkDefinition(2, "See what's & new", "https://shop.example.com/new"),
            new LinkDefinition(3, "Shop logo", "https://shop.example.com/logo"),
            new LinkDefinition(4, "{{ p.name }} – now {{ p.price }}", null),
            new LinkDefinition(5, "https://shop.example.com/bare", "https://shop.example.com/bare"),
        ], links);
        Assert.True(links[3].Personalized);
    }

    [Fact]
    public void Long_labels_are_cut()
    {
        var label = LinkLabels.FromText(new string('x', 500));

        Assert.Equal(LinkLabels.MaxLength, label.Length);
        Assert.EndsWith("…", label, StringComparison.Ordinal);
    }
}
