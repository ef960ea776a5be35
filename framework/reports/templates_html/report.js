// swarm report: pointer read-outs on the time charts and sortable tables. No libraries,
// no network; the page is complete without this script, which only adds interaction.
(function () {
  "use strict";
  var tooltip = document.getElementById("tooltip");

  function elapsed(seconds) {
    var s = Math.round(seconds), sign = s < 0 ? "-" : "";
    s = Math.abs(s);
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    var pad = function (n) { return (n < 10 ? "0" : "") + n; };
    return sign + (h ? h + ":" + pad(m) : m) + ":" + pad(sec);
  }

  function nearest(points, x) {
    var lo = 0, hi = points.length - 1;
    if (hi < 0) { return null; }
    while (lo < hi) {
      var mid = (lo + hi) >> 1;
      if (points[mid][0] < x) { lo = mid + 1; } else { hi = mid; }
    }
    if (lo > 0 && Math.abs(points[lo - 1][0] - x) < Math.abs(points[lo][0] - x)) { lo -= 1; }
    return points[lo];
  }

  function text(tag, content, attrs) {
    var node = document.createElement(tag);
    node.textContent = content;
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    return node;
  }

  function attachReadout(svg) {
    var plot = (svg.getAttribute("data-plot") || "").split(",").map(Number);
    var data;
    try { data = JSON.parse(svg.getAttribute("data-series") || "{}"); } catch (e) { return; }
    if (plot.length !== 6 || !data.lines) { return; }
    var left = plot[0], top = plot[1], width = plot[2], height = plot[3], x0 = plot[4], x1 = plot[5];
    var cursor = document.createElementNS("http://www.w3.org/2000/svg", "line");
    cursor.setAttribute("class", "cursor");
    cursor.setAttribute("y1", top);
    cursor.setAttribute("y2", top + height);
    cursor.style.display = "none";
    svg.appendChild(cursor);
    svg.addEventListener("mousemove", function (event) {
      var matrix = svg.getScreenCTM();
      if (!matrix) { return; }
      var point = svg.createSVGPoint();
      point.x = event.clientX;
      point.y = event.clientY;
      var local = point.matrixTransform(matrix.inverse());
      if (local.x < left || local.x > left + width || local.y < top || local.y > top + height) {
        cursor.style.display = "none";
        tooltip.hidden = true;
        return;
      }
      var x = x0 + (local.x - left) / width * (x1 - x0);
      tooltip.replaceChildren();
      var shownX = null;
      data.lines.forEach(function (line) {
        var p = nearest(line.points, x);
        if (!p) { return; }
        shownX = shownX === null ? p[0] : shownX;
        var row = document.createElement("div");
        var swatch = text("span", "", { "class": "sw" });
        swatch.style.background = line.color;
        row.appendChild(swatch);
        row.appendChild(document.createTextNode(line.label + ": " + (p[1] === null ? "–" : p[1])));
        tooltip.appendChild(row);
      });
      if (shownX === null) { return; }
      tooltip.insertBefore(text("div", "t = " + elapsed(shownX), { "class": "t" }), tooltip.firstChild);
      var cx = left + (shownX - x0) / ((x1 - x0) || 1) * width;
      cursor.setAttribute("x1", cx);
      cursor.setAttribute("x2", cx);
      cursor.style.display = "";
      tooltip.hidden = false;
      tooltip.style.left = Math.min(event.clientX + 14, window.innerWidth - 200) + "px";
      tooltip.style.top = (event.clientY + 14) + "px";
    });
    svg.addEventListener("mouseleave", function () {
      cursor.style.display = "none";
      tooltip.hidden = true;
    });
  }

  function sortKey(cell) {
    var raw = cell.getAttribute("data-sort");
    if (raw !== null) {
      return raw === "" ? -Infinity : Number(raw);
    }
    return cell.textContent.trim().toLowerCase();
  }

  function makeSortable(table) {
    var heads = table.tHead ? table.tHead.rows[0].cells : [];
    Array.prototype.forEach.call(heads, function (th, column) {
      th.addEventListener("click", function () {
        var body = table.tBodies[table.tBodies.length - 1];
        var rows = Array.prototype.slice.call(body.rows);
        var descending = !th.classList.contains("sorted-desc");
        Array.prototype.forEach.call(heads, function (h) { h.classList.remove("sorted-asc", "sorted-desc"); });
        th.classList.add(descending ? "sorted-desc" : "sorted-asc");
        rows.sort(function (a, b) {
          var ka = sortKey(a.cells[column]), kb = sortKey(b.cells[column]);
          var order = ka < kb ? -1 : ka > kb ? 1 : 0;
          return descending ? -order : order;
        });
        rows.forEach(function (row) { body.appendChild(row); });
      });
    });
  }

  document.querySelectorAll("svg.line-chart").forEach(attachReadout);
  document.querySelectorAll("table.sortable").forEach(makeSortable);
  document.documentElement.setAttribute("data-ready", "true");
}());
