// proxylab report: every <figure class="plot"> gets an interactive uPlot chart drawn from the
// JSON next to it (hover for values, drag to zoom, double-click to reset, click a legend entry
// to hide or show its series). The static PNG stays in the page for printing and for readers
// without scripts. window.proxylabCharts holds the charts by name (the browser test uses it).
(function () {
  "use strict";
  function pct(x) {
    var q = 100 * (1 - Math.pow(10, -x));
    return (q >= 99 ? q.toPrecision(Math.max(3, Math.ceil(x) + 1)) : q.toFixed(0)) + " %";
  }
  function num(v) {
    return v == null ? "-" : String(+v.toFixed(3));
  }
  function markers(list) {
    return function (u) {
      var ctx = u.ctx, top = u.bbox.top, h = u.bbox.height;
      ctx.save();
      ctx.strokeStyle = "#777";
      ctx.fillStyle = "#444";
      ctx.setLineDash([5, 4]);
      ctx.font = Math.round(11 * devicePixelRatio) + "px sans-serif";
      list.forEach(function (m) {
        var x = u.valToPos(m.t, "x", true);
        if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) return;
        ctx.beginPath();
        ctx.moveTo(x, top);
        ctx.lineTo(x, top + h);
        ctx.stroke();
        ctx.fillText(m.label, x + 4, top + 12 * devicePixelRatio);
      });
      ctx.restore();
    };
  }
  function draw(fig, d) {
    var host = fig.querySelector(".iplot");
    var percent = d.x_kind === "percentile";
    var series = [{ label: percent ? "percentile" : "second", value: function (u, v) {
      return v == null ? "-" : percent ? pct(v) : num(v);
    } }];
    d.series.forEach(function (s) {
      series.push({ label: s.label, stroke: s.color, width: 1.5, value: function (u, v) { return num(v); } });
    });
    var opts = {
      title: d.title,
      width: Math.max(400, Math.min(host.clientWidth || 1000, 1050)),
      height: 340,
      series: series,
      scales: { x: { time: false } },
      axes: [
        percent ? { label: "percentile", values: function (u, ticks) { return ticks.map(pct); } }
                : { label: "seconds since the load started" },
        { label: d.y_label, size: 60 },
      ],
      cursor: { drag: { x: true, y: false } },
      hooks: { draw: [markers(d.markers)] },
    };
    var data = [d.x].concat(d.series.map(function (s) { return s.values; }));
    return new uPlot(opts, data, host);
  }
  function init() {
    window.proxylabCharts = {};
    var figs = document.querySelectorAll("figure.plot");
    Array.prototype.forEach.call(figs, function (fig) {
      var el = document.getElementById("chart-data-" + fig.dataset.chart);
      if (!el || typeof uPlot === "undefined") return;
      window.proxylabCharts[fig.dataset.chart] = draw(fig, JSON.parse(el.textContent));
      fig.classList.add("live");
    });
  }
  document.addEventListener("DOMContentLoaded", init);
})();
