// The history chart (plotly, served by this app) and the event log, both in site-local time.
"use strict";

import { $, COLOURS, el, localDateTime, localTime, localWall, num, words, zoneName } from "./util.js";

// History records carry either mean powers (pv_kw, ...) or the metered energies of each
// interval (pv_used_kwh, ...; islandgrid.strategy.base.FLOW_COLUMNS): turn both into kW.
function intervalHours(h) {
  const d = [];
  for (let i = 1; i < h.length && d.length < 50; i++) {
    const ms = Date.parse(h[i].ts) - Date.parse(h[i - 1].ts);
    if (ms > 0) d.push(ms);
  }
  if (!d.length) return 1 / 60;
  d.sort((p, q) => p - q);
  return d[Math.floor(d.length / 2)] / 3.6e6;
}
function historySeries(h, st) {
  const dt = intervalHours(h);
  const capacity = num(st.soc_kwh) !== null && num(st.soc_frac) > 0.01 ? st.soc_kwh / st.soc_frac : null;
  const kw = (r, p, e, eNeg) => {
    if (num(r[p]) !== null) return r[p];
    if (num(r[e]) === null) return null;
    return (r[e] - (eNeg && num(r[eNeg]) !== null ? r[eNeg] : 0)) / dt;
  };
  return {
    pv: h.map((r) => kw(r, "pv_kw", "pv_used_kwh")),
    battery: h.map((r) => kw(r, "battery_kw", "bat_out_kwh", "bat_in_kwh")),
    grid: h.map((r) => kw(r, "grid_kw", "grid_in_kwh", "grid_out_kwh")),
    genset: h.map((r) => kw(r, "genset_kw", "diesel_kwh")),
    load: h.map((r) => (num(r.load_kw) !== null ? r.load_kw : kw(r, "load_kw", "load_served_kwh"))),
    soc: h.map((r) => {
      if (num(r.soc_frac) !== null) return 100 * r.soc_frac;
      if (num(r.soc_kwh) !== null && capacity) return (100 * r.soc_kwh) / capacity;
      return null;
    }),
  };
}

/** Draw the chart; returns false when plotly is missing. */
export function renderChart(h, status, tz) {
  const chart = $("chart");
  if (typeof Plotly === "undefined") {
    chart.innerHTML = '<div class="msg">Chart unavailable: plotly.min.js did not load.</div>';
    return false;
  }
  // the site's wall clock on the date axis (plotly draws naive times as given)
  const x = h.map((r) => localWall(r.ts, tz));
  const series = historySeries(h, status || {});
  const traces = [
    { name: "PV", y: series.pv, color: COLOURS.pv },
    { name: "Battery (+ out)", y: series.battery, color: COLOURS.battery },
    { name: "Grid (+ in)", y: series.grid, color: COLOURS.grid },
    { name: "Genset", y: series.genset, color: COLOURS.genset },
    { name: "Load", y: series.load, color: COLOURS.load, dash: "dot" },
  ].map((t) => ({ x, y: t.y, name: t.name, type: "scatter", mode: "lines",
    line: { color: t.color, width: 2, dash: t.dash || "solid" }, hovertemplate: "%{y:.1f} kW" }));
  traces.push({ x, y: series.soc, name: "SoC", yaxis: "y2",
    type: "scatter", mode: "lines", line: { color: "#8e44ad", width: 2 }, hovertemplate: "%{y:.1f} %" });
  const last = h.length ? h[h.length - 1].ts : null;
  const layout = {
    margin: { l: 48, r: 16, t: 8, b: 56 }, height: 340, uirevision: "keep",
    paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
    font: { family: "DejaVu Sans, Arial, sans-serif", size: 11, color: "#4a5562" },
    xaxis: { gridcolor: "#eef1f4", type: "date" }, // the site-local wall clock; the zone is in the hint
    // power on top, SoC in its own strip below: on one shared axis the SoC line hid behind the load line
    yaxis: { title: { text: "kW" }, gridcolor: "#eef1f4", zerolinecolor: "#c9d1da", domain: [0.4, 1] },
    yaxis2: { title: { text: "SoC %" }, domain: [0, 0.22], anchor: "x", range: [0, 100], tickmode: "linear",
      tick0: 0, dtick: 50, gridcolor: "#eef1f4", zeroline: false },
    legend: { orientation: "h", y: -0.18, x: 0 }, hovermode: "x unified",
  };
  Plotly.react(chart, traces, layout, { displayModeBar: false, responsive: true });
  $("history-hint").textContent = h.length ? `${h.length} intervals, last ${localTime(last, tz)} ${zoneName(last, tz)}` : "";
  return true;
}

// --- events ----------------------------------------------------------------------------------
function eventClass(kind) {
  const k = String(kind || "").toLowerCase();
  if (/(loss|lost|fault|fail|trip|alarm|error|timeout|stale|shed|blackout|unplanned|abnormal|refused|abort|foreign)/.test(k)) return "alarm";
  if (/(restore|synced|reconnect|closed|normal|fresh|_ok)/.test(k)) return "good";
  if (/(mode|genset|resync|island|command|start)/.test(k)) return "warn";
  return "";
}

const shown = { last: null, freshUntil: new Map() };

export function renderEvents(events, tz) {
  const ol = $("event-log");
  // events newer than the newest one already shown get a brief highlight
  const key = (e) => `${e.ts}|${e.kind}|${e.message}`;
  const now = Date.now();
  if (shown.last !== null) {
    const at = events.map(key).lastIndexOf(shown.last);
    events.slice(at + 1).forEach((e) => shown.freshUntil.set(key(e), now + 3000));
  }
  for (const [k, until] of shown.freshUntil) if (until < now) shown.freshUntil.delete(k);
  ol.textContent = "";
  if (!events.length) {
    const li = el("li");
    li.appendChild(el("span", "empty", "No events yet."));
    ol.appendChild(li);
  }
  events.slice().reverse().forEach((e) => {
    const li = el("li", shown.freshUntil.has(key(e)) ? "fresh" : "");
    li.dataset.kind = e.kind;
    const t = el("span", "t", localTime(e.ts, tz));
    t.title = localDateTime(e.ts, tz) + " (" + e.ts + ")";
    const k = el("span", "k " + eventClass(e.kind), words(e.kind));
    k.title = e.kind;
    li.append(t, k, el("span", "m", e.message));
    ol.appendChild(li);
  });
  if (events.length) shown.last = key(events[events.length - 1]);
  const last = events.length ? events[events.length - 1].ts : null;
  $("events-count").textContent = events.length ? `${events.length} shown, newest first, ${zoneName(last, tz)}` : "";
}
