// islandgrid live dashboard: polls the API (status and events every second, history every
// two seconds, KPIs every five) and draws the power flow, the state machine, the tiles, a
// history chart (plotly, served by this app) and the event log. No framework; nothing from other hosts.
"use strict";

(function () {
  const COLOURS = { pv: "#f2b705", battery: "#2e86de", grid: "#7f8c8d", genset: "#c0392b", load: "#2c3e50" };
  // The controller's modes (islandgrid.controller.core.MODES), in drawing order.
  const STATES = [
    { id: "grid_tied", label: "Grid-tied" },
    { id: "islanding", label: "Islanding" },
    { id: "islanded", label: "Islanded" },
    { id: "resync", label: "Resynchronising" },
    { id: "black_start", label: "Black start" },
    { id: "blackout", label: "Blackout" },
    { id: "safe", label: "Safe (blind)" },
  ];
  const HISTORY_KEEP = 720;
  const TOKEN_KEY = "islandgrid-token";
  const SVGNS = "http://www.w3.org/2000/svg";

  const state = { history: [], lastHistoryTs: null, status: null, kpis: null, lastEvent: null, failures: 0,
    protected: false, polls: 0 };
  window.__islandgrid = state; // for debugging in the browser console

  const $ = (id) => document.getElementById(id);

  // --- helpers ------------------------------------------------------------------------------
  function num(v) { return typeof v === "number" && Number.isFinite(v) ? v : null; }
  function first(...vals) { for (const v of vals) { if (num(v) !== null) return v; } return null; }
  function fmtKw(v) {
    if (num(v) === null) return "—";
    const a = Math.abs(v);
    return (a >= 100 ? a.toFixed(0) : a.toFixed(1)) + " kW";
  }
  function fmtPct(frac, digits) { return num(frac) === null ? "—" : (100 * frac).toFixed(digits ?? 0) + " %"; }
  function hhmmss(ts) {
    if (!ts) return "";
    const m = /T(\d\d:\d\d:\d\d)/.exec(ts);
    return m ? m[1] : ts;
  }
  function normMode(m) {
    if (!m) return "";
    let s = String(m).toLowerCase().replace(/[\s-]+/g, "_");
    const alias = { grid: "grid_tied", grid_connected: "grid_tied", on_grid: "grid_tied", island: "islanded",
      off_grid: "islanded", resynchronising: "resync", resynchronizing: "resync", blackstart: "black_start" };
    return alias[s] || s;
  }
  function modeLabel(m) {
    const st = STATES.find((x) => x.id === m);
    return st ? st.label : (m || "—").replace(/_/g, " ");
  }
  function svg(tag, attrs, parent) {
    const el = document.createElementNS(SVGNS, tag);
    for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
    if (parent) parent.appendChild(el);
    return el;
  }
  function token() { return sessionStorage.getItem(TOKEN_KEY) || ""; }
  function headers() {
    const t = token();
    return t ? { Authorization: "Bearer " + t } : {};
  }
  async function getJson(path) {
    const r = await fetch(path, { headers: headers(), cache: "no-store" });
    if (r.status === 401 || r.status === 403) {
      const err = new Error("auth");
      err.auth = true;
      throw err;
    }
    if (!r.ok) throw new Error(path + ": HTTP " + r.status);
    return r.json();
  }
  function banner(text, kind) {
    const b = $("banner");
    if (!text) { b.hidden = true; return; }
    b.textContent = text;
    b.className = "banner" + (kind ? " " + kind : "");
    b.hidden = false;
  }

  // --- power flow ---------------------------------------------------------------------------
  // Nodes left of the bus feed it (path drawn node -> bus); nodes right of it are drawn bus -> node.
  const NODES = {
    pv: { title: "PV", x: 40, y: 20, side: "left" },
    grid: { title: "Grid", x: 40, y: 127, side: "left" },
    genset: { title: "Genset", x: 40, y: 234, side: "left" },
    battery: { title: "Battery", x: 430, y: 40, side: "right" },
    load: { title: "Load", x: 430, y: 214, side: "right" },
  };
  const NODE_W = 190, NODE_H = 76, BUS_L = 322, BUS_R = 338;
  const flowEls = {};

  function buildFlow() {
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
      svg("rect", { width: 6, height: NODE_H - 20, x: 0, y: 10, rx: 3, fill: COLOURS[key], stroke: "none" }, g);
      const title = svg("text", { x: 18, y: 22, class: "title" }, g);
      title.textContent = n.title;
      const value = svg("text", { x: 18, y: 51, class: "value", "data-testid": "flow-" + key }, g);
      value.id = "flow-" + key;
      value.textContent = "—";
      const sub = svg("text", { x: 18, y: 68, class: "sub" }, g);
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

  function renderFlow(s) {
    const pv = first(s.pv_kw), bat = first(s.battery_kw), gen = first(s.genset_kw);
    const grid = first(s.grid_kw), load = first(s.load_kw, s.load_served_kw);
    const breakerOpen = String(s.breaker || "").toLowerCase() === "open";
    drawLink("pv", pv, true, true);
    drawLink("grid", grid, (grid ?? 0) >= 0, !breakerOpen);
    drawLink("genset", gen, true, true);
    drawLink("battery", bat, (bat ?? 0) >= 0, true);
    drawLink("load", load, false, true);

    flowEls.pv.value.textContent = fmtKw(pv);
    flowEls.pv.sub.textContent = (pv ?? 0) > 0.5 ? "generating" : "no sun";
    flowEls.grid.value.textContent = breakerOpen ? "0 kW" : fmtKw(grid);
    flowEls.grid.sub.textContent = breakerOpen ? "disconnected" : (grid ?? 0) > 0.5 ? "importing" : (grid ?? 0) < -0.5 ? "exporting" : "connected, idle";
    flowEls.genset.value.textContent = fmtKw(gen);
    flowEls.genset.sub.textContent = s.genset_state ? String(s.genset_state).replace(/_/g, " ") : ((gen ?? 0) > 0.5 ? "running" : "off");
    flowEls.battery.value.textContent = fmtKw(bat);
    const soc = num(s.soc_frac) !== null ? " · SoC " + fmtPct(s.soc_frac) : "";
    flowEls.battery.sub.textContent = ((bat ?? 0) > 0.5 ? "discharging" : (bat ?? 0) < -0.5 ? "charging" : "standby") + soc;
    flowEls.load.value.textContent = fmtKw(load);
    const shed = first(s.shed_kw, s.shed_load_kw);
    flowEls.load.sub.textContent = (shed ?? 0) > 0.05 ? "shed " + fmtKw(shed) : "AI compute room";

    const br = flowEls.breaker;
    br.box.setAttribute("class", breakerOpen ? "breaker-open" : "breaker-closed");
    br.label.textContent = breakerOpen ? "OPEN" : "PCC";
    br.label.setAttribute("fill", breakerOpen ? "#c0392b" : "#6b7785");
  }

  // --- state machine ------------------------------------------------------------------------
  // Two loops share "islanded": grid-tied -> (islanding) -> islanded -> resync -> grid-tied on the
  // left, islanded -> blackout -> black start -> islanded on the right.
  const SM_W = 104, SM_H = 34;
  const SM_CENTRES = {
    grid_tied: [56, 100], islanding: [170, 30], resync: [170, 170], islanded: [284, 100],
    black_start: [410, 30], blackout: [410, 170], safe: [56, 188],
  };
  const smNodes = {};

  function buildStates() {
    const edges = $("sm-edges"), nodes = $("sm-nodes");
    const edge = (d, label, lx, ly, anchor) => {
      svg("path", { d, class: "sm-edge", "marker-end": "url(#sm-arrow)" }, edges);
      const t = svg("text", { x: lx, y: ly, class: "sm-edge-label" }, edges);
      if (anchor) t.setAttribute("text-anchor", anchor);
      t.textContent = label;
    };
    edge("M92 83 L128 50", "planned", 100, 60, "end");
    edge("M212 47 L246 80", "open", 240, 58, "start");
    edge("M108 100 L228 100", "grid loss", 168, 93);
    edge("M248 117 L212 150", "grid back", 240, 140, "start");
    edge("M128 153 L92 120", "synced", 102, 146, "end");
    edge("M322 117 L376 151", "bus dead", 360, 128, "start");
    edge("M410 153 L410 51", "battery ok", 404, 104, "end");
    edge("M376 47 L324 80", "bus formed", 346, 56, "end");
    for (const st of STATES) {
      const [cx, cy] = SM_CENTRES[st.id];
      const x = cx - SM_W / 2, y = cy - SM_H / 2;
      const g = svg("g", { class: "sm-node s-" + st.id, "data-state": st.id, transform: `translate(${x},${y})` }, nodes);
      svg("rect", { width: SM_W, height: SM_H, rx: 8 }, g);
      const t = svg("text", { x: SM_W / 2, y: 22 }, g);
      t.textContent = st.label;
      smNodes[st.id] = g;
    }
  }

  function renderMode(s) {
    const m = normMode(s.mode);
    const el = $("mode-value");
    el.textContent = modeLabel(m);
    el.className = "mode-label m-" + m;
    el.dataset.state = m;
    for (const [id, g] of Object.entries(smNodes)) g.classList.toggle("active", id === m);
    const breaker = s.breaker ? String(s.breaker) : "—";
    $("breaker-value").textContent = breaker;
    $("breaker-value").className = breaker.toLowerCase() === "open" ? "bad" : breaker.toLowerCase() === "closed" ? "ok" : "";
    $("genset-state").textContent = s.genset_state ? String(s.genset_state).replace(/_/g, " ") : "—";
    $("strategy-value").textContent = s.strategy ? String(s.strategy).replace(/_/g, " ") : "—";
    const age = num(s.telemetry_age_s);
    $("age-value").textContent = age === null ? "—" : age.toFixed(1) + " s";
    $("age-value").className = age !== null && age > 10 ? "bad" : "";
    const rows = first(s.ledger_rows);
    $("ledger-fact").hidden = rows === null;
    $("ledger-value").textContent = rows === null ? "—" : String(rows);
    const reserve = first(s.reserve_frac);
    $("reserve-fact").hidden = reserve === null;
    $("reserve-value").textContent = fmtPct(reserve);
  }

  // --- tiles --------------------------------------------------------------------------------
  function renderTiles(s, k) {
    const today = (k && (k.today || k)) || {};
    const soc = num(s.soc_frac);
    $("soc-value").textContent = fmtPct(soc, 1);
    const socKwh = num(s.soc_kwh);
    $("soc-kwh").textContent = socKwh === null ? "" : socKwh.toFixed(0) + " kWh stored";
    const circ = 2 * Math.PI * 48;
    const arc = $("soc-arc");
    arc.setAttribute("stroke-dasharray", circ.toFixed(1));
    arc.setAttribute("stroke-dashoffset", (circ * (1 - (soc ?? 0))).toFixed(1));
    arc.style.stroke = soc !== null && soc < 0.2 ? "#c0392b" : "";
    const reserve = first(s.reserve_frac, s.setpoints && s.setpoints.reserve_frac);
    const mark = $("reserve-mark");
    if (reserve !== null) {
      mark.setAttribute("transform", `rotate(${(360 * reserve).toFixed(1)} 60 60)`);
      mark.style.display = "";
      $("soc-reserve").textContent = "reserve " + fmtPct(reserve);
    } else {
      mark.style.display = "none";
      $("soc-reserve").textContent = "";
    }

    const ci = first(s.carbon_kg_per_kwh, s.carbon_intensity_kg_per_kwh, s.bus_carbon_kg_per_kwh);
    $("carbon-value").textContent = ci === null ? "—" : (1000 * ci).toFixed(0);
    $("carbon-mark").style.left = ci === null ? "0" : `calc(${Math.min(100, (100 * ci) / 1.0).toFixed(1)}% - 2px)`;

    const share = first(s.pv_share_today_frac, s.pv_share_today, today.pv_share_frac, today.pv_share);
    $("pv-share-value").textContent = fmtPct(share, 1);
    $("pv-share-bar").style.width = share === null ? "0" : (100 * Math.min(1, share)).toFixed(1) + "%";

    const dmin = first(s.diesel_min_today, s.diesel_minutes_today, today.diesel_min, today.diesel_minutes);
    $("diesel-value").textContent = dmin === null ? "—" : dmin.toFixed(0) + " min";
    const starts = first(today.diesel_starts, s.diesel_starts_today);
    $("diesel-sub").textContent = starts === null ? "genset run time" : `genset run time · ${starts} start${starts === 1 ? "" : "s"}`;

    $("load-value").textContent = fmtKw(first(s.load_kw, s.load_served_kw));
    const co2 = first(today.co2_kg);
    $("load-sub").textContent = co2 === null ? "served now" : `served now · ${co2.toFixed(0)} kg CO₂ today`;
  }

  // --- KPIs (whatever the controller reports, formatted by the unit in the name) -------------
  const UNITS = [
    [/(_frac|_share|_fraction)$|^pv_share$/, (v) => (100 * v).toFixed(1) + " %"],
    [/_kg_per_kwh$/, (v) => (1000 * v).toFixed(0) + " g/kWh"], [/_kwh$/, (v) => v.toFixed(1) + " kWh"],
    [/_kw$/, (v) => v.toFixed(1) + " kW"], [/_kg$/, (v) => v.toFixed(1) + " kg"], [/_l$/, (v) => v.toFixed(1) + " L"],
    [/_min$/, (v) => v.toFixed(0) + " min"], [/_h$/, (v) => v.toFixed(2) + " h"], [/_s$/, (v) => v.toFixed(0) + " s"],
    [/_minutes$/, (v) => v.toFixed(0) + " min"],
  ];
  function fmtKpi(key, v) {
    for (const [re, f] of UNITS) if (re.test(key)) return f(v);
    return Number.isInteger(v) ? String(v) : v.toFixed(2);
  }
  function kpiLabel(key) {
    const words = key.replace(/_(kg_per_kwh|frac|kwh|kw|kg|l|min|minutes|h|s)$/, "").split("_");
    const known = { pv: "PV", co2: "CO₂", soc: "SoC", cfe: "CFE", kpi: "KPI" };
    let s = words.map((w) => known[w] || w).join(" ");
    if (/_kg_per_kwh$/.test(key)) s += " intensity";
    return s.charAt(0).toUpperCase() + s.slice(1);
  }
  function renderKpis(k) {
    const dl = $("kpi-facts");
    const today = (k && typeof k.today === "object" && k.today) || k || {};
    const first = ["pv_share", "pv_share_frac", "diesel_minutes", "diesel_min", "co2_kg", "co2_kg_per_kwh",
      "load_served_kwh", "load_kwh", "grid_in_kwh", "fuel_l", "unserved_kwh", "islanded_minutes"];
    const keys = Object.keys(today).filter((key) => num(today[key]) !== null && key !== "intervals");
    keys.sort((p, q) => (first.indexOf(p) + 1 || 99) - (first.indexOf(q) + 1 || 99));
    const rows = keys.slice(0, 10).map((key) => [key, today[key]]);
    dl.textContent = "";
    for (const [key, v] of rows) {
      const div = document.createElement("div");
      const dt = document.createElement("dt");
      dt.textContent = kpiLabel(key);
      dt.title = key;
      const dd = document.createElement("dd");
      dd.textContent = fmtKpi(key, v);
      div.append(dt, dd);
      dl.appendChild(div);
    }
    $("kpi-title").hidden = rows.length === 0;
  }

  // --- chart --------------------------------------------------------------------------------
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
  function historySeries(h) {
    const dt = intervalHours(h);
    const st = state.status || {};
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

  let chartReady = false;
  function renderChart() {
    const el = $("chart");
    if (typeof Plotly === "undefined") {
      el.innerHTML = '<div class="msg">Chart unavailable: plotly.min.js did not load.</div>';
      return;
    }
    const h = state.history;
    const x = h.map((r) => r.ts);
    const series = historySeries(h);
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
    const layout = {
      margin: { l: 48, r: 16, t: 8, b: 56 }, height: 340, uirevision: "keep",
      paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
      font: { family: "DejaVu Sans, Arial, sans-serif", size: 11, color: "#4a5562" },
      xaxis: { gridcolor: "#eef1f4", type: "date" },
      // power on top, SoC in its own strip below: on one shared axis the SoC line hid behind the load line
      yaxis: { title: { text: "kW" }, gridcolor: "#eef1f4", zerolinecolor: "#c9d1da", domain: [0.34, 1] },
      yaxis2: { title: { text: "SoC %" }, domain: [0, 0.24], anchor: "x", range: [0, 100], tickmode: "linear",
        tick0: 0, dtick: 50, gridcolor: "#eef1f4", zeroline: false },
      legend: { orientation: "h", y: -0.18, x: 0 }, hovermode: "x unified",
    };
    Plotly.react(el, traces, layout, { displayModeBar: false, responsive: true });
    chartReady = true;
    $("history-hint").textContent = h.length ? `${h.length} intervals, last ${hhmmss(h[h.length - 1].ts)} UTC` : "";
  }

  // --- events -------------------------------------------------------------------------------
  function eventClass(kind) {
    const k = String(kind || "").toLowerCase();
    if (/(loss|lost|fault|fail|trip|alarm|error|timeout|stale|shed|blackout|unplanned|abnormal|refused|abort)/.test(k)) return "alarm";
    if (/(restore|synced|reconnect|closed|normal|fresh|_ok)/.test(k)) return "good";
    if (/(mode|genset|resync|island|command|start)/.test(k)) return "warn";
    return "";
  }
  function renderEvents(events) {
    const ol = $("event-log");
    // events newer than the newest one already shown get a brief highlight
    const key = (e) => `${e.ts}|${e.kind}|${e.message}`;
    const now = Date.now();
    state.freshUntil = state.freshUntil || new Map();
    if (state.lastEvent !== null) {
      const at = events.map(key).lastIndexOf(state.lastEvent);
      events.slice(at + 1).forEach((e) => state.freshUntil.set(key(e), now + 3000));
    }
    for (const [k, until] of state.freshUntil) if (until < now) state.freshUntil.delete(k);
    ol.textContent = "";
    if (!events.length) {
      const li = document.createElement("li");
      li.innerHTML = '<span class="empty">No events yet.</span>';
      ol.appendChild(li);
    }
    events.slice().reverse().forEach((e) => {
      const li = document.createElement("li");
      li.dataset.kind = e.kind;
      if (state.freshUntil.has(key(e))) li.classList.add("fresh");
      const t = document.createElement("span");
      t.className = "t";
      t.textContent = hhmmss(e.ts);
      t.title = e.ts;
      const k = document.createElement("span");
      k.className = "k " + eventClass(e.kind);
      k.textContent = String(e.kind || "").replace(/_/g, " ");
      k.title = e.kind;
      const m = document.createElement("span");
      m.className = "m";
      m.textContent = e.message;
      li.append(t, k, m);
      ol.appendChild(li);
    });
    if (events.length) state.lastEvent = key(events[events.length - 1]);
    $("events-count").textContent = events.length ? `${events.length} shown, newest first` : "";
  }

  // --- polling ------------------------------------------------------------------------------
  function setConn(kind, text) {
    $("conn").className = "conn " + kind;
    $("conn-text").textContent = text;
  }
  function authNeeded() {
    state.protected = true;
    setConn("down", "token needed");
    banner("Reads are protected on this server: enter the API token under Operator (bottom of the page).");
    $("ops").open = true;
  }

  async function pollStatus() {
    try {
      const s = await getJson("/api/status");
      state.status = s;
      state.failures = 0;
      state.polls += 1;
      if (state.protected) { state.protected = false; banner(""); }
      renderMode(s);
      renderFlow(s);
      renderTiles(s, state.kpis);
      $("clock").textContent = s.ts ? s.ts.replace("T", " ").replace(/(\.\d+)?(Z|\+00:00)$/, " UTC") : "—";
      $("twin-pill").hidden = !s.twin;
      const site = s.site_name || s.site;
      if (typeof site === "string" && site && $("site-name").textContent !== site) {
        $("site-name").textContent = site;
        document.title = "islandgrid · " + site;
      }
      document.querySelectorAll(".twin-only").forEach((b) => { b.hidden = s.twin === false; });
      const age = num(s.telemetry_age_s);
      if (age !== null && age > 10) setConn("stale", `telemetry ${age.toFixed(0)} s old`);
      else setConn("live", "live");
      const m = normMode(s.mode);
      if (m === "islanded") banner("Islanded: the site runs on PV, battery and genset; the grid is disconnected.");
      else if (m === "blackout") banner("Blackout: nothing forms the bus. The controller is starting the genset.");
      else if (m === "black_start") banner("Black start: the PCS energises the bus and restores load group by group.");
      else if (m === "safe") banner("Safe state: the controller has no fresh PCC/PCS data and holds the battery at 0 kW.");
      else if (!state.protected) banner("");
    } catch (err) {
      if (err.auth) return authNeeded();
      state.failures += 1;
      if (state.failures >= 3) {
        setConn("down", "API unreachable");
        banner("Cannot reach the API: retrying every second.");
      }
    }
  }

  async function pollEvents() {
    try { renderEvents(await getJson("/api/events?limit=200")); } catch (err) { if (err.auth) authNeeded(); }
  }

  async function pollHistory() {
    try {
      const q = state.lastHistoryTs ? "?since=" + encodeURIComponent(state.lastHistoryTs) + "&limit=" + HISTORY_KEEP : "?limit=" + HISTORY_KEEP;
      const rows = await getJson("/api/history" + q);
      const fresh = rows.filter((r) => !state.lastHistoryTs || r.ts > state.lastHistoryTs);
      if (fresh.length || !chartReady) {
        state.history = state.history.concat(fresh).slice(-HISTORY_KEEP);
        if (state.history.length) state.lastHistoryTs = state.history[state.history.length - 1].ts;
        renderChart();
      }
    } catch (err) { if (err.auth) authNeeded(); }
  }

  async function pollKpis() {
    try {
      state.kpis = await getJson("/api/kpis");
      renderKpis(state.kpis);
      if (state.status) renderTiles(state.status, state.kpis);
    } catch (err) { if (err.auth) authNeeded(); }
  }

  function every(ms, fn) {
    let busy = false;
    const tick = async () => {
      if (busy) return;
      busy = true;
      try { await fn(); } finally { busy = false; }
    };
    tick();
    return setInterval(tick, ms);
  }

  // --- operator -----------------------------------------------------------------------------
  function buildOps() {
    const input = $("token");
    input.value = token();
    input.addEventListener("change", () => {
      sessionStorage.setItem(TOKEN_KEY, input.value.trim());
      pollStatus();
    });
    document.querySelectorAll("button[data-post]").forEach((b) => {
      b.addEventListener("click", async () => {
        const out = $("ops-result");
        out.textContent = "…";
        try {
          const r = await fetch(b.dataset.post, {
            method: "POST", headers: { "Content-Type": "application/json", ...headers() }, body: b.dataset.body,
          });
          const body = await r.json().catch(() => ({}));
          out.textContent = r.ok ? "accepted" : `refused (${r.status}): ${body.detail || ""}`;
        } catch (err) {
          out.textContent = "failed: " + err;
        }
        pollStatus();
        pollEvents();
      });
    });
  }

  async function init() {
    buildFlow();
    buildStates();
    buildOps();
    try {
      const h = await getJson("/api/health");
      if (!h.writes_enabled) $("token").placeholder = "writes are disabled on this server (no token configured)";
      $("ledger-links").hidden = !h.ledger;
    } catch (err) { /* status polling reports it */ }
    every(1000, pollStatus);
    every(1000, pollEvents);
    every(2000, pollHistory);
    every(5000, pollKpis);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
