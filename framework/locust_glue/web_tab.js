// The Swarm tab of Locust's web UI: draws GET ./swarm/live (framework/live/tab_view.py).
//
// Locust's React UI shows the tab (template argument extended_tabs) with an empty body;
// this script puts a panel of its own under the tab bar while ?tab=swarm is the URL's tab,
// and hides it otherwise. Every value is set with textContent, never innerHTML: request
// names and failure messages can hold HTML. Pause and resume POST to ./swarm/pause and
// ./swarm/resume (a 409 shows the reason); finished runs come from ./swarm/runs (nothing is
// shown when that route does not exist).
(function () {
  "use strict";

  var TAB = "swarm";
  var LIVE_EVERY_MS = 1000;
  var RUNS_EVERY_MS = 5000;
  var CSS = [
    "#swarm-tab{padding:16px 24px;font-family:inherit;font-size:14px;color:inherit}",
    "#swarm-tab[hidden]{display:none}",
    "#swarm-tab h3{font-size:16px;margin:18px 0 6px}",
    "#swarm-tab table{border-collapse:collapse;width:100%}",
    "#swarm-tab th,#swarm-tab td{text-align:left;padding:4px 8px;",
    "border-bottom:1px solid rgba(128,128,128,.35);vertical-align:top}",
    "#swarm-tab td.num{text-align:right;white-space:nowrap}",
    "#swarm-tab .interval{opacity:.7;font-size:12px}",
    "#swarm-tab .status{font-weight:600}",
    "#swarm-tab [data-status=passing],#swarm-tab [data-grade=pass]{color:#2e7d32}",
    "#swarm-tab [data-status='at risk'],#swarm-tab [data-grade=warn]{color:#ed6c02}",
    "#swarm-tab [data-status=failing],#swarm-tab [data-grade=fail]{color:#d32f2f}",
    "#swarm-tab [data-behind=true],#swarm-tab td.dropped[data-any=true]{color:#d32f2f}",
    "#swarm-tab button{margin-right:8px;padding:4px 14px;cursor:pointer}",
    "#swarm-tab progress{width:280px;vertical-align:middle;margin:0 8px}",
    "#swarm-message{margin-left:8px}",
    "#swarm-message[data-kind=error]{color:#d32f2f}",
  ].join("\n");

  var panel = null;
  var els = {};
  var liveTimer = null;
  var runsTimer = null;
  var runsMissing = false;

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  function build() {
    var style = el("style");
    style.textContent = CSS;
    document.head.appendChild(style);
    panel = el("section", { id: "swarm-tab", "aria-label": "swarm live figures", hidden: "" });

    var head = el("div", { id: "swarm-head" });
    head.appendChild(el("span", {}, "Run "));
    els.state = head.appendChild(el("span", { id: "swarm-state", class: "status" }, "–"));
    els.run = head.appendChild(el("span", { id: "swarm-run" }));
    els.progress = head.appendChild(el("progress", { id: "swarm-progress", max: "1", value: "0" }));
    els.position = head.appendChild(el("span", { id: "swarm-position" }));
    els.load = head.appendChild(el("div", { id: "swarm-load" }));
    panel.appendChild(head);

    var controls = el("div", { id: "swarm-controls", style: "margin-top:10px" });
    els.pause = controls.appendChild(el("button", { id: "swarm-pause", type: "button" }, "Pause"));
    els.resume = controls.appendChild(el("button", { id: "swarm-resume", type: "button" }, "Resume"));
    els.message = controls.appendChild(el("span", { id: "swarm-message", role: "status" }));
    els.pause.addEventListener("click", function () { control("pause"); });
    els.resume.addEventListener("click", function () { control("resume"); });
    panel.appendChild(controls);

    panel.appendChild(el("h3", {}, "Per request name (run so far)"));
    els.note = panel.appendChild(el("div", { id: "swarm-note", class: "interval" }));
    var table = el("table", { id: "swarm-figures" });
    var headRow = el("tr");
    ["Name", "Requests", "Throughput rps", "Error rate", "p50 ms", "p95 ms", "p99 ms",
      "Quality", "Budget"].forEach(function (title) { headRow.appendChild(el("th", {}, title)); });
    table.appendChild(el("thead")).appendChild(headRow);
    els.rows = table.appendChild(el("tbody", { id: "swarm-rows" }));
    panel.appendChild(table);

    els.arrivalsTitle = panel.appendChild(el("h3", { hidden: "" }, "Arrivals (open model)"));
    var arrivals = el("table", { id: "swarm-arrivals", hidden: "" });
    var arrivalsHead = el("tr");
    ["Load group", "Planned /s", "Achieved /s", "Lag p50 ms", "Lag p99 ms", "Dropped",
      "In flight"].forEach(function (title) { arrivalsHead.appendChild(el("th", {}, title)); });
    arrivals.appendChild(el("thead")).appendChild(arrivalsHead);
    els.arrivalRows = arrivals.appendChild(el("tbody", { id: "swarm-arrival-rows" }));
    els.arrivals = panel.appendChild(arrivals);

    els.metricsTitle = panel.appendChild(el("h3", { hidden: "" }, "Custom metrics"));
    var metrics = el("table", { id: "swarm-metrics", hidden: "" });
    var metricsHead = el("tr");
    ["Metric", "Kind", "Unit", "Last second", "Run so far"].forEach(function (title) {
      metricsHead.appendChild(el("th", {}, title));
    });
    metrics.appendChild(el("thead")).appendChild(metricsHead);
    els.metricRows = metrics.appendChild(el("tbody", { id: "swarm-metric-rows" }));
    els.metrics = panel.appendChild(metrics);

    panel.appendChild(el("h3", {}, "Budgets"));
    els.budgets = panel.appendChild(el("ul", { id: "swarm-budgets" }));
    panel.appendChild(el("h3", {}, "Failure messages"));
    els.failures = panel.appendChild(el("ul", { id: "swarm-failures" }));
    els.reportsTitle = panel.appendChild(el("h3", { hidden: "" }, "Reports of finished runs"));
    els.reports = panel.appendChild(el("ul", { id: "swarm-reports" }));
  }

  function fmt(value, digits) {
    if (value === null || value === undefined) return "–";
    var n = Number(value);
    if (Math.abs(n) >= 100) return n.toFixed(0);
    return n.toPrecision(digits || 3).replace(/\.?0+$/, "");
  }

  function percent(value) {
    return value === null || value === undefined ? "–" : (100 * value).toFixed(2) + "%";
  }

  function figureCell(figure, show, metric) {
    var td = el("td", { class: "num", "data-metric": metric });
    td.appendChild(el("span", { class: "value" }, show(figure.value)));
    if (figure.low !== null && figure.high !== null) {
      td.appendChild(el("br"));
      td.appendChild(el("span", { class: "interval" },
        "[" + show(figure.low) + ", " + show(figure.high) + "]"));
    }
    return td;
  }

  function seconds(s) {
    s = Math.round(s);
    return s >= 60 ? Math.floor(s / 60) + "m" + String(s % 60).padStart(2, "0") + "s" : s + "s";
  }

  function render(data) {
    els.state.textContent = data.state;
    els.state.setAttribute("data-state", data.state);
    els.run.textContent = data.run_id ? " · " + data.run_id : "";
    var plan = data.plan;
    if (plan) {
      els.progress.value = plan.fraction || 0;
      var phase = plan.phase ? "phase " + plan.phase.name + " · " : "";
      els.position.textContent = phase + seconds(plan.elapsed_s) + " of " +
        seconds(plan.duration_s) + " · " + seconds(plan.remaining_s) + " left";
    }
    var load = data.load || {};
    els.load.textContent = load.users === null || load.users === undefined ? "" :
      load.users + " users · " + load.workers + " worker(s)";
    els.pause.disabled = data.state !== "running";
    els.resume.disabled = data.state !== "paused";
    els.note.textContent = "Intervals: " + Math.round(100 * data.confidence) +
      "% confidence, from " + data.min_seconds + " counted seconds on (" + data.seconds +
      " so far); before that, point figures.";

    clear(els.rows);
    data.rows.forEach(function (row) {
      var tr = el("tr", { "data-key": row.key });
      tr.appendChild(el("td", { class: "name" }, row.overall ? "All requests" : row.key));
      tr.appendChild(el("td", { class: "num", "data-metric": "count" },
        row.count + (row.failures ? " (" + row.failures + " failed)" : "")));
      tr.appendChild(figureCell(row.throughput, fmt, "throughput"));
      tr.appendChild(figureCell(row.error_rate, percent, "error_rate"));
      ["p50_ms", "p95_ms", "p99_ms"].forEach(function (m) {
        tr.appendChild(figureCell(row[m], fmt, m));
      });
      var quality = el("td", { "data-metric": "quality" }, row.quality ? row.quality.grade : "–");
      if (row.quality) {
        quality.setAttribute("data-grade", row.quality.grade);
        quality.title = row.quality.reasons.join("\n");
      }
      tr.appendChild(quality);
      var budget = el("td", { "data-metric": "budget", class: "status" }, row.budget || "–");
      if (row.budget) budget.setAttribute("data-status", row.budget);
      tr.appendChild(budget);
      els.rows.appendChild(tr);
    });

    var groups = data.arrivals || [];
    els.arrivalsTitle.hidden = groups.length === 0;
    els.arrivals.hidden = groups.length === 0;
    clear(els.arrivalRows);
    groups.forEach(function (g) {
      var tr = el("tr", { "data-group": g.group });
      tr.appendChild(el("td", { class: "name" }, g.group));
      tr.appendChild(el("td", { class: "num", "data-metric": "planned_rate" }, fmt(g.planned_rate)));
      tr.appendChild(el("td", { class: "num", "data-metric": "rate", "data-behind": String(g.behind) },
        fmt(g.rate)));
      tr.appendChild(el("td", { class: "num", "data-metric": "lag_p50_ms" }, fmt(g.lag_p50_ms)));
      tr.appendChild(el("td", { class: "num", "data-metric": "lag_p99_ms" }, fmt(g.lag_p99_ms)));
      tr.appendChild(el("td", { class: "num dropped", "data-metric": "dropped",
        "data-any": String(g.dropped > 0) },
        g.dropped + (g.dropped ? " (" + percent(g.dropped_fraction) + ")" : "")));
      tr.appendChild(el("td", { class: "num", "data-metric": "in_flight" },
        g.in_flight === null || g.in_flight === undefined ? "–" : g.in_flight));
      els.arrivalRows.appendChild(tr);
    });

    var metricRows = data.metrics || [];
    els.metricsTitle.hidden = metricRows.length === 0;
    els.metrics.hidden = metricRows.length === 0;
    clear(els.metricRows);
    metricRows.forEach(function (m) {
      var tr = el("tr", { "data-key": m.key, "data-kind": m.kind });
      tr.appendChild(el("td", { class: "name" }, m.key));
      tr.appendChild(el("td", {}, m.kind));
      tr.appendChild(el("td", {}, m.unit));
      var lastLabel = m.kind === "counter" || m.kind === "meter" ? " /s" :
        (m.kind === "gauge" ? "" : " mean");
      tr.appendChild(el("td", { class: "num", "data-metric": "last" },
        m.last === null ? "–" : fmt(m.last) + lastLabel));
      var run = m.run || {};
      var text = Object.keys(run).map(function (k) { return k + " " + fmt(run[k]); }).join(" · ");
      if (m.missing) text += " · " + m.missing + " missing";
      tr.appendChild(el("td", { "data-metric": "run" }, text));
      els.metricRows.appendChild(tr);
    });

    clear(els.budgets);
    if (!data.budgets.length) els.budgets.appendChild(el("li", {}, "The scenario sets no budgets."));
    data.budgets.forEach(function (b) {
      els.budgets.appendChild(el("li", { "data-status": b.status }, b.text));
    });
    clear(els.failures);
    if (!data.failures.length) els.failures.appendChild(el("li", {}, "None."));
    data.failures.forEach(function (f) {
      els.failures.appendChild(el("li", { class: "failure" }, f.count + " × " + f.key + ": " + f.message));
    });
  }

  function say(text, kind) {
    els.message.textContent = text;
    els.message.setAttribute("data-kind", kind || "info");
  }

  function control(verb) {
    fetch("./swarm/" + verb, { method: "POST", headers: { Accept: "application/json" } })
      .then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (body) {
          if (response.ok) {
            say((verb === "pause" ? "Paused" : "Resumed") + ": the run is " + (body.state || "…"));
          } else if (response.status === 404) {
            say("This swarm cannot " + verb + " runs from the web UI.", "error");
          } else {
            say(body.error || (verb + " refused: HTTP " + response.status), "error");
          }
          refreshLive();
        });
      })
      .catch(function (error) { say(verb + " failed: " + error, "error"); });
  }

  function refreshLive() {
    fetch("./swarm/live", { cache: "no-store" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) { if (data) render(data); })
      .catch(function () { /* the master is gone or busy: keep the last figures */ });
  }

  function runList(body) {
    var runs = Array.isArray(body) ? body : (body && (body.runs || body.items)) || [];
    return runs.filter(function (r) { return r && typeof r === "object"; });
  }

  function refreshRuns() {
    if (runsMissing) return;
    fetch("./swarm/runs", { cache: "no-store" })
      .then(function (response) {
        if (response.status === 404) runsMissing = true; // no run list here: stop asking
        return response.ok ? response.json() : null;
      })
      .then(function (body) {
        clear(els.reports);
        var runs = body === null ? [] : runList(body);
        els.reportsTitle.hidden = runs.length === 0;
        runs.forEach(function (run) {
          var id = run.run_id || run.id || "";
          var href = run.report_url || run.report || run.url || run.href;
          var li = el("li", { "data-run": id });
          if (typeof href === "string" && /^(\.{0,2}\/|https?:)/.test(href)) {
            var link = el("a", { href: href, target: "_blank", rel: "noopener" }, id || href);
            li.appendChild(link);
          } else {
            li.appendChild(el("span", {}, id));
          }
          var status = run.status || run.state || run.verdict;
          if (status) li.appendChild(el("span", {}, " · " + status));
          els.reports.appendChild(li);
        });
      })
      .catch(function () { /* no run list in this swarm: show nothing */ });
  }

  function onTab() {
    return new URLSearchParams(window.location.search).get("tab") === TAB;
  }

  function place() {
    // Right under the tab bar. React does not own this node: it only adds, moves and removes
    // its own children of the same parent, so the panel stays where it was put (checked
    // again every 250 ms) and is hidden whenever another tab is chosen.
    var tabs = document.querySelector("#root [role=tablist]");
    if (!tabs) return false;
    var anchor = tabs.closest(".MuiTabs-root") || tabs;
    var holder = anchor.parentElement;
    if (panel.parentElement !== holder || anchor.nextSibling !== panel) {
      holder.insertBefore(panel, anchor.nextSibling);
    }
    return true;
  }

  function update() {
    var visible = onTab() && place();
    if (visible && panel.hidden) {
      panel.hidden = false;
      refreshLive();
      refreshRuns();
      liveTimer = window.setInterval(refreshLive, LIVE_EVERY_MS);
      runsTimer = window.setInterval(refreshRuns, RUNS_EVERY_MS);
    } else if (!visible && !panel.hidden) {
      panel.hidden = true;
      window.clearInterval(liveTimer);
      window.clearInterval(runsTimer);
    }
  }

  function start() {
    build();
    update();
    window.setInterval(update, 250);
    window.addEventListener("popstate", update);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
