// Herald dashboard: a small single-page app over the JSON API. No external code; charts are SVG built here.
// Every value from the API is inserted as text (textContent / attributes), never as HTML.
"use strict";

const NS = "http://www.w3.org/2000/svg";
const $ = sel => document.querySelector(sel);

function el(tag, attrs, ...children) {
  const svg = tag.startsWith("svg:");
  const e = svg ? document.createElementNS(NS, tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.setAttribute("class", v);
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

const fmt = n => n === null || n === undefined ? "–" : Number(n).toLocaleString("en-US");
const pct = r => r === null || r === undefined ? "–" : (r * 100).toFixed(r > 0 && r < 0.001 ? 2 : 1) + "%";
const compact = n => n >= 1e6 ? (n / 1e6).toFixed(n >= 1e7 ? 0 : 1) + "M" : n >= 1e4 ? (n / 1e3).toFixed(0) + "k" : n >= 1e3 ? (n / 1e3).toFixed(1) + "k" : String(Math.round(n));
function dur(s) {
  if (s === null || s === undefined) return "–";
  if (s < 60) return Math.round(s) + " s";
  if (s < 3600) return Math.round(s / 60) + " min";
  if (s < 86400) return (s / 3600).toFixed(s < 36000 ? 1 : 0) + " h";
  return (s / 86400).toFixed(1) + " days";
}
function when(iso) {
  if (!iso) return "–";
  const d = new Date(iso);
  return d.toLocaleString("en-GB", { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", timeZone: "UTC" }) + " UTC";
}
function ago(iso) {
  if (!iso) return "–";
  const s = (Date.now() - new Date(iso).getTime()) / 1000;
  if (s < 90) return "just now";
  if (s < 5400) return Math.round(s / 60) + " min ago";
  if (s < 129600) return Math.round(s / 3600) + " h ago";
  return Math.round(s / 86400) + " days ago";
}
function metric(name, value, text) { return el("span", { "data-metric": name, "data-value": value === null || value === undefined ? "" : value }, text); }

async function api(path) {
  const r = await fetch(path, { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (r.status === 401) { location.reload(); throw new Error("logged out"); }
  if (!r.ok) {
    let detail = r.status + " " + r.statusText;
    try { const p = await r.json(); detail = p.title + (p.detail ? ": " + p.detail : ""); } catch { /* not JSON */ }
    const error = new Error(detail);
    error.status = r.status;
    throw error;
  }
  return r.json();
}

// ---------- routing ----------
let live = null;
function route() {
  if (live) { live.close(); live = null; }
  const hash = decodeURIComponent(location.hash.slice(1));
  const m = hash.match(/^\/c\/([^?]+)(?:\?(.*))?$/);
  for (const a of document.querySelectorAll(".top nav a")) a.classList.toggle("active", !m);
  if (m) showCampaign(m[1], new URLSearchParams(m[2] || ""));
  else showOverview();
}
function go(hash) { if (location.hash === hash) route(); else location.hash = hash; }
const view = () => $("#view");

// ---------- overview ----------
const columns = [
  { key: "id", label: "Campaign", get: c => c.id, text: true },
  { key: "status", label: "Status", get: c => c.status, text: true },
  { key: "recipients", label: "Recipients", get: c => c.recipients },
  { key: "sent", label: "Sent", get: c => c.sent },
  { key: "delivery_rate", label: "Delivered", get: c => rate(c, "delivery_rate") },
  { key: "open_rate", label: "Open rate", get: c => rate(c, "open_rate") },
  { key: "click_through_rate", label: "Click rate", get: c => rate(c, "click_through_rate") },
  { key: "click_to_open_rate", label: "Click-to-open", get: c => rate(c, "click_to_open_rate") },
  { key: "unsubscribe_rate", label: "Unsubscribed", get: c => rate(c, "unsubscribe_rate") },
  { key: "last_event_at", label: "Last activity", get: c => c.last_event_at || c.planned_at || "", text: true },
];
const rate = (c, name) => c.human_rates ? c.human_rates[name] : null;
let sort = { key: "last_event_at", dir: -1 };
let overviewTimer = null;

async function showOverview(refresh) {
  clearTimeout(overviewTimer);
  let card = refresh ? document.querySelector("#overview-card") : null;
  if (!card) {
    const box = view();
    box.replaceChildren(el("div", { class: "page-head" }, el("div", {}, el("h1", {}, "Campaigns"), el("div", { class: "sub", id: "overview-sub" }, "Loading…"))));
    card = el("div", { class: "card", id: "overview-card" }, el("div", { class: "empty" }, "Loading campaigns…"));
    box.append(card);
  }
  try {
    const list = await api("/api/campaigns");
    if (location.hash.startsWith("#/c/")) return;
    renderOverview(card, list);
    // Rates of large campaigns are computed in the background: refresh soon while some are missing or a send runs,
    // else now and then (clicks keep arriving after a send), in place, and not while the tab is hidden.
    const again = () => {
      if (location.hash.startsWith("#/c/")) return;
      if (document.visibilityState === "hidden") overviewTimer = setTimeout(again, 15000);
      else showOverview(true);
    };
    overviewTimer = setTimeout(again, list.some(c => !c.human_rates || c.status === "sending") ? 3000 : 15000);
  } catch (e) {
    card.replaceChildren(el("div", { class: "empty error" }, "Cannot load the campaigns: " + e.message));
  }
}

function renderOverview(card, list) {
  $("#overview-sub").textContent = list.length === 0 ? "No campaign in this store yet." : list.length + (list.length === 1 ? " campaign" : " campaigns") + " in this store · human engagement, bots excluded";
  if (list.length === 0) { card.replaceChildren(el("div", { class: "empty" }, "Send a campaign and its numbers appear here.")); return; }
  const col = columns.find(c => c.key === sort.key);
  const rows = [...list].sort((a, b) => {
    const x = col.get(a), y = col.get(b);
    if (x === null || x === undefined) return 1;
    if (y === null || y === undefined) return -1;
    return (col.text ? String(x).localeCompare(String(y)) : x - y) * sort.dir;
  });
  const head = el("tr", {}, columns.map(c => el("th", {
    class: "sortable" + (c.text ? "" : " num"), "data-sort": c.key,
    "aria-sort": sort.key === c.key ? (sort.dir > 0 ? "ascending" : "descending") : "none",
    onclick: () => { sort = { key: c.key, dir: sort.key === c.key ? -sort.dir : (c.text ? 1 : -1) }; renderOverview(card, list); },
  }, c.label)));
  const body = el("tbody", {}, rows.map(c => el("tr", { "data-campaign": c.id, onclick: () => go("#/c/" + encodeURIComponent(c.id)) },
    el("td", {}, el("a", { class: "cname", href: "#/c/" + encodeURIComponent(c.id) }, c.id), el("div", { class: "muted small" }, c.planned_at ? "planned " + when(c.planned_at) : "events only")),
    el("td", {}, statusPill(c.status, false)),
    el("td", { class: "num" }, fmt(c.recipients)),
    el("td", { class: "num" }, fmt(c.sent)),
    ["delivery_rate", "open_rate", "click_through_rate", "click_to_open_rate", "unsubscribe_rate"].map(name => el("td", { class: "num rate", "data-rate": name },
      c.human_rates ? pct(c.human_rates[name]) : el("span", { class: "muted" }, "…"),
      c.raw_rates && name !== "delivery_rate" && name !== "unsubscribe_rate" ? el("small", {}, "all " + pct(c.raw_rates[name])) : null)),
    el("td", { class: "num muted" }, ago(c.last_event_at || c.planned_at)))));
  card.replaceChildren(el("table", { class: "campaigns" }, el("thead", {}, head), body));
}

// ---------- campaign ----------
let current = null;

function rangeQuery(params) {
  const q = new URLSearchParams();
  if (params.get("from")) q.set("from", params.get("from"));
  if (params.get("to")) q.set("to", params.get("to"));
  const s = q.toString();
  return s ? "?" + s : "";
}

async function showCampaign(id, params) {
  clearTimeout(overviewTimer);
  const box = view();
  current = { id, params, report: null, progress: null };
  box.replaceChildren(el("div", { class: "crumbs" }, el("a", { href: "#/" }, "Campaigns"), " / ", id),
    el("div", { class: "card" }, el("div", { class: "empty" }, "Loading the report of " + id + "…")));
  try {
    const report = await api("/api/campaigns/" + encodeURIComponent(id) + rangeQuery(params));
    if (!current || current.id !== id) return;
    current.report = report;
    renderCampaign();
    if (!params.get("from") && !params.get("to")) startLive(id);
  } catch (e) {
    if (e.status === 503 && current && current.id === id) {
      // A large campaign's first report after the server starts: the server computes it; ask again shortly.
      box.lastChild.replaceChildren(el("div", { class: "empty" }, "The report of " + id + " is being computed…"));
      setTimeout(() => { if (current && current.id === id && !current.report) showCampaign(id, params); }, 3000);
      return;
    }
    box.lastChild.replaceChildren(el("div", { class: "empty error" }, "Cannot load the report: " + e.message));
  }
}

function startLive(id) {
  if (!window.EventSource) return;
  live = new EventSource("/api/campaigns/" + encodeURIComponent(id) + "/live");
  live.addEventListener("progress", ev => { if (current && current.id === id) { current.progress = JSON.parse(ev.data); renderProgress(); } });
  live.addEventListener("report", ev => {
    if (!current || current.id !== id) return;
    const report = JSON.parse(ev.data);
    if (current.report && report.generated_at === current.report.generated_at) return;
    current.report = report;
    renderCampaign();
  });
}

function renderCampaign() {
  const r = current.report, id = current.id, params = current.params;
  const y = window.scrollY;
  const d = r.delivery;
  const attempted = d.sent + d.failed + d.in_doubt;
  const sending = d.pending + d.sending > 0 && attempted > 0;
  const status = statusPill(d.total === 0 ? "tracking" : attempted === 0 ? "planned" : sending ? "sending" : "sent");
  const q = rangeQuery(params);
  const base = "/api/campaigns/" + encodeURIComponent(id);
  const box = view();
  box.replaceChildren(
    el("div", { class: "crumbs" }, el("a", { href: "#/" }, "Campaigns"), " / ", id),
    el("div", { class: "page-head" },
      el("div", {}, el("h1", {}, el("span", { id: "title" }, r.campaign), status),
        el("div", { class: "sub" }, d.first_sent_at ? "Sent " + when(d.first_sent_at) + (d.last_sent_at && !sending ? " – " + when(d.last_sent_at) : "") : "Not sent yet",
          r.range.from || r.range.to ? " · showing events " + (r.range.from ? "from " + when(r.range.from) : "") + (r.range.to ? " until " + when(r.range.to) : "") : "")),
      el("div", { class: "toolbar" }, rangeControls(r, params),
        el("div", { class: "downloads" },
          el("a", { class: "btn small", href: base + "/report.csv" + q, download: "", id: "download-csv" }, "Report CSV"),
          el("a", { class: "btn small", href: base + "/report.json" + q, download: "", id: "download-json" }, "JSON"),
          el("a", { class: "btn small", href: base + "/recipients.csv", download: "", id: "download-recipients" }, "Recipients")))),
    el("div", { id: "progress" }),
    kpis(r),
    el("div", { class: "grid two" }, timelineCard(r), funnelCard(r)),
    el("div", { class: "grid halves" }, firstCard("Time to first open", "After delivery, per recipient", r.time_to_first_open, "var(--open)", "first-open"),
      firstCard("Time to first click", "After delivery, per recipient", r.time_to_first_click, "var(--click)", "first-click")),
    linksCard(r),
    el("div", { class: "grid halves" }, botsCard(r), deliveryCard(r)),
    el("div", { class: "footer" }, "Report computed " + when(r.generated_at) + ". Human: events without a bot flag (HEAD requests, scanners, Apple Mail Privacy Protection, clicks on arrival or in bursts) from recipients below the bot threshold. Unique counts are recipients."));
  const detail = el("div", { id: "detail", "data-loaded": r.campaign, hidden: true });
  box.append(detail);
  renderProgress();
  window.scrollTo(0, y);
}

function statusPill(state, main = true) {
  const labels = { sending: "Sending", sent: "Sent", planned: "Planned", tracking: "Tracking only" };
  return el("span", { class: "pill " + (state === "sending" ? "live" : state === "sent" ? "sent" : ""), id: main ? "status" : null, "data-status": state }, labels[state] || state);
}

function rangeControls(r, params) {
  const presets = [["all", "All time"], ["first24", "First 24 h"], ["last24", "Last 24 h"], ["last7", "Last 7 days"]];
  const active = params.get("preset") || (params.get("from") || params.get("to") ? "custom" : "all");
  const start = r.delivery.first_sent_at;
  const pick = key => {
    const p = new URLSearchParams();
    if (key === "first24" && start) { p.set("from", start); p.set("to", new Date(new Date(start).getTime() + 86400000).toISOString()); }
    else if (key === "last24") p.set("from", "24h");
    else if (key === "last7") p.set("from", "7d");
    if (key !== "all") p.set("preset", key);
    go("#/c/" + encodeURIComponent(r.campaign) + (p.toString() ? "?" + p : ""));
  };
  const seg = el("div", { class: "seg", role: "group", "aria-label": "Date range" }, presets.map(([k, label]) => el("button", { type: "button", class: active === k ? "on" : "", "data-range": k, onclick: () => pick(k) }, label)));
  const local = iso => iso && !/^\d+[mhd]$/.test(iso) ? new Date(iso).toISOString().slice(0, 16) : "";
  const from = el("input", { type: "datetime-local", id: "range-from", value: local(params.get("from")), "aria-label": "From (UTC)" });
  const to = el("input", { type: "datetime-local", id: "range-to", value: local(params.get("to")), "aria-label": "To (UTC)" });
  const apply = el("button", { class: "btn small", type: "button", id: "range-apply", onclick: () => {
    const p = new URLSearchParams();
    if (from.value) p.set("from", from.value + ":00Z");
    if (to.value) p.set("to", to.value + ":00Z");
    go("#/c/" + encodeURIComponent(r.campaign) + (p.toString() ? "?" + p : ""));
  } }, "Apply");
  return [seg, el("span", { class: "range" }, from, el("span", { class: "muted" }, "→"), to, apply)];
}

function renderProgress() {
  const box = $("#progress");
  if (!box || !current) return;
  const p = current.progress, d = current.report ? current.report.delivery : null;
  const src = p || (d ? { total: d.total, pending: d.pending, sending: d.sending, sent: d.sent, failed: d.failed, in_doubt: d.in_doubt, skipped: d.skipped, active: d.pending + d.sending > 0, rate_per_second: null, eta_seconds: null } : null);
  // Shown once a send has begun, and kept (as "finished") for the rest of this visit once it was seen running.
  const started = src && src.sent + src.failed + src.in_doubt > 0;
  if (src && src.active && started) current.sawSending = true;
  if (!src || src.total === 0 || !started || (!src.active && !current.sawSending)) { box.replaceChildren(); return; }
  const pill = $("#status");
  if (pill && p) pill.replaceWith(statusPill(src.active ? "sending" : "sent"));
  const total = Math.max(1, src.total);
  const seg = (cls, n, title) => { const s = el("span", { class: cls, title: title + ": " + fmt(n) }); s.style.width = (100 * n / total) + "%"; return s; };
  const remaining = src.pending + src.sending;
  box.replaceChildren(el("div", { class: "card progress", "data-active": src.active ? "true" : "false" },
    el("div", { class: "row" },
      el("h2", {}, src.active ? "Sending now" : "Send finished"),
      el("span", { class: "muted small" }, src.active ? (src.rate_per_second ? fmt(Math.round(src.rate_per_second)) + " emails/s · ETA " + dur(src.eta_seconds) : "measuring the rate…") : fmt(src.sent) + " of " + fmt(src.total) + " sent")),
    el("div", { class: "track", role: "progressbar", "aria-valuemin": 0, "aria-valuemax": src.total, "aria-valuenow": src.sent + src.failed + src.in_doubt + src.skipped },
      seg("s-sent", src.sent, "Sent"), seg("s-failed", src.failed, "Failed"), seg("s-doubt", src.in_doubt, "In doubt"), seg("s-skipped", src.skipped, "Skipped")),
    el("div", { class: "stats" },
      stat("Sent", "progress.sent", src.sent, "var(--good)"), stat("Failed", "progress.failed", src.failed, "var(--bad)"),
      stat("In doubt", "progress.in_doubt", src.in_doubt, "var(--warn)"), stat("Remaining", "progress.remaining", remaining, "#cbd5e1"),
      el("div", { class: "stat" }, el("b", {}, metric("progress.rate", src.rate_per_second, src.rate_per_second === null ? "–" : fmt(Math.round(src.rate_per_second)) + "/s")), el("span", {}, "Rate")),
      el("div", { class: "stat" }, el("b", {}, metric("progress.eta", src.eta_seconds, src.active ? dur(src.eta_seconds) : "done")), el("span", {}, "ETA")))));
}
function stat(label, name, n, color) {
  const dot = el("i", { class: "dot" });
  dot.style.background = color;
  return el("div", { class: "stat" }, el("b", {}, metric(name, n, fmt(n))), el("span", {}, dot, label));
}

function rateOf(r, name) { return r.rates.find(x => x.name === name); }
function kpis(r) {
  const card = (cls, label, name, numeratorMetric, denominatorMetric) => {
    const x = rateOf(r, name);
    if (!x) return null;
    const bar = el("div", { class: "bar" });
    bar.style.width = Math.min(100, 100 * (x.human || 0)) + "%";
    return el("div", { class: "card kpi " + cls, "data-kpi": name },
      el("div", { class: "label" }, label),
      el("div", { class: "value" }, metric("human_rates." + name, x.human, pct(x.human))),
      el("div", { class: "of" }, metric(numeratorMetric, x.human_numerator, fmt(x.human_numerator)), " of ", metric(denominatorMetric, x.human_denominator, fmt(x.human_denominator)), " " + x.denominator.replace(/ \(.*\)$/, "")),
      name === "bounce_rate" ? el("div", { class: "raw" }, "Hard ", metric("delivery.bounces.hard", r.delivery.bounces.hard, fmt(r.delivery.bounces.hard)),
          " · soft ", metric("delivery.bounces.soft", r.delivery.bounces.soft, fmt(r.delivery.bounces.soft)))
      : name === "delivery_rate" || name === "unsubscribe_rate" || name === "complaint_rate" ? el("div", { class: "raw" }, x.numerator + " / " + x.denominator)
        : el("div", { class: "raw" }, "Incl. bots: ", metric("raw_rates." + name, x.raw, pct(x.raw)), " (", metric(numeratorMetric.replace("human.", "raw."), x.raw_numerator, fmt(x.raw_numerator)), ")"),
      bar);
  };
  return el("div", { class: "grid kpis" },
    card("delivered", "Delivered", "delivery_rate", "delivery.sent", "delivery.attempted"),
    card("opened", "Opened", "open_rate", "human.unique_opens", "delivery.sent"),
    card("clicked", "Clicked", "click_through_rate", "human.unique_clicks", "delivery.sent"),
    card("cto", "Click-to-open", "click_to_open_rate", "human.unique_clicks", "human.opened_or_clicked"),
    card("unsub", "Unsubscribed", "unsubscribe_rate", "raw.unsubscribes", "delivery.sent"),
    card("bounce", "Bounced", "bounce_rate", "delivery.bounces.bounced", "delivery.attempted"),
    card("bounce", "Complaints", "complaint_rate", "delivery.bounces.complaints", "delivery.sent"));
}

// Ticks at round times after the start of the timeline.
const tickMarks = [0, 900, 1800, 3600, 7200, 14400, 21600, 43200, 86400, 172800, 259200, 604800, 1209600, 2592000];
function tickLabel(s) {
  if (s === 0) return "send";
  if (s < 3600) return "+" + Math.round(s / 60) + "m";
  if (s < 86400) return "+" + +(s / 3600).toFixed(1) + "h";
  return "+" + +(s / 86400).toFixed(1) + "d";
}

function areaChart(points, key, humanKey, color, soft, label) {
  const W = 720, H = 150, L = 46, R = 8, T = 10, B = 24, n = points.length;
  const svg = el("svg:svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": label, "data-series": key,
    "data-total": points.reduce((s, p) => s + p[key], 0), "data-human-total": points.reduce((s, p) => s + p[humanKey], 0), "data-points": n });
  if (n === 0) { svg.append(el("svg:text", { x: L, y: 40 }, "No events yet.")); return svg; }
  const perHour = (p, k) => p.seconds > 0 ? p[k] * 3600 / p.seconds : 0;
  const max = Math.max(1, ...points.map(p => perHour(p, key)));
  const step = (W - L - R) / n;
  const x = i => L + i * step;
  const y = v => T + (H - T - B) * (1 - v / max);
  for (const f of [0, 0.5, 1]) {
    svg.append(el("svg:line", { class: "grid-line", x1: L, x2: W - R, y1: y(max * f), y2: y(max * f) }));
    svg.append(el("svg:text", { x: L - 6, y: y(max * f) + 4, "text-anchor": "end" }, compact(max * f) + "/h"));
  }
  const area = (k, fill, stroke, dash) => {
    let d = `M ${x(0)} ${y(0)}`;
    points.forEach((p, i) => { const v = y(perHour(p, k)); d += ` L ${x(i)} ${v} L ${x(i + 1)} ${v}`; });
    d += ` L ${x(n)} ${y(0)} Z`;
    svg.append(el("svg:path", { d, fill, stroke, "stroke-width": 1.5, "stroke-dasharray": dash || null, "stroke-linejoin": "round" }));
  };
  area(key, "none", color, "4 3");
  area(humanKey, soft, color);
  const start = new Date(points[0].start).getTime();
  let lastX = -100;
  let elapsed = 0;
  points.forEach((p, i) => {
    const t = (new Date(p.start).getTime() - start) / 1000;
    for (const m of tickMarks) {
      if (m >= t && m < t + p.seconds && x(i) - lastX > 56) {
        svg.append(el("svg:line", { class: "axis", x1: x(i), x2: x(i), y1: H - B, y2: H - B + 4 }));
        svg.append(el("svg:text", { x: x(i), y: H - 6, "text-anchor": i === 0 ? "start" : "middle" }, tickLabel(m)));
        lastX = x(i);
        break;
      }
    }
    elapsed = t + p.seconds;
    const hot = el("svg:rect", { class: "hot", x: x(i), y: T, width: Math.max(step, 1), height: H - T - B, fill: "transparent" });
    hot.append(el("svg:title", {}, `${when(p.start)} (${dur(p.seconds)}): ${fmt(p[humanKey])} human, ${fmt(p[key])} in all`));
    svg.append(hot);
  });
  svg.append(el("svg:line", { class: "axis", x1: L, x2: W - R, y1: H - B, y2: H - B }));
  if (x(n) - lastX > 70) svg.append(el("svg:text", { x: W - R, y: H - 6, "text-anchor": "end" }, tickLabel(Math.round(elapsed / 60) * 60 || elapsed)));
  svg.setAttribute("data-span-seconds", elapsed);
  return svg;
}

function timelineCard(r) {
  const pts = r.timeline;
  return el("div", { class: "card", id: "timeline" },
    el("h2", {}, "Engagement over time"),
    el("p", { class: "hint" }, "Per hour, in buckets of 1 minute for the first two hours after the send, then 10 minutes, hours and days. Hover for exact counts."),
    el("div", { class: "small muted" }, "Opens"), areaChart(pts, "opens", "human_opens", "var(--open)", "var(--open-soft)", "Opens over time"),
    el("div", { class: "small muted" }, "Clicks"), areaChart(pts, "clicks", "human_clicks", "var(--click)", "var(--click-soft)", "Clicks over time"),
    el("div", { class: "legend" }, el("span", {}, "Filled: human · dashed outline: every event, bots included"),
      el("span", {}, fmt(pts.reduce((s, p) => s + p.unsubscribes, 0)) + " unsubscribes in this period")));
}

function funnelCard(r) {
  const d = r.delivery, h = r.human;
  const steps = [
    ["Recipients", "delivery.total", d.total, "#475569"],
    ["Sent", "delivery.sent", d.sent, "var(--good)"],
    ["Opened", "human.unique_opens", h.unique_opens, "var(--open)"],
    ["Clicked", "human.unique_clicks", h.unique_clicks, "var(--click)"],
    ["Unsubscribed", "raw.unsubscribes", r.raw.unsubscribes, "var(--bad)"],
  ];
  const max = Math.max(1, ...steps.map(s => s[2]));
  return el("div", { class: "card", id: "funnel" },
    el("h2", {}, "Funnel"), el("p", { class: "hint" }, "Unique recipients, human engagement"),
    steps.map(([label, name, n, color], i) => {
      const fill = el("div", { class: "fill", "data-step": label, "data-value": n });
      fill.style.width = Math.max(n > 0 ? 1.5 : 0, 100 * n / max) + "%";
      fill.style.background = color;
      const prev = i > 1 ? steps[1][2] : 0;
      return el("div", { class: "funnel-row" }, el("div", {}, label), el("div", { class: "track" }, fill),
        el("div", { class: "n" }, metric(name, n, fmt(n)), i > 1 ? el("small", {}, prev > 0 ? pct(n / prev) + " of sent" : "–") : null));
    }));
}

function firstCard(title, hint, stats, color, id) {
  const h = stats.human, raw = stats.raw;
  const max = Math.max(1, ...h.histogram.map(b => b.recipients));
  const rows = h.histogram.filter((b, i) => b.recipients > 0 || i < 8);
  return el("div", { class: "card", id },
    el("h2", {}, title), el("p", { class: "hint" }, hint + " · human"),
    el("div", { class: "stats" },
      el("div", { class: "stat" }, el("b", {}, metric(id + ".median", h.median_seconds, dur(h.median_seconds))), el("span", {}, "Median")),
      el("div", { class: "stat" }, el("b", {}, dur(h.p25_seconds)), el("span", {}, "Fastest quarter")),
      el("div", { class: "stat" }, el("b", {}, dur(h.p90_seconds)), el("span", {}, "90% within")),
      el("div", { class: "stat" }, el("b", {}, metric(id + ".recipients", h.recipients, fmt(h.recipients))), el("span", {}, "Recipients")),
      el("div", { class: "stat" }, el("b", {}, dur(raw.median_seconds)), el("span", {}, "Median incl. bots"))),
    h.recipients === 0 ? el("div", { class: "empty" }, "None yet.") :
      el("div", { class: "hist" }, rows.map(b => {
        const fill = el("div", { class: "fill" });
        fill.style.width = (100 * b.recipients / max) + "%";
        fill.style.background = color;
        return el("div", { class: "funnel-row" }, el("div", { class: "small" }, b.label), el("div", { class: "track" }, fill), el("div", { class: "n small" }, fmt(b.recipients)));
      })));
}

function linksCard(r) {
  const links = r.links;
  const total = Math.max(1, links.reduce((s, l) => s + l.human_clicks, 0));
  const body = el("tbody");
  for (const l of links) {
    const share = el("span", { class: "share" }, el("i"));
    share.style.width = "80px";
    share.firstChild.style.width = (100 * l.human_clicks / total) + "%";
    const row = el("tr", { "data-link": l.link_number },
      el("td", { class: "num muted" }, l.link_number),
      el("td", {}, el("span", { class: "linklabel" }, l.label), l.personalized ? el("span", { class: "tag" }, "personalized") : null,
        l.url ? el("span", { class: "linkurl", title: l.url }, l.url) : null),
      el("td", { class: "num" }, metric("links." + l.link_number + ".clicks", l.clicks, fmt(l.clicks))),
      el("td", { class: "num" }, metric("links." + l.link_number + ".unique_clicks", l.unique_clicks, fmt(l.unique_clicks))),
      el("td", { class: "num" }, metric("links." + l.link_number + ".human_clicks", l.human_clicks, fmt(l.human_clicks))),
      el("td", { class: "num" }, metric("links." + l.link_number + ".human_unique_clicks", l.human_unique_clicks, fmt(l.human_unique_clicks))),
      el("td", {}, share, el("span", { class: "muted small" }, " " + pct(l.human_clicks / total))));
    body.append(row);
    const targets = l.targets.map(t => el("tr", { class: "target", "data-target-of": l.link_number, hidden: l.targets.length > 3 },
      el("td", {}), el("td", {}, el("span", { class: "linkurl", title: t.url }, "→ " + t.url)),
      el("td", { class: "num" }, fmt(t.clicks)), el("td", { class: "num" }, fmt(t.unique_clicks)),
      el("td", { class: "num" }, fmt(t.human_clicks)), el("td", { class: "num" }, fmt(t.human_unique_clicks)), el("td", {})));
    if (l.other_targets) targets.push(el("tr", { class: "target", "data-target-of": l.link_number, hidden: l.targets.length > 3 },
      el("td", {}), el("td", { class: "muted" }, "→ " + (l.other_targets.targets === null ? "more" : fmt(l.other_targets.targets)) + " other targets"),
      el("td", { class: "num" }, fmt(l.other_targets.clicks)), el("td", {}), el("td", { class: "num" }, fmt(l.other_targets.human_clicks)), el("td", {}), el("td", {})));
    if (targets.length > 0) {
      if (l.targets.length > 3) {
        const toggle = el("button", { class: "toggle", type: "button", onclick: () => {
          const open = targets[0].hidden;
          for (const t of targets) t.hidden = !open;
          toggle.textContent = open ? "hide targets" : "show " + l.targets.length + " targets";
        } }, "show " + l.targets.length + " targets");
        row.children[1].append(el("div", {}, toggle));
      }
      body.append(...targets);
    }
  }
  if (links.length === 0) body.append(el("tr", {}, el("td", { colspan: 7, class: "empty" }, "No tracked links.")));
  return el("div", { class: "card", id: "links" },
    el("h2", {}, "Links"), el("p", { class: "hint" }, "By the link's place in the template; personalized links list the URLs people actually reached."),
    el("table", {}, el("thead", {}, el("tr", {}, el("th", { class: "num" }, "#"), el("th", {}, "Link"), el("th", { class: "num" }, "Clicks"), el("th", { class: "num" }, "Unique"),
      el("th", { class: "num" }, "Human"), el("th", { class: "num" }, "Human unique"), el("th", {}, "Share of human clicks"))), body));
}

function botsCard(r) {
  const f = r.bot_flags, names = { head: "HEAD requests (link checkers)", scanner: "Security scanners and crawlers", apple_mpp: "Apple Mail Privacy Protection opens",
    early_click: "Clicks within seconds of delivery", click_burst: "Bursts of clicks on many links", volume: "Events of recipients past the bot threshold" };
  return el("div", { class: "card", id: "bots" },
    el("h2", {}, "Machine activity"), el("p", { class: "hint" }, "Flagged, never dropped: counted in “all events”, left out of human numbers."),
    el("dl", { class: "flags" }, Object.keys(names).map(k => [el("dt", {}, names[k]), el("dd", {}, metric("bot_flags." + k, f[k] || 0, fmt(f[k] || 0)))])),
    r.bots.volume_recipients > 0 ? el("p", { class: "small muted" }, fmt(r.bots.volume_recipients) + " recipient(s) had more than " + fmt(r.bots.max_events_per_recipient) + " opens or clicks: counted, not examined.") : null);
}

function deliveryCard(r) {
  const d = r.delivery;
  const rows = [...d.failed_by_code.map(f => [String(f.code ?? "no code"), f.count, f.sample_text || ""]), ...Object.entries(d.skipped_by_reason).map(([k, v]) => ["skipped: " + k, v, ""])];
  return el("div", { class: "card", id: "delivery" },
    el("h2", {}, "Delivery"), el("p", { class: "hint" }, "From the ledger: who was not sent, and why"),
    el("dl", { class: "flags" },
      el("dt", {}, "Recipients"), el("dd", {}, metric("delivery.total", d.total, fmt(d.total))),
      el("dt", {}, "Sent"), el("dd", {}, metric("delivery.sent", d.sent, fmt(d.sent))),
      el("dt", {}, "Failed"), el("dd", {}, metric("delivery.failed", d.failed, fmt(d.failed))),
      el("dt", {}, "In doubt (never resent automatically)"), el("dd", {}, metric("delivery.in_doubt", d.in_doubt, fmt(d.in_doubt))),
      el("dt", {}, "Skipped"), el("dd", {}, metric("delivery.skipped", d.skipped, fmt(d.skipped))),
      el("dt", {}, "Pending"), el("dd", {}, metric("delivery.pending", d.pending + d.sending, fmt(d.pending + d.sending)))),
    rows.length ? el("table", { class: "small" }, el("thead", {}, el("tr", {}, el("th", {}, "Reason"), el("th", { class: "num" }, "Recipients"), el("th", {}, "Example reply"))),
      el("tbody", {}, rows.map(([a, b, c]) => el("tr", {}, el("td", {}, a), el("td", { class: "num" }, fmt(b)), el("td", { class: "muted" }, c))))) : null);
}

window.addEventListener("hashchange", route);
route();
