// Martinet console: draws the dashboard charts (Chart.js) and keeps them current; everything else is htmx.
(function () {
  "use strict";
  var COLORS = { delivered: "#1d7a3a", pending: "#d99a00", failed: "#b42318" };
  var charts = {};

  function draw(id, data, labels) {
    var canvas = document.getElementById(id);
    if (!canvas || !window.Chart) { return; }
    var datasets = ["delivered", "pending", "failed"].map(function (key) {
      return { label: labels[key], data: data.series[key], backgroundColor: COLORS[key], stack: "s" };
    });
    if (charts[id]) {
      charts[id].data.labels = data.labels;
      charts[id].data.datasets.forEach(function (set, i) { set.data = datasets[i].data; });
      charts[id].update("none");
      return;
    }
    charts[id] = new window.Chart(canvas, {
      type: "bar",
      data: { labels: data.labels, datasets: datasets },
      options: {
        animation: false, responsive: true, maintainAspectRatio: false,
        scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } },
        plugins: { legend: { position: "bottom" } }
      }
    });
  }

  function refresh(section) {
    fetch(section.getAttribute("data-series"), { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (answer) { return answer.ok ? answer.json() : null; })
      .then(function (body) {
        if (!body) { return; }
        draw("chart-hourly", body.hourly, body.labels);
        draw("chart-daily", body.daily, body.labels);
      })
      .catch(function () { /* the next round tries again */ });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var section = document.querySelector("section.charts[data-series]");
    if (!section) { return; }
    refresh(section);
    window.setInterval(function () { if (!document.hidden) { refresh(section); } }, 5000);
  });
}());
