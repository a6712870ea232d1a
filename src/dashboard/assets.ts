/**
 * The dashboard's page, style and script, shipped inside the package (no
 * CDN). The script renders every value from the ledger with `textContent`
 * (never `innerHTML`): breaker names, messages and tracebacks are text
 * written by LLM output and must never become markup.
 *
 * @since 0.1.0
 */

export const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>agentarmour dashboard</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/assets/uPlot.min.css">
<link rel="stylesheet" href="/assets/dashboard.css">
</head>
<body>
<header>
  <h1>agentarmour</h1>
  <span id="live" class="live" title="live updates">connecting…</span>
  <label>breaker <select id="filter"><option value="">all breakers</option></select></label>
</header>
<main>
  <section class="cards">
    <div class="card"><div class="label">total failures</div><div class="value" id="card-failures">–</div></div>
    <div class="card"><div class="label">failures, last hour</div><div class="value" id="card-hour">–</div></div>
    <div class="card"><div class="label">breakers open now</div><div class="value" id="card-open">–</div></div>
    <div class="card"><div class="label">fallbacks served</div><div class="value" id="card-fallbacks">–</div></div>
  </section>
  <section>
    <h2>breakers</h2>
    <table id="breakers"><thead><tr><th>breaker</th><th>state</th><th>failures</th><th>last 24 h</th><th>last failure</th><th>transitions</th><th>fallbacks</th></tr></thead><tbody></tbody></table>
  </section>
  <section>
    <h2>failures per minute, last hour</h2>
    <div id="timeline"></div>
  </section>
  <section>
    <h2>recent failures</h2>
    <table id="failures"><thead><tr><th>time</th><th>breaker</th><th>category</th><th>type</th><th>message</th></tr></thead><tbody></tbody></table>
  </section>
  <section>
    <h2>recent transitions</h2>
    <table id="transitions"><thead><tr><th>time</th><th>breaker</th><th>from</th><th>to</th><th>reason</th></tr></thead><tbody></tbody></table>
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
:root { --bg: #0f1419; --panel: #182029; --text: #e6e6e6; --muted: #8a96a3; --ok: #2e9e5b; --warn: #d49b1f; --bad: #d64545; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, sans-serif; background: var(--bg); color: var(--text); }
header { display: flex; gap: 1.5rem; align-items: center; padding: 0.8rem 1.5rem; background: var(--panel); }
header h1 { font-size: 1.2rem; margin: 0; }
.live { color: var(--muted); font-size: 0.85rem; }
.live.on { color: var(--ok); }
main { padding: 1rem 1.5rem; }
h2 { font-size: 1rem; color: var(--muted); font-weight: 600; margin: 1.5rem 0 0.5rem; }
.cards { display: grid; grid-template-columns: repeat(4, minmax(0, 1fr)); gap: 1rem; }
.card { background: var(--panel); border-radius: 6px; padding: 0.8rem 1rem; }
.card .label { color: var(--muted); font-size: 0.8rem; }
.card .value { font-size: 1.8rem; font-weight: 700; }
table { width: 100%; border-collapse: collapse; background: var(--panel); border-radius: 6px; }
th, td { text-align: left; padding: 0.35rem 0.6rem; border-bottom: 1px solid #26313c; vertical-align: top; }
th { color: var(--muted); font-weight: 600; }
td.message { max-width: 60ch; overflow-wrap: anywhere; }
.state { white-space: nowrap; display: inline-block; padding: 0.05rem 0.5rem; border-radius: 3px; font-weight: 700; font-size: 0.8rem; }
.state-CLOSED { background: var(--ok); color: #fff; }
.state-HALF_OPEN { background: var(--warn); color: #000; }
.state-OPEN { background: var(--bad); color: #fff; }
details pre { white-space: pre-wrap; color: var(--muted); font-size: 0.8rem; max-height: 20rem; overflow: auto; }
#timeline { background: #fff; border-radius: 6px; padding: 0.5rem; min-height: 80px; color: #000; }
select { background: var(--bg); color: var(--text); border: 1px solid #26313c; padding: 0.2rem; }
`

/**
 * The page's script.
 *
 * @since 0.1.0
 */
export const js = `"use strict";
(function () {
  var STATE_TEXT = { CLOSED: "closed", OPEN: "open", HALF_OPEN: "half-open" };
  var snapshot = null;
  var chart = null;
  var filter = document.getElementById("filter");

  function el(tag, text, className) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (className) e.className = className;
    return e;
  }
  function time(iso) { return iso ? iso.replace("T", " ").replace(/\\.\\d+Z$/, "Z") : "–"; }
  function stateBadge(state) {
    // colour AND text: the state is readable without colour
    return el("span", STATE_TEXT[state] || state, "state state-" + state);
  }
  function fillTable(id, rows, render) {
    var body = document.querySelector("#" + id + " tbody");
    body.replaceChildren();
    rows.forEach(function (r) { body.appendChild(render(r)); });
    if (rows.length === 0) {
      var tr = el("tr"); var td = el("td", "nothing recorded"); td.colSpan = 7; tr.appendChild(td); body.appendChild(tr);
    }
  }
  function row(cells) {
    var tr = el("tr");
    cells.forEach(function (c) { tr.appendChild(c instanceof Node ? c : el("td", c)); });
    return tr;
  }
  function td(child, className) { var t = el("td", null, className); t.appendChild(child); return t; }

  function render() {
    if (!snapshot) return;
    var only = filter.value;
    var pick = function (r) { return !only || r.breakerName === only; };
    var summary = snapshot.summary.filter(pick);
    document.getElementById("card-failures").textContent = String(summary.reduce(function (n, s) { return n + s.failuresTotal; }, 0));
    document.getElementById("card-hour").textContent = String(snapshot.timeline.series
      .filter(function (s) { return !only || s.breaker === only; })
      .reduce(function (n, s) { return n + s.counts.reduce(function (a, b) { return a + b; }, 0); }, 0));
    document.getElementById("card-open").textContent = String(summary.filter(function (s) { return s.state !== "CLOSED"; }).length);
    document.getElementById("card-fallbacks").textContent = String(summary.reduce(function (n, s) { return n + s.fallbacksServed; }, 0));

    var known = Array.prototype.map.call(filter.options, function (o) { return o.value; });
    snapshot.summary.forEach(function (s) {
      if (known.indexOf(s.breakerName) < 0) { var o = el("option", s.breakerName); o.value = s.breakerName; filter.appendChild(o); }
    });

    fillTable("breakers", summary, function (s) {
      return row([el("td", s.breakerName, "breaker"), td(stateBadge(s.state)), s.failuresTotal, s.failuresLast24h, time(s.lastFailureAt), s.transitions, s.fallbacksServed]);
    });
    fillTable("failures", snapshot.failures.filter(pick), function (f) {
      var details = el("details");
      details.appendChild(el("summary", f.errorMessage));
      details.appendChild(el("pre", f.traceback || "(no traceback)"));
      return row([time(f.createdAt), el("td", f.breakerName, "breaker"), f.category, f.errorType, td(details, "message")]);
    });
    fillTable("transitions", snapshot.transitions.filter(pick), function (t) {
      return row([time(t.createdAt), el("td", t.breakerName, "breaker"), td(stateBadge(t.fromState)), td(stateBadge(t.toState)), t.reason]);
    });
    drawTimeline(only);
  }

  function drawTimeline(only) {
    var t = snapshot.timeline;
    var series = t.series.filter(function (s) { return !only || s.breaker === only; });
    var data = [t.minutes].concat(series.map(function (s) { return s.counts; }));
    var palette = ["#d64545", "#2e7dd6", "#2e9e5b", "#d49b1f", "#8e44ad", "#16a085", "#c0392b", "#7f8c8d"];
    var opts = {
      width: Math.max(320, document.getElementById("timeline").clientWidth - 16),
      height: 200,
      scales: { x: { time: true } },
      series: [{}].concat(series.map(function (s, i) {
        return { label: s.breaker, stroke: palette[i % palette.length], width: 2 };
      })),
      axes: [{}, { label: "failures / min" }]
    };
    if (chart) chart.destroy();
    var box = document.getElementById("timeline");
    box.replaceChildren();
    chart = new uPlot(opts, data, box);
  }

  filter.addEventListener("change", render);

  var live = document.getElementById("live");
  function connect() {
    var source = new EventSource("/events");
    source.addEventListener("snapshot", function (e) {
      snapshot = JSON.parse(e.data);
      live.textContent = "live";
      live.className = "live on";
      render();
    });
    source.onerror = function () { live.textContent = "reconnecting…"; live.className = "live"; };
  }
  connect();
})();
`
