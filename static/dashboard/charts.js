/* Draws the dashboard's charts with ECharts (SVG renderer) from the descriptions the server
   puts in the page with json_script. Without JavaScript the tables beside them stay open. */
(function () {
  "use strict";

  // Colours with at least 3:1 contrast against white (WCAG 2.1 non-text contrast).
  var PALETTE = ["#1d5fa8", "#b3461b", "#2f7d32", "#7b3fa0", "#8a6d00", "#0f7480", "#a8325e"];
  var STATE_COLOURS = {
    healthy: "#1e6b22",
    unhealthy: "#b3261e",
    stale: "#7a5c00",
    unknown: "#4d5561",
    maintenance: "#1d5fa8",
    disabled: "#3c4043",
  };
  var TEXT = "#1f2328";
  var charts = [];

  // ECharts writes what a tooltip formatter returns into the page as HTML, and names, cities and
  // references are whatever users typed: every value a formatter below adds goes through text().
  // ECharts' own formatters (the default tooltips, legend tooltips) encode what they show, and
  // labels, legends and axes are drawn as SVG text, which is never read as markup.
  function text(value) {
    return echarts.format.encodeHTML(value === null || value === undefined ? "" : String(value));
  }

  // Every tooltip carries this class (the browser tests find the tooltip by it).
  function tooltip(options) {
    options.className = "chart-tooltip";
    return options;
  }

  function base(spec) {
    return {
      color: PALETTE,
      aria: { enabled: true, label: { description: spec.title } },
      animation: false,
      textStyle: { color: TEXT, fontFamily: "system-ui, sans-serif" },
      tooltip: tooltip({ trigger: "item" }),
    };
  }

  function withUnit(unit) {
    return function (value) { return value + (unit || ""); };
  }

  function build(spec) {
    var option = base(spec);
    var series = spec.series || [];
    if (spec.kind === "bar" || spec.kind === "bar-line") {
      option.tooltip = tooltip({ trigger: "axis" });
      option.legend = { top: 0, textStyle: { color: TEXT } };
      option.grid = { left: 44, right: 16, top: 36, bottom: 32 };
      option.xAxis = { type: "category", data: spec.categories, axisLabel: { color: TEXT, hideOverlap: true } };
      option.yAxis = { type: "value", minInterval: 1, axisLabel: { color: TEXT, formatter: withUnit(spec.unit) } };
      option.series = series.map(function (s, i) {
        var line = spec.kind === "bar-line" && i > 0;
        return { name: s.name, type: line ? "line" : "bar", data: s.values, symbolSize: 6 };
      });
    } else if (spec.kind === "line") {
      // Days without a value stay gaps; each point is marked so a single day still shows.
      // ECharts encodes what valueFormatter returns, as it does the series names beside it.
      option.tooltip = tooltip({ trigger: "axis", valueFormatter: function (v) { return v === null || v === undefined ? "–" : v + (spec.unit || ""); } });
      // One legend row per line under the chart: long names (planning policies) shortened, full in the tooltip.
      option.legend = {
        bottom: 0, left: 8, orient: "vertical", itemGap: 4,
        textStyle: { color: TEXT, width: 300, overflow: "truncate" }, tooltip: { show: true },
      };
      option.grid = { left: 52, right: 16, top: 12, bottom: 36 + 20 * series.length };
      option.xAxis = { type: "category", data: spec.categories, axisLabel: { color: TEXT, hideOverlap: true } };
      option.yAxis = { type: "value", min: 0, axisLabel: { color: TEXT, formatter: withUnit(spec.unit) } };
      option.series = series.map(function (s) {
        return { name: s.name, type: "line", data: s.values, symbol: "circle", symbolSize: 7, connectNulls: true };
      });
    } else if (spec.kind === "routes") {
      // A map-like plot: longitude across, latitude up; one line per route from the hub and back.
      option.tooltip = tooltip({ trigger: "item", formatter: function (p) {
        return p.seriesType === "scatter" ? "Hub: " + text(p.data.name) : text(p.data.route) + " (" + text(p.seriesName) + "): " + text(p.data.name);
      } });
      option.legend = { top: 0, type: "scroll", textStyle: { color: TEXT } };
      option.grid = { left: 56, right: 24, top: 40, bottom: 36 };
      option.xAxis = { type: "value", scale: true, name: "Longitude", nameLocation: "middle", nameGap: 24,
        axisLabel: { color: TEXT, formatter: function (v) { return v.toFixed(1) + "°"; } } };
      option.yAxis = { type: "value", scale: true, name: "Latitude", nameLocation: "middle", nameGap: 40,
        axisLabel: { color: TEXT, formatter: function (v) { return v.toFixed(1) + "°"; } } };
      option.series = spec.routes.map(function (route) {
        var points = [{ name: "hub", route: route.reference, value: [route.hub.lon, route.hub.lat], symbolSize: 0 }];
        route.stops.forEach(function (stop) {
          points.push({ name: stop.sequence + ". " + stop.city, route: route.reference, value: [stop.lon, stop.lat] });
        });
        points.push({ name: "hub", route: route.reference, value: [route.hub.lon, route.hub.lat], symbolSize: 0 });
        // The legend names the vehicle (short); the tooltip adds the route.
        return {
          name: route.vehicle, type: "line", data: points, symbol: "circle", symbolSize: 8,
          lineStyle: { width: 2 },
          label: { show: true, color: TEXT, fontSize: 11, position: "right", formatter: function (p) { return p.data.name === "hub" ? "" : p.data.name; } },
          labelLayout: { hideOverlap: true },
        };
      }).concat([{
        name: "Hub", type: "scatter", symbol: "rect", symbolSize: 14, itemStyle: { color: TEXT }, z: 5,
        data: spec.hubs.map(function (hub) { return { name: hub.name, value: [hub.lon, hub.lat] }; }),
        label: { show: true, position: "bottom", color: TEXT, fontWeight: "bold", formatter: "{b}" },
      }]);
    } else if (spec.kind === "hbar") {
      option.tooltip = tooltip({ trigger: "axis", axisPointer: { type: "shadow" } });
      // Category names wrap within a fixed margin rather than run off the left edge.
      option.grid = { left: 150, right: 48, top: series.length > 1 ? 32 : 8, bottom: 28 };
      if (series.length > 1) option.legend = { top: 0, textStyle: { color: TEXT } };
      option.yAxis = {
        type: "category", data: spec.categories.slice().reverse(),
        axisLabel: { color: TEXT, width: 136, overflow: "break", lineHeight: 14 },
      };
      option.xAxis = { type: "value", minInterval: 1, axisLabel: { color: TEXT, formatter: withUnit(spec.unit) } };
      option.series = series.map(function (s) {
        return {
          name: s.name, type: "bar", data: s.values.slice().reverse(),
          label: { show: true, position: "right", color: TEXT, formatter: function (p) { return p.value + (spec.unit || ""); } },
        };
      });
    } else if (spec.kind === "pie") {
      option.legend = { bottom: 0, textStyle: { color: TEXT } };
      option.series = [{
        name: series[0].name, type: "pie", radius: ["38%", "68%"], top: -10, bottom: 24,
        data: spec.categories.map(function (c, i) { return { name: c, value: series[0].values[i] }; }),
        // Values inside the slices (white on these colours passes 4.5:1); the legend names them.
        label: { position: "inside", color: "#ffffff", fontWeight: "bold", formatter: "{c}" },
      }];
    } else if (spec.kind === "funnel") {
      option.series = [{
        name: series[0].name, type: "funnel", sort: "none", gap: 2, left: "5%", width: "70%", minSize: "8%",
        data: spec.categories.map(function (c, i) { return { name: c, value: series[0].values[i] }; }),
        label: { show: true, position: "right", color: TEXT, formatter: "{b}: {c}" },
        labelLine: { show: true },
      }];
    } else if (spec.kind === "graph") {
      option.tooltip = tooltip({ trigger: "item", formatter: function (p) {
        return p.dataType === "node"
          ? text(p.data.label) + " (" + text(p.data.name) + "): " + text(p.data.stateLabel)
          : text(p.data.source) + " needs " + text(p.data.target);
      } });
      option.series = [{
        type: "graph", layout: "none", roam: true, draggable: false,
        edgeSymbol: ["none", "arrow"], edgeSymbolSize: 9, symbolSize: 22,
        label: { show: true, position: "bottom", color: TEXT, formatter: "{b}" },
        lineStyle: { color: "#5f6368", width: 1.5, curveness: 0.08 },
        data: spec.nodes.map(function (n) {
          return {
            name: n.name, label: n.label, stateLabel: n.stateLabel, url: n.url, x: n.x * 200, y: n.y * 70,
            symbol: n.required ? "roundRect" : "circle",
            symbolSize: n.selected ? 30 : 22,
            itemStyle: { color: STATE_COLOURS[n.state] || "#5f6368", borderColor: n.selected ? TEXT : "#ffffff", borderWidth: n.selected ? 3 : 1 },
          };
        }),
        links: spec.links,
      }];
    }
    return option;
  }

  function render(root) {
    if (typeof echarts === "undefined") return;
    var scope = root && root.querySelectorAll ? root : document;
    var targets = Array.prototype.slice.call(scope.querySelectorAll("[data-chart]"));
    if (scope.matches && scope.matches("[data-chart]")) targets.push(scope);
    targets.forEach(function (el) {
      if (el.getAttribute("data-rendered")) return;
      var source = document.getElementById(el.getAttribute("data-chart"));
      if (!source) return;
      var spec = JSON.parse(source.textContent);
      el.hidden = false;
      var chart = echarts.init(el, null, { renderer: "svg" });
      chart.setOption(build(spec));
      if (spec.kind === "graph") {
        chart.on("click", function (params) {
          if (params.dataType !== "node" || !params.data.url) return;
          if (window.htmx) {
            htmx.ajax("GET", params.data.url, { target: "#service-detail", swap: "innerHTML" }).then(function () {
              history.pushState({ htmx: true }, "", params.data.url);
            });
          } else {
            window.location.href = params.data.url;
          }
        });
      }
      el.setAttribute("data-rendered", "true");
      charts.push(chart);
      // The chart is drawn, so its table folds away (one click brings it back).
      var details = el.parentNode.querySelector("details.chart-table");
      if (details) details.open = false;
    });
  }

  function forget(root) {
    charts = charts.filter(function (chart) {
      var dom = chart.getDom();
      if (!document.body.contains(dom) || (root && root.contains(dom))) {
        chart.dispose();
        return false;
      }
      return true;
    });
  }

  document.addEventListener("DOMContentLoaded", function () { render(document); });
  document.addEventListener("htmx:beforeSwap", function (event) { forget(event.detail.target); });
  document.addEventListener("htmx:load", function (event) { render(event.detail.elt); });
  // Mark the tile of the service whose panel is open (the board refreshes on its own).
  function markSelectedService() {
    var panel = document.querySelector("[data-selected-service]");
    var name = panel ? panel.getAttribute("data-selected-service") : null;
    document.querySelectorAll("[data-service]").forEach(function (tile) {
      if (tile.getAttribute("data-service") === name) tile.setAttribute("aria-current", "true");
      else tile.removeAttribute("aria-current");
    });
  }

  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target;
    // Bring a newly opened service panel into view and give it the keyboard focus.
    if (target && target.id === "service-detail") {
      var heading = target.querySelector("h2");
      if (heading) { heading.focus({ preventScroll: true }); heading.scrollIntoView({ block: "start" }); }
    }
    markSelectedService();
  });
  var pending;
  window.addEventListener("resize", function () {
    clearTimeout(pending);
    pending = setTimeout(function () { charts.forEach(function (chart) { chart.resize(); }); }, 150);
  });
})();
