// The power-flow diagram: five devices around the AC bus. A device whose telemetry the controller
// flags stale (status.stale_devices), or every device when the status is not live, is greyed and
// shows "stale" with its last value and age instead of a live-looking number.
"use strict";

import { $, COLOURS, fmtAge, fmtKw, fmtPct, first, frozen, num, svg, words } from "./util.js";

// Nodes left of the bus feed it (path drawn node -> bus); nodes right of it are drawn bus -> node.
// `device` is the controller's device (status.telemetry_age_by_device_s) the node's figures come from.
const NODES = {
  pv: { title: "PV", x: 40, y: 20, side: "left", device: "pv" },
  grid: { title: "Grid", x: 40, y: 127, side: "left", device: "pcc" },
  genset: { title: "Genset", x: 40, y: 234, side: "left", device: "genset" },
  battery: { title: "Battery", x: 430, y: 40, side: "right", device: "pcs" },
  load: { title: "Load", x: 430, y: 214, side: "right", device: "load" },
};
const NODE_W = 190, NODE_H = 76, BUS_L = 322, BUS_R = 338;
const flowEls = {};

export function buildFlow() {
  const links = $("links"), nodes = $("nodes");
  for (const [key, n] of Object.entries(NODES)) {
    const cy = n.y + NODE_H / 2;
    const x1 = n.side === "left" ? n.x + NODE_W : BUS_R;
    const x2 = n.side === "left" ? BUS_L : n.x;
    const d = `M${x1} ${cy} L${x2} ${cy}`;
    const base = svg("path", { d, class: "link base", "stroke-width": 12 }, links);
    const line = svg("path", { d, class: "link", stroke: COLOURS[key], "stroke-width": 3 }, links);
    const chev = svg("path", { class: "chev", fill: COLOURS[key] }, links);
    const g = svg("g", { class: "node", "data-node": key, transform: `translate(${n.x},${n.y})` }, nodes);
    svg("rect", { width: NODE_W, height: NODE_H, rx: 10, stroke: COLOURS[key] }, g);
    svg("rect", { width: 6, height: NODE_H - 20, x: 0, y: 10, rx: 3, fill: COLOURS[key], stroke: "none", class: "stripe" }, g);
    const title = svg("text", { x: 18, y: 22, class: "title" }, g);
    title.textContent = n.title;
    const value = svg("text", { x: 18, y: 51, class: "value", "data-testid": "flow-" + key }, g);
    value.id = "flow-" + key;
    value.textContent = "—";
    const sub = svg("text", { x: 18, y: 68, class: "sub" }, g);
    sub.id = "flow-" + key + "-sub";
    flowEls[key] = { base, line, chev, g, value, sub, x1, x2, cy };
  }
  // the PCC breaker sits on the grid link
  const gl = flowEls.grid;
  const bx = (gl.x1 + gl.x2) / 2 + 14;
  flowEls.breaker = {
    box: svg("rect", { x: bx - 9, y: gl.cy - 9, width: 18, height: 18, rx: 3, class: "breaker-closed" }, links),
    label: svg("text", { x: bx, y: gl.cy - 16, class: "breaker-label" }, links),
  };
}

function drawLink(key, kw, towardsBus, active) {
  const el = flowEls[key];
  const a = num(kw) === null ? 0 : Math.abs(kw);
  const flowing = active && a >= 0.5;
  const width = flowing ? 3 + 9 * Math.min(1, a / 250) : 2;
  el.line.setAttribute("stroke-width", width.toFixed(1));
  el.line.setAttribute("stroke", flowing ? COLOURS[key] : "#c5ced8");
  // path direction is left -> right; flow "forward" when it moves that way
  const forward = NODES[key].side === "left" ? towardsBus : !towardsBus;
  el.line.classList.toggle("flowing", flowing);
  el.line.classList.toggle("reverse", flowing && !forward);
  el.g.classList.toggle("idle", !flowing);
  if (flowing) {
    const mx = key === "grid" ? el.x1 + (el.x2 - el.x1) * 0.28 : (el.x1 + el.x2) / 2;
    const s = 6 + width / 2, dir = forward ? 1 : -1;
    el.chev.setAttribute("d", `M${mx - dir * s} ${el.cy - s} L${mx + dir * s} ${el.cy} L${mx - dir * s} ${el.cy + s}z`);
    el.chev.setAttribute("fill", COLOURS[key]);
  } else {
    el.chev.setAttribute("d", "");
  }
}

/** The devices whose figures are not live now: the controller's stale list, or all when frozen. */
export function staleDevices(s) {
  if (frozen(s)) return new Set(Object.values(NODES).map((n) => n.device));
  return new Set(Array.isArray(s.stale_devices) ? s.stale_devices : []);
}

export function renderFlow(s) {
  const pv = first(s.pv_kw), bat = first(s.battery_kw), gen = first(s.genset_kw);
  const grid = first(s.grid_kw), load = first(s.load_kw);
  const breakerOpen = String(s.breaker || "").toLowerCase() === "open";
  const stale = staleDevices(s);
  const live = (key) => !stale.has(NODES[key].device);
  drawLink("pv", pv, true, live("pv"));
  drawLink("grid", grid, (grid ?? 0) >= 0, !breakerOpen && live("grid"));
  drawLink("genset", gen, true, live("genset"));
  drawLink("battery", bat, (bat ?? 0) >= 0, live("battery"));
  drawLink("load", load, false, live("load"));

  const set = (key, value, sub) => {
    flowEls[key].value.textContent = value;
    flowEls[key].sub.textContent = sub;
  };
  set("pv", fmtKw(pv), (pv ?? 0) > 0.5 ? "generating" : "no output");
  set("grid", breakerOpen ? "0 kW" : fmtKw(grid),
    breakerOpen ? "disconnected" : (grid ?? 0) > 0.5 ? "importing" : (grid ?? 0) < -0.5 ? "exporting" : "connected, idle");
  const manager = s.genset_manager === "failed" ? "failed" : null;
  set("genset", fmtKw(gen), manager || (s.genset_state ? words(s.genset_state) : ((gen ?? 0) > 0.5 ? "running" : "off")));
  const soc = num(s.soc_frac) !== null ? " · SoC " + fmtPct(s.soc_frac) : "";
  const batState = s.bms_tripped ? "BMS tripped" : (bat ?? 0) > 0.5 ? "discharging" : (bat ?? 0) < -0.5 ? "charging" : "standby";
  set("battery", fmtKw(bat), batState + soc);
  const critical = num(s.unserved_critical_kw) ?? 0;
  const unserved = first(s.unserved_kw, s.shed_kw) ?? 0;
  let loadSub = "AI compute room";
  if (critical > 0.05) loadSub = "critical unserved " + fmtKw(critical);
  else if (unserved > 0.05) loadSub = "shed " + fmtKw(unserved) + " (non-critical)";
  set("load", fmtKw(load), loadSub);
  flowEls.load.g.classList.toggle("alarm", critical > 0.05);
  flowEls.genset.g.classList.toggle("alarm", manager !== null);
  flowEls.battery.g.classList.toggle("alarm", !!s.bms_tripped);

  // stale devices: no live-looking number, the last value and its age instead
  const ages = s.telemetry_age_by_device_s || {};
  for (const [key, n] of Object.entries(NODES)) {
    const isStale = stale.has(n.device);
    flowEls[key].g.classList.toggle("stale", isStale);
    flowEls[key].g.dataset.stale = isStale ? "true" : "false";
    if (isStale) {
      const last = flowEls[key].value.textContent;
      flowEls[key].value.textContent = "stale";
      flowEls[key].sub.textContent = `last ${last} · ${fmtAge(num(ages[n.device]))} old`;
    }
  }

  const br = flowEls.breaker;
  br.box.setAttribute("class", breakerOpen ? "breaker-open" : "breaker-closed");
  br.label.textContent = breakerOpen ? "OPEN" : "PCC";
  br.label.setAttribute("fill", breakerOpen ? "#c0392b" : "#6b7785");
}
