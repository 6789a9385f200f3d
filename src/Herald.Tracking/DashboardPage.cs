namespace Herald.Tracking;

/// <summary>
/// The dashboard's HTML: self-contained (no CDN, no external script), charts drawn as inline SVG by a small script
/// that reads the JSON API. Every value from the API is inserted as text, never as HTML.
/// </summary>
internal static class DashboardPage
{
    private const string Style = """
        <style>
        body{font-family:system-ui,sans-serif;margin:0;color:#1d2330;background:#f5f6f8}
        header{background:#1d2330;color:#fff;padding:.8rem 1.5rem;display:flex;justify-content:space-between;align-items:center}
        header form{margin:0} main{padding:1rem 1.5rem;display:grid;grid-template-columns:16rem 1fr;gap:1.5rem}
        .card{background:#fff;border-radius:8px;padding:1rem;box-shadow:0 1px 3px rgba(0,0,0,.08);margin-bottom:1rem}
        #campaigns a{display:block;padding:.4rem .5rem;border-radius:4px;color:#1d2330;text-decoration:none}
        #campaigns a.active,#campaigns a:hover{background:#e4e9f2}
        table{border-collapse:collapse;width:100%} td,th{padding:.3rem .5rem;text-align:right;border-bottom:1px solid #eee}
        td:first-child,th:first-child{text-align:left;word-break:break-all} .muted{color:#6b7385}
        .kpis{display:flex;gap:1rem;flex-wrap:wrap} .kpi{min-width:8rem} .kpi b{display:block;font-size:1.6rem}
        svg text{font-size:11px;fill:#1d2330}
        </style>
        """;

    public static string Login(bool error) => $$"""
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><title>Herald dashboard: log in</title>{{Style}}</head>
        <body><header><strong>Herald</strong></header>
        <main style="display:block;max-width:24rem;margin:3rem auto">
        <div class="card">
          <h2>Log in</h2>
          {{(error ? "<p id=\"login-error\" style=\"color:#b00020\">Wrong token.</p>" : "")}}
          <form method="post" action="/login">
            <label for="token">Dashboard token</label><br>
            <input id="token" name="token" type="password" autocomplete="current-password" required style="width:100%;margin:.5rem 0">
            <button id="login" type="submit">Log in</button>
          </form>
        </div></main></body></html>
        """;

    public static readonly string Html = $$"""
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><title>Herald dashboard</title>{{Style}}</head>
        <body>
        <header><strong>Herald</strong><form method="post" action="/logout"><button>Log out</button></form></header>
        <main>
          <nav class="card"><h3>Campaigns</h3><div id="campaigns"><span class="muted">Loading…</span></div></nav>
          <section id="detail">
            <div class="card"><h2 id="title" class="muted">Pick a campaign</h2>
              <div class="kpis" id="kpis"></div></div>
            <div class="card"><h3>Delivery funnel</h3><svg id="funnel" width="100%" height="190" viewBox="0 0 640 190" role="img" aria-label="Delivery funnel"></svg></div>
            <div class="card"><h3>Opens and clicks over time</h3><svg id="timeline" width="100%" height="220" viewBox="0 0 640 220" role="img" aria-label="Opens and clicks over time"></svg>
              <div class="muted">solid: all events · dashed: human only · <span style="color:#2f6fde">opens</span> · <span style="color:#e3722b">clicks</span></div></div>
            <div class="card"><h3>Top links</h3><table id="links"><thead><tr><th>URL</th><th>Clicks</th><th>Unique</th><th>Human</th></tr></thead><tbody></tbody></table></div>
          </section>
        </main>
        <script>
        "use strict";
        const NS = "http://www.w3.org/2000/svg";
        const el = (tag, attrs, text) => { const e = tag.startsWith("svg:") ? document.createElementNS(NS, tag.slice(4)) : document.createElement(tag);
          for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v); if (text !== undefined) e.textContent = String(text); return e; };
        const fmt = n => Number(n).toLocaleString("en-US");
        const pct = r => r === null || r === undefined ? "–" : (r * 100).toFixed(1) + "%";
        async function api(path) { const r = await fetch(path, { credentials: "same-origin" }); if (r.status === 401) { location.reload(); throw new Error("logged out"); } if (!r.ok) throw new Error(path + ": " + r.status); return r.json(); }
        async function loadCampaigns() {
          const list = await api("/api/campaigns"); const box = document.getElementById("campaigns"); box.replaceChildren();
          if (list.length === 0) box.append(el("span", { class: "muted" }, "No campaign in this store yet."));
          for (const c of list) { const a = el("a", { href: "#" + encodeURIComponent(c.id), "data-campaign": c.id }, c.id);
            a.append(el("div", { class: "muted" }, fmt(c.sent) + " sent · " + fmt(c.clicks) + " clicks"));
            a.addEventListener("click", ev => { ev.preventDefault(); show(c.id); }); box.append(a); }
          const wanted = decodeURIComponent(location.hash.slice(1)); if (wanted) show(wanted); else if (list.length === 1) show(list[0].id);
        }
        function kpi(label, value, id) { const d = el("div", { class: "kpi" }); d.append(el("b", { id }, value)); d.append(el("span", { class: "muted" }, label)); return d; }
        function drawFunnel(r) {
          const svg = document.getElementById("funnel"); svg.replaceChildren();
          const steps = [["Recipients", r.delivery.total], ["Sent", r.delivery.sent], ["Opened (human)", r.human.unique_opens], ["Clicked (human)", r.human.unique_clicks], ["Unsubscribed", r.raw.unsubscribes]];
          const max = Math.max(1, ...steps.map(s => s[1]));
          steps.forEach(([label, value], i) => { const y = 8 + i * 36, w = Math.max(2, 440 * value / max);
            svg.append(el("svg:text", { x: 0, y: y + 17 }, label));
            svg.append(el("svg:rect", { x: 130, y, width: w, height: 24, rx: 3, fill: ["#1d2330", "#3a7d44", "#2f6fde", "#e3722b", "#b00020"][i], "data-step": label, "data-value": value }));
            svg.append(el("svg:text", { x: 136 + w, y: y + 17, "data-value-label": label }, fmt(value))); });
        }
        function drawTimeline(r) {
          const svg = document.getElementById("timeline"); svg.replaceChildren(); const pts = r.timeline;
          if (pts.length === 0) { svg.append(el("svg:text", { x: 10, y: 30 }, "No opens or clicks yet.")); return; }
          const left = 44, width = 580, top = 10, height = 180;
          const max = Math.max(1, ...pts.map(p => Math.max(p.opens, p.clicks)));
          const x = i => left + (pts.length === 1 ? width / 2 : i * width / (pts.length - 1)); const y = v => top + height - v * height / max;
          svg.append(el("svg:line", { x1: left, y1: top + height, x2: left + width, y2: top + height, stroke: "#999" }));
          svg.append(el("svg:text", { x: 0, y: top + 10 }, fmt(max))); svg.append(el("svg:text", { x: 0, y: top + height }, "0"));
          svg.append(el("svg:text", { x: left, y: top + height + 18 }, pts[0].start.replace("T", " ").slice(0, 16)));
          svg.append(el("svg:text", { x: left + width - 110, y: top + height + 18 }, pts[pts.length - 1].start.replace("T", " ").slice(0, 16)));
          for (const [key, color, dash] of [["opens", "#2f6fde", ""], ["human_opens", "#2f6fde", "5,4"], ["clicks", "#e3722b", ""], ["human_clicks", "#e3722b", "5,4"]]) {
            svg.append(el("svg:polyline", { fill: "none", stroke: color, "stroke-width": 2, "stroke-dasharray": dash, "data-series": key,
              "data-total": pts.reduce((s, p) => s + p[key], 0), points: pts.map((p, i) => x(i) + "," + y(p[key])).join(" ") }));
            pts.forEach((p, i) => { const c = el("svg:circle", { cx: x(i), cy: y(p[key]), r: dash ? 2 : 3, fill: color }); c.append(el("svg:title", {}, p.start + " " + key + ": " + p[key])); svg.append(c); });
          }
        }
        function drawLinks(r) {
          const body = document.querySelector("#links tbody"); body.replaceChildren();
          const links = [...r.links].sort((a, b) => b.clicks - a.clicks).slice(0, 10);
          for (const l of links) { const tr = el("tr"); tr.append(el("td", {}, l.url || ("link " + l.link_number)), el("td", {}, fmt(l.clicks)), el("td", {}, fmt(l.unique_clicks)), el("td", {}, fmt(l.human_clicks))); body.append(tr); }
          if (links.length === 0) { const tr = el("tr"); tr.append(el("td", { colspan: 4, class: "muted" }, "No clicks yet.")); body.append(tr); }
        }
        async function show(id) {
          for (const a of document.querySelectorAll("#campaigns a")) a.classList.toggle("active", a.dataset.campaign === id);
          const r = await api("/api/campaigns/" + encodeURIComponent(id)); history.replaceState(null, "", "#" + encodeURIComponent(id));
          const title = document.getElementById("title"); title.textContent = r.campaign; title.className = "";
          document.getElementById("kpis").replaceChildren(
            kpi("sent of " + fmt(r.delivery.total), fmt(r.delivery.sent), "kpi-sent"),
            kpi("failed · " + fmt(r.delivery.in_doubt) + " in doubt", fmt(r.delivery.failed), "kpi-failed"),
            kpi("unique opens (raw " + fmt(r.raw.unique_opens) + ")", fmt(r.human.unique_opens), "kpi-opens"),
            kpi("unique clicks (raw " + fmt(r.raw.unique_clicks) + ")", fmt(r.human.unique_clicks), "kpi-clicks"),
            kpi("click-through (human)", pct(r.human_rates.click_through_rate), "kpi-ctr"),
            kpi("unsubscribes", fmt(r.raw.unsubscribes), "unsubscribes"));
          drawFunnel(r); drawTimeline(r); drawLinks(r);
          document.getElementById("detail").dataset.loaded = r.campaign;
        }
        loadCampaigns().catch(e => { document.getElementById("campaigns").textContent = "Cannot load: " + e.message; });
        </script>
        </body></html>
        """;
}
