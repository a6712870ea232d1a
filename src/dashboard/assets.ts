/**
 * The dashboard's page, style and script, shipped inside the package (no
 * CDN). The script renders every value from the ledger with `textContent`
 * (never `innerHTML`): breaker names, messages and tracebacks are text
 * written by LLM output and must never become markup. Every time on the page
 * is UTC, written `YYYY-MM-DD HH:MM:SS`, and the page says so.
 *
 * @since 0.1.0
 */

/**
 * The page.
 *
 * @since 0.1.0
 */
export const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="dark">
<title>agentarmour dashboard</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/assets/uPlot.min.css">
<link rel="stylesheet" href="/assets/dashboard.css">
</head>
<body>
<header>
  <h1>agentarmour</h1>
  <span id="live" class="live" title="live updates">connecting…</span>
  <span class="zone">all times UTC</span>
  <label class="filter">breaker <select id="filter"><option value="">all breakers</option></select></label>
</header>
<div id="error" class="error" hidden></div>
<main>
  <section class="cards" aria-label="overview, last 24 hours">
    <div class="card"><div class="label">not closed now</div><div class="value" id="card-down">–</div><div class="sub" id="card-down-names"></div></div>
    <div class="card"><div class="label">calls, 24 h</div><div class="value" id="card-calls">–</div></div>
    <div class="card"><div class="label">failure rate, 24 h</div><div class="value" id="card-rate">–</div></div>
    <div class="card"><div class="label">rejections, 24 h</div><div class="value" id="card-rejections">–</div></div>
    <div class="card"><div class="label">fallbacks, 24 h</div><div class="value" id="card-fallbacks">–</div></div>
    <div class="card"><div class="label">tool calls refused, 24 h</div><div class="value" id="card-refused">–</div></div>
  </section>
  <section>
    <h2>breakers <span class="hint">worst first · figures over the last 24 h</span></h2>
    <table id="breakers" class="cardify"><thead><tr><th>breaker</th><th>state</th><th>since (UTC)</th><th>reason</th><th class="num">calls</th><th class="num">failure rate</th><th class="num">rejections</th><th>fallbacks</th></tr></thead><tbody></tbody></table>
  </section>
  <section>
    <div class="chart-head">
      <h2 id="chart-title">failed calls</h2>
      <div class="controls">
        <select id="metric" aria-label="what the chart shows">
          <option value="failures">failed calls</option>
          <option value="calls">calls</option>
          <option value="rejections">rejections</option>
        </select>
        <div class="ranges" role="group" aria-label="chart range">
          <button type="button" data-range="15m">15 min</button>
          <button type="button" data-range="1h">1 h</button>
          <button type="button" data-range="24h">24 h</button>
          <button type="button" data-range="7d">7 d</button>
        </div>
      </div>
    </div>
    <div id="chart" class="chart"></div>
    <p id="chart-empty" class="hint" hidden>no call statistics in this range</p>
  </section>
  <section id="spend">
    <h2>spend <span class="hint" id="spend-hint">tokens and cost charged by budgets, over the chart range</span></h2>
    <div class="spend">
      <table id="spend-node" class="cardify"><thead><tr><th>node</th><th class="num">calls</th><th class="num">tokens in</th><th class="num">tokens out</th><th class="num">cost (USD)</th></tr></thead><tbody></tbody></table>
      <table id="spend-run" class="cardify"><thead><tr><th>run</th><th class="num">calls</th><th class="num">tokens in</th><th class="num">tokens out</th><th class="num">cost (USD)</th></tr></thead><tbody></tbody></table>
    </div>
  </section>
  <section id="tool-calls" aria-labelledby="tools-title">
    <h2 id="tools-title">tool calls <span class="hint">ToolGuard's decisions per tool and outcome over the last 24 h · tools with refusals first</span></h2>
    <table id="tools" class="cardify"><thead><tr><th>tool</th><th class="num">decisions</th><th class="num">ran</th><th class="num">refused</th><th class="num">failed</th><th>outcomes</th><th>last refusal (UTC)</th><th>what the model read</th></tr></thead><tbody></tbody></table>
  </section>
  <section>
    <h2>recent failures <span class="hint">click a message for its traceback</span></h2>
    <table id="failures" class="cardify"><thead><tr><th>time (UTC)</th><th>breaker</th><th>category</th><th>type</th><th>message</th></tr></thead><tbody></tbody></table>
  </section>
  <section>
    <h2>recent transitions</h2>
    <table id="transitions" class="cardify"><thead><tr><th>time (UTC)</th><th>breaker</th><th>from</th><th>to</th><th>reason</th></tr></thead><tbody></tbody></table>
  </section>
</main>
<script src="/assets/uPlot.iife.min.js"></script>
<script src="/assets/dashboard.js"></script>
</body>
</html>
`

/**
 * The page's style sheet.
 *
 * @since 0.1.0
 */
export const css = `
:root {
  --bg: #0f1419; --panel: #18212b; --line: #263340; --text: #e6e6e6; --muted: #8d9aa7;
  --ok: #2e9e5b; --warn: #d49b1f; --bad: #e05252; --info: #5b8def; --off: #6b7785;
}
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background: var(--bg); color: var(--text); }
header { display: flex; flex-wrap: wrap; gap: 0.4rem 1.2rem; align-items: center; padding: 0.7rem 1.25rem; background: var(--panel); border-bottom: 1px solid var(--line); }
header h1 { font-size: 1.15rem; margin: 0; }
.live { color: var(--muted); font-size: 0.85rem; }
.live.on { color: var(--ok); }
.live.on::before { content: "● "; }
.zone { color: var(--muted); font-size: 0.85rem; }
.filter { margin-left: auto; color: var(--muted); font-size: 0.85rem; }
.error { background: #4a1d1d; color: #ffd7d7; padding: 0.5rem 1.25rem; overflow-wrap: anywhere; }
main { padding: 0.75rem 1.25rem 2rem; max-width: 1400px; margin: 0 auto; }
h2 { font-size: 0.95rem; color: var(--muted); font-weight: 600; margin: 1.25rem 0 0.5rem; }
.hint { color: var(--muted); font-weight: 400; font-size: 0.8rem; }
.spend { display: grid; grid-template-columns: repeat(auto-fit, minmax(18rem, 1fr)); gap: 0.75rem; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(10rem, 1fr)); gap: 0.75rem; }
.card { background: var(--panel); border-radius: 6px; padding: 0.6rem 0.9rem; min-width: 0; }
.card .label { color: var(--muted); font-size: 0.8rem; }
.card .value { font-size: 1.6rem; font-weight: 700; font-variant-numeric: tabular-nums; }
.card .value.bad { color: var(--bad); }
.card .sub { color: var(--muted); font-size: 0.8rem; overflow-wrap: anywhere; }
table { width: 100%; border-collapse: collapse; background: var(--panel); border-radius: 6px; }
th, td { text-align: left; padding: 0.4rem 0.6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { color: var(--muted); font-weight: 600; font-size: 0.8rem; white-space: nowrap; }
td { overflow-wrap: anywhere; }
.num { text-align: right; font-variant-numeric: tabular-nums; }
td.time { white-space: nowrap; font-variant-numeric: tabular-nums; }
.age { display: block; color: var(--muted); font-size: 0.8rem; }
td.message { max-width: 60ch; }
.swatch { display: inline-block; width: 0.7rem; height: 0.7rem; border-radius: 2px; margin-right: 0.4rem; vertical-align: -0.05rem; }
.state { white-space: nowrap; display: inline-block; padding: 0.05rem 0.5rem; border-radius: 3px; font-weight: 700; font-size: 0.8rem; }
.state-CLOSED { background: var(--ok); color: #fff; }
.state-HALF_OPEN { background: var(--warn); color: #111; }
.state-OPEN { background: var(--bad); color: #fff; }
.state-ISOLATED { background: var(--info); color: #fff; }
.state-DISABLED { background: var(--off); color: #fff; }
tr.down td { background: rgba(224, 82, 82, 0.08); }
tr.refused td { background: rgba(224, 82, 82, 0.08); }
tr.refused td.tool { box-shadow: inset 3px 0 0 var(--bad); }
.flag-refused { display: inline-block; margin-left: 0.4rem; padding: 0 0.4rem; border-radius: 3px; background: var(--bad); color: #fff; font-size: 0.75rem; font-weight: 700; }
.outcomes { display: flex; flex-wrap: wrap; gap: 0.25rem; }
.outcome { white-space: nowrap; display: inline-block; padding: 0 0.4rem; border-radius: 3px; border: 1px solid var(--line); font-size: 0.8rem; font-variant-numeric: tabular-nums; }
.outcome-refused { background: rgba(224, 82, 82, 0.2); border-color: var(--bad); color: #ffd7d7; font-weight: 700; }
.outcome-failed { border-color: var(--warn); color: var(--warn); }
.outcome-ran { color: var(--muted); }
.rate-bad { color: var(--bad); font-weight: 700; }
details summary { cursor: pointer; }
details pre { white-space: pre-wrap; overflow-wrap: anywhere; color: var(--muted); font-size: 0.8rem; max-height: 20rem; overflow: auto; margin: 0.4rem 0 0; }
.chart-head { display: flex; flex-wrap: wrap; align-items: center; justify-content: space-between; gap: 0.5rem; margin: 1.25rem 0 0.5rem; }
.chart-head h2 { margin: 0; }
.controls { display: flex; flex-wrap: wrap; gap: 0.5rem; align-items: center; }
.ranges { display: inline-flex; border: 1px solid var(--line); border-radius: 4px; overflow: hidden; }
.ranges button { background: var(--bg); color: var(--text); border: 0; border-left: 1px solid var(--line); padding: 0.3rem 0.7rem; font: inherit; cursor: pointer; }
.ranges button:first-child { border-left: 0; }
.ranges button[aria-pressed="true"] { background: var(--info); color: #fff; }
select { background: var(--bg); color: var(--text); border: 1px solid var(--line); border-radius: 4px; padding: 0.25rem; font: inherit; max-width: 14rem; }
.chart { background: var(--panel); border-radius: 6px; padding: 0.5rem; min-height: 120px; overflow: hidden; }
.chart .uplot { width: 100%; color: var(--text); }
.chart .u-legend { font-size: 0.8rem; color: var(--text); }
.chart .u-legend .u-value { font-variant-numeric: tabular-nums; }
.chart .u-select { background: rgba(255, 255, 255, 0.08); }
@media (max-width: 700px) {
  header { padding: 0.6rem 0.75rem; }
  .filter { margin-left: 0; }
  main { padding: 0.5rem 0.75rem 2rem; }
  .cards { grid-template-columns: repeat(3, minmax(0, 1fr)); gap: 0.4rem; }
  .card { padding: 0.4rem 0.6rem; }
  .card .label { font-size: 0.72rem; }
  .card .value { font-size: 1.2rem; }
  /* tables become one card per row: label, then value */
  table.cardify, table.cardify tbody, table.cardify tr, table.cardify td { display: block; width: 100%; }
  table.cardify { background: none; }
  table.cardify thead { display: none; }
  table.cardify tr { background: var(--panel); border-radius: 6px; margin-bottom: 0.5rem; padding: 0.3rem 0; }
  table.cardify td { display: grid; grid-template-columns: 6.5rem minmax(0, 1fr); justify-items: start; gap: 0.5rem; border: 0; padding: 0.15rem 0.75rem; text-align: left; max-width: none; }
  table.cardify td::before { content: attr(data-label); color: var(--muted); font-size: 0.8rem; }
  table.cardify td.empty { display: block; }
  table.cardify td.empty::before { content: none; }
  td.time { white-space: normal; }
  /* a breaker's card is titled by its name */
  #breakers td.breaker { display: block; font-weight: 700; font-size: 1rem; padding-top: 0.3rem; }
  #breakers td.breaker::before { content: none; }
  /* and a tool's card by the tool */
  #tools td.tool { display: block; font-weight: 700; font-size: 1rem; padding-top: 0.3rem; }
  #tools td.tool::before { content: none; }
}
`

/**
 * The page's script.
 *
 * @since 0.1.0
 */
export const js = String.raw`"use strict";
(function () {
  var STATE_TEXT = { CLOSED: "closed", OPEN: "open", HALF_OPEN: "half-open", ISOLATED: "isolated", DISABLED: "disabled" };
  // worst first in the breakers table
  var STATE_RANK = { OPEN: 0, HALF_OPEN: 1, ISOLATED: 2, DISABLED: 3, CLOSED: 4 };
  var PALETTE = ["#5b9cf5", "#f5a524", "#2ec4b6", "#e85d75", "#a78bfa", "#8bd450", "#f78c6b", "#5ad1e6", "#e5c07b", "#d46ad9", "#9aa5b1", "#f2d04b"];
  var METRIC_TEXT = { failures: "failed calls", calls: "calls", rejections: "rejections" };
  // the kind of each ToolGuard outcome comes with the data (/api/tools, the snapshot's tools)
  var KIND_TEXT = { refused: "refused by ToolGuard", failed: "the tool failed or its breaker was open", ran: "the tool ran" };
  var snapshot = null;
  var chart = null;
  var range = "1h";
  var colours = {};
  var nextColour = 0;
  var filter = document.getElementById("filter");
  var metric = document.getElementById("metric");

  function el(tag, text, className) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (className) e.className = className;
    return e;
  }
  function pad(n) { return n < 10 ? "0" + n : String(n); }
  // the one time format of the page: UTC, "YYYY-MM-DD HH:MM:SS"
  function utc(d) {
    return d.getUTCFullYear() + "-" + pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate()) + " " +
      pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes()) + ":" + pad(d.getUTCSeconds());
  }
  function time(iso) { return iso ? utc(new Date(iso)) : "–"; }
  function age(iso) {
    if (!iso || !snapshot) return "";
    var s = Math.max(0, Math.round((Date.parse(snapshot.generatedAt) - Date.parse(iso)) / 1000));
    if (s < 60) return s + " s ago";
    var m = Math.floor(s / 60);
    if (m < 60) return m + " min ago";
    var h = Math.floor(m / 60);
    if (h < 48) return h + " h " + (m % 60) + " min ago";
    return Math.floor(h / 24) + " d ago";
  }
  function percent(rate) { return (rate * 100).toFixed(rate >= 0.1 || rate === 0 ? 0 : 1) + "%"; }
  function colour(name) {
    if (!(name in colours)) { colours[name] = PALETTE[nextColour % PALETTE.length]; nextColour++; }
    return colours[name];
  }
  function stateBadge(state) {
    // colour AND text: the state is readable without colour
    return el("span", STATE_TEXT[state] || state, "state state-" + state);
  }
  function cell(label, content, className) {
    var td = el("td", null, className);
    td.setAttribute("data-label", label);
    if (content instanceof Node) td.appendChild(content); else td.textContent = content === null || content === undefined ? "–" : String(content);
    return td;
  }
  function breakerCell(label, name) {
    var td = cell(label, null, "breaker");
    td.replaceChildren();
    var wrap = el("span");
    var sw = el("span", null, "swatch");
    sw.style.background = colour(name);
    wrap.appendChild(sw);
    wrap.appendChild(document.createTextNode(name));
    td.appendChild(wrap);
    return td;
  }
  function timeCell(label, iso, withAge) {
    var td = cell(label, time(iso), "time");
    if (iso) td.title = iso;
    if (iso && withAge) {
      var wrap = el("span");
      wrap.appendChild(document.createTextNode(time(iso)));
      wrap.appendChild(el("span", age(iso), "age"));
      td.replaceChildren(wrap);
    }
    return td;
  }
  function fillTable(id, rows, render) {
    var body = document.querySelector("#" + id + " tbody");
    body.replaceChildren();
    rows.forEach(function (r) { body.appendChild(render(r)); });
    if (rows.length === 0) {
      var tr = el("tr"); var td = el("td", "nothing recorded", "empty"); td.colSpan = 8; tr.appendChild(td); body.appendChild(tr);
    }
  }
  function row(cells, className) {
    var tr = el("tr", null, className);
    cells.forEach(function (c) { tr.appendChild(c); });
    return tr;
  }
  function fallbacksText(f) {
    var keys = Object.keys(f || {}).sort();
    return keys.length === 0 ? "–" : keys.map(function (k) { return k + " " + f[k]; }).join(" · ");
  }
  function sum(list, f) { return list.reduce(function (n, x) { return n + f(x); }, 0); }

  function render() {
    if (!snapshot) return;
    snapshot.breakers.forEach(colour);
    var only = filter.value;
    var pick = function (r) { return !only || r.breakerName === only; };
    var summary = snapshot.summary.filter(pick).slice().sort(function (a, b) {
      return (STATE_RANK[a.state] - STATE_RANK[b.state]) || (a.breakerName < b.breakerName ? -1 : a.breakerName > b.breakerName ? 1 : 0);
    });
    var down = summary.filter(function (s) { return s.state !== "CLOSED"; });
    var cardDown = document.getElementById("card-down");
    cardDown.textContent = String(down.length);
    cardDown.className = down.length > 0 ? "value bad" : "value";
    document.getElementById("card-down-names").textContent = down.map(function (s) { return s.breakerName; }).join(", ");
    var calls = sum(summary, function (s) { return s.calls; });
    var failed = sum(summary, function (s) { return s.failures; });
    document.getElementById("card-calls").textContent = String(calls);
    document.getElementById("card-rate").textContent = calls > 0 ? percent(failed / calls) : "–";
    document.getElementById("card-rejections").textContent = String(sum(summary, function (s) { return s.rejections; }));
    document.getElementById("card-fallbacks").textContent = String(sum(summary, function (s) { return sum(Object.keys(s.fallbacks || {}), function (k) { return s.fallbacks[k]; }); }));

    var known = Array.prototype.map.call(filter.options, function (o) { return o.value; });
    snapshot.breakers.forEach(function (name) {
      if (known.indexOf(name) < 0) { var o = el("option", name); o.value = name; filter.appendChild(o); }
    });

    fillTable("breakers", summary, function (s) {
      return row([
        breakerCell("breaker", s.breakerName),
        cell("state", stateBadge(s.state)),
        s.since ? timeCell("since (UTC)", s.since, true) : cell("since (UTC)", "never changed", "time"),
        cell("reason", s.reason === null ? "–" : s.reason, "reason"),
        cell("calls", s.calls, "num"),
        cell("failure rate", s.calls > 0 ? percent(s.failureRate) : "–", "num" + (s.calls > 0 && s.failureRate >= 0.5 ? " rate-bad" : "")),
        cell("rejections", s.rejections, "num"),
        cell("fallbacks", fallbacksText(s.fallbacks))
      ], s.state === "CLOSED" ? "" : "down");
    });
    renderTools(snapshot.tools || []);
    fillTable("failures", snapshot.failures.filter(pick), function (f) {
      var details = el("details");
      details.appendChild(el("summary", f.errorMessage));
      details.appendChild(el("pre", f.traceback || "(no traceback)"));
      return row([timeCell("time (UTC)", f.createdAt, false), breakerCell("breaker", f.breakerName), cell("category", f.category),
        cell("type", f.errorType), cell("message", details, "message")]);
    });
    fillTable("transitions", snapshot.transitions.filter(pick), function (t) {
      return row([timeCell("time (UTC)", t.createdAt, false), breakerCell("breaker", t.breakerName), cell("from", stateBadge(t.fromState)),
        cell("to", stateBadge(t.toState)), cell("reason", t.reason)]);
    });
    draw();
  }

  // ToolGuard's decisions per tool and outcome; a tool with refusals is marked in colour AND text
  function renderTools(tools) {
    var refused = document.getElementById("card-refused");
    var total = sum(tools, function (t) { return t.refused; });
    refused.textContent = String(total);
    refused.className = total > 0 ? "value bad" : "value";
    fillTable("tools", tools, function (t) {
      var name = cell("tool", null, "tool");
      name.replaceChildren(el("span", t.tool, "tool-name"));
      if (t.refused > 0) name.appendChild(el("span", "refused", "flag-refused"));
      var outcomes = el("span", null, "outcomes");
      t.outcomes.forEach(function (o) {
        var badge = el("span", o.outcome + " " + o.count, "outcome outcome-" + o.kind);
        badge.title = KIND_TEXT[o.kind] || o.kind;
        badge.setAttribute("data-outcome", o.outcome);
        badge.setAttribute("data-kind", o.kind);
        outcomes.appendChild(badge);
      });
      var last = t.lastRefusal;
      return row([
        name,
        cell("decisions", t.calls, "num"),
        cell("ran", t.ran, "num"),
        cell("refused", t.refused, "num" + (t.refused > 0 ? " rate-bad" : "")),
        cell("failed", t.failed, "num"),
        cell("outcomes", outcomes),
        last ? timeCell("last refusal (UTC)", last.createdAt, true) : cell("last refusal (UTC)", "none", "time"),
        cell("what the model read", last ? (last.detail === null ? last.outcome : last.detail) : "–", "message")
      ], t.refused > 0 ? "refused" : "");
    });
  }

  function axis(label) {
    return {
      stroke: "#8d9aa7", label: label, labelSize: label ? 18 : 0,
      grid: { stroke: "#263340", width: 1 }, ticks: { stroke: "#263340", width: 1 }
    };
  }

  // 24-hour UTC labels; the date only where the range spans days
  function xAxis(bucketSeconds) {
    var a = axis(null);
    a.values = function (u, splits) {
      return splits.map(function (ts) {
        var t = utc(new Date(ts * 1000));
        return bucketSeconds >= 3600 ? t.slice(5, 10) + " " + t.slice(11, 16) : t.slice(11, 16);
      });
    };
    a.space = bucketSeconds >= 3600 ? 90 : 50;
    return a;
  }

  function draw() {
    var box = document.getElementById("chart");
    var c = snapshot.charts[range];
    var only = filter.value;
    var what = metric.value;
    var series = c.series.filter(function (s) { return !only || s.breaker === only; });
    document.getElementById("chart-title").textContent = METRIC_TEXT[what] + " per " +
      (c.bucketSeconds >= 3600 ? "hour" : c.bucketSeconds >= 900 ? "15 minutes" : "minute");
    document.getElementById("chart-empty").hidden = series.length > 0;
    var data = [c.times].concat(series.map(function (s) { return s[what]; }));
    var opts = {
      width: Math.max(200, box.clientWidth - 16),
      height: window.innerWidth < 700 ? 200 : 260,
      tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"); },
      scales: { x: { time: true }, y: { range: function (u, min, max) { return [0, Math.max(1, max)]; } } },
      series: [{ label: "UTC", value: function (u, v) { return v === null || v === undefined ? "–" : utc(new Date(v * 1000)).slice(0, 16); } }]
        .concat(series.map(function (s) {
          return { label: s.breaker, stroke: colour(s.breaker), width: 2, points: { show: false },
            value: function (u, v) { return v === null || v === undefined ? "–" : String(v); } };
        })),
      axes: [xAxis(c.bucketSeconds), axis(METRIC_TEXT[what])],
      cursor: { drag: { x: false, y: false } }
    };
    if (chart) chart.destroy();
    box.replaceChildren();
    chart = new uPlot(opts, data, box);
    box.setAttribute("data-range", range);
    box.setAttribute("data-points", String(c.times.length));
  }

  // spend per node and per run over the chart's range, from /api/usage
  var spendAsked = 0;
  function spendRow(label) {
    return function (u) {
      return row([
        cell(label, u.key, "breaker"),
        cell("calls", u.calls, "num"),
        cell("tokens in", u.tokensIn, "num"),
        cell("tokens out", u.tokensOut, "num"),
        cell("cost (USD)", u.costUsd.toFixed(4), "num")
      ]);
    };
  }
  function loadSpend() {
    var asked = ++spendAsked;
    ["node", "run"].forEach(function (by) {
      fetch("/api/usage?by=" + by + "&range=" + encodeURIComponent(range) + "&limit=20")
        .then(function (r) { return r.ok ? r.json() : []; })
        .then(function (rows) { if (asked === spendAsked) fillTable("spend-" + by, rows, spendRow(by)); })
        .catch(function () {});
    });
  }

  function setRange(r) {
    range = r;
    loadSpend();
    Array.prototype.forEach.call(document.querySelectorAll(".ranges button"), function (b) {
      b.setAttribute("aria-pressed", b.getAttribute("data-range") === r ? "true" : "false");
    });
    if (snapshot) draw();
  }
  Array.prototype.forEach.call(document.querySelectorAll(".ranges button"), function (b) {
    b.addEventListener("click", function () { setRange(b.getAttribute("data-range")); });
  });
  setRange(range);
  filter.addEventListener("change", render);
  metric.addEventListener("change", function () { if (snapshot) draw(); });
  var resizing = null;
  window.addEventListener("resize", function () {
    clearTimeout(resizing);
    resizing = setTimeout(function () { if (snapshot) draw(); }, 150);
  });

  var live = document.getElementById("live");
  var error = document.getElementById("error");
  function connect() {
    var source = new EventSource("/events");
    source.addEventListener("snapshot", function (e) {
      snapshot = JSON.parse(e.data);
      live.textContent = "live · updated " + utc(new Date(snapshot.generatedAt)).slice(11) + " UTC";
      live.className = "live on";
      error.hidden = true;
      render();
      loadSpend();
    });
    source.addEventListener("ledger-error", function (e) {
      error.textContent = "the ledger cannot be read: " + JSON.parse(e.data).error;
      error.hidden = false;
    });
    source.onerror = function () { live.textContent = "reconnecting…"; live.className = "live"; };
  }
  connect();
})();
`
