using System.Net;
using System.Reflection;

namespace Herald.Tracking;

/// <summary>
/// The dashboard's HTML shells and its two assets (script and style sheet, embedded in this assembly). Nothing inline
/// and nothing from another origin, so the Content-Security-Policy can forbid both.
/// </summary>
internal static class DashboardPage
{
    private static readonly Dictionary<string, (string Content, string ContentType)> Assets = new(StringComparer.Ordinal)
    {
        ["dashboard.js"] = (Load("dashboard.js"), "text/javascript; charset=utf-8"),
        ["dashboard.css"] = (Load("dashboard.css"), "text/css; charset=utf-8"),
        ["favicon.svg"] = (Load("favicon.svg"), "image/svg+xml"),
    };

    private const string Head = """
        <meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <link rel="stylesheet" href="/assets/dashboard.css"><link rel="icon" href="/assets/favicon.svg" type="image/svg+xml">
        """;

    private const string Brand = """<span class="mark">H</span>Herald""";

    public static (string Content, string ContentType)? Asset(string name) => Assets.TryGetValue(name, out var asset) ? asset : null;

    public static string Login(string? problem) => $$"""
        <!doctype html>
        <html lang="en"><head>{{Head}}<title>Herald · log in</title></head>
        <body><div class="login-wrap"><div class="login">
          <div class="brand">{{Brand}}</div>
          <div class="card">
            <h2>Campaign analytics</h2>
            <p class="hint">Enter the dashboard token of this server.</p>
            {{(problem is null ? string.Empty : $"<div class=\"problem\" id=\"login-error\" role=\"alert\">{WebUtility.HtmlEncode(problem)}</div>")}}
            <form method="post" action="/login">
              <label for="token">Dashboard token</label>
              <input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
              <button id="login" class="btn primary" type="submit">Log in</button>
            </form>
          </div>
        </div></div></body></html>
        """;

    public static readonly string App = $$"""
        <!doctype html>
        <html lang="en"><head>{{Head}}<title>Herald · campaigns</title></head>
        <body>
        <header class="top">
          <a class="brand" href="#/">{{Brand}}</a>
          <nav><a href="#/" class="active">Campaigns</a></nav>
          <span class="spacer"></span>
          <form method="post" action="/logout"><button class="btn small" id="logout">Log out</button></form>
        </header>
        <main id="view"></main>
        <script src="/assets/dashboard.js"></script>
        </body></html>
        """;

    private static string Load(string name)
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream($"Herald.Tracking.Dashboard.{name}")
            ?? throw new InvalidOperationException($"The dashboard asset {name} is not embedded.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
