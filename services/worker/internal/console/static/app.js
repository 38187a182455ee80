// Hookline console: the overview's live rate chart. Polls /console/api/overview every few
// seconds and draws the per-second rates as SVG polylines; no libraries, nothing from the network.
(function () {
  "use strict";
  var svg = document.getElementById("rate-chart");
  if (!svg) { return; }
  var NS = "http://www.w3.org/2000/svg";
  var W = 800, H = 200, PAD = 24;
  var series = [
    { key: "inbound", color: "#3b5bdb" },
    { key: "applied", color: "#2b8a3e" },
    { key: "rejected", color: "#c77700" },
    { key: "dlq", color: "#c92a2a" }
  ];
  function el(name, attrs) {
    var e = document.createElementNS(NS, name);
    for (var k in attrs) { e.setAttribute(k, attrs[k]); }
    return e;
  }
  function setText(id, text) {
    var e = document.getElementById(id);
    if (e) { e.textContent = text; }
  }
  function draw(rates) {
    while (svg.firstChild) { svg.removeChild(svg.firstChild); }
    var top = 1;
    rates.forEach(function (r) { series.forEach(function (s) { top = Math.max(top, r[s.key]); }); });
    top = Math.ceil(top * 1.1);
    for (var i = 0; i <= 4; i++) {
      var y = PAD + (H - 2 * PAD) * i / 4;
      svg.appendChild(el("line", { x1: PAD + 16, x2: W - 4, y1: y, y2: y, stroke: "#e2e5eb", "stroke-width": 1 }));
      var label = el("text", { x: 2, y: y + 4, "font-size": 10, fill: "#6b7385" });
      label.textContent = (top * (4 - i) / 4).toFixed(top < 8 ? 1 : 0);
      svg.appendChild(label);
    }
    if (rates.length < 2) { return; }
    var t0 = Date.parse(rates[0].at), t1 = Date.parse(rates[rates.length - 1].at);
    var span = Math.max(1, t1 - t0);
    series.forEach(function (s) {
      var pts = rates.map(function (r) {
        var x = PAD + 16 + (W - PAD - 20) * (Date.parse(r.at) - t0) / span;
        var y = H - PAD - (H - 2 * PAD) * r[s.key] / top;
        return x.toFixed(1) + "," + y.toFixed(1);
      });
      svg.appendChild(el("polyline", { points: pts.join(" "), fill: "none", stroke: s.color, "stroke-width": 2, "stroke-linejoin": "round" }));
    });
  }
  function refresh() {
    fetch("/console/api/overview", { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (res) {
        if (res.status === 401) { window.location = "/console/login"; throw new Error("logged out"); }
        return res.json();
      })
      .then(function (ov) {
        var rates = ov.rates || [];
        draw(rates);
        var t = ov.totals || {};
        setText("total-applied", String(t.applied || 0));
        setText("total-others", (t.duplicate || 0) + " · " + (t.stale || 0) + " · " + (t.rejected || 0));
        setText("dlq-depth", String(ov.dlqDepth || 0));
        (ov.lag || []).forEach(function (l) {
          if (l.consumer === "worker") { setText("worker-lag", l.pending + " · " + l.ackPending); }
        });
        var last = rates.length ? rates[rates.length - 1] : null;
        setText("chart-status", last
          ? rates.length + " samples · now " + last.inbound.toFixed(1) + " in/s, " + last.applied.toFixed(1) + " applied/s · updated " + new Date(ov.at).toLocaleTimeString()
          : "waiting for samples…");
        svg.setAttribute("data-samples", String(rates.length));
      })
      .catch(function () {});
  }
  refresh();
  setInterval(refresh, 3000);
})();
