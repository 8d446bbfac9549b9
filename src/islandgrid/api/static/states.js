// The mode card: the controller's state machine, the plant facts (breaker, genset and its
// manager, BMS, strategy) and the per-device telemetry table (age, stale flag, link error).
"use strict";

import { $, DEVICES, STATES, el, fmtAge, fmtPct, first, frozen, modeLabel, normMode, num, svg, words } from "./util.js";

// Two loops share "islanded": grid-tied -> (islanding) -> islanded -> resync -> grid-tied on the
// left, islanded -> blackout -> black start -> islanded on the right.
const SM_W = 104, SM_H = 34;
const SM_CENTRES = {
  grid_tied: [56, 100], islanding: [170, 30], resync: [170, 170], islanded: [284, 100],
  black_start: [410, 30], blackout: [410, 170], safe: [56, 188],
};
const smNodes = {};

export function buildStates() {
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

function fact(id, text, cls) {
  $(id).textContent = text;
  $(id).className = cls || "";
}

/** "failed (fail to start) · automatic retry in 4 min" from the genset register and its manager. */
export function gensetText(s) {
  const reg = s.genset_state ? words(s.genset_state) : "—";
  if (s.genset_manager !== "failed") return reg;
  const retry = num(s.genset_retry_in_s);
  return `failed (${reg}) · ` + (retry === null ? "no automatic retry" : `automatic retry in ${fmtAge(retry)}`);
}

export function renderMode(s) {
  const m = normMode(s.mode);
  const label = $("mode-value");
  label.textContent = modeLabel(m);
  label.className = "mode-label m-" + m;
  label.dataset.state = m;
  for (const [id, g] of Object.entries(smNodes)) g.classList.toggle("active", id === m);
  const breaker = s.breaker ? String(s.breaker) : "—";
  fact("breaker-value", breaker, breaker.toLowerCase() === "open" ? "bad" : breaker.toLowerCase() === "closed" ? "ok" : "");
  const failed = s.genset_manager === "failed";
  fact("genset-state", gensetText(s), failed ? "bad" : "");
  $("genset-retry").hidden = !failed;
  fact("bms-value", s.bms_tripped === undefined ? "—" : s.bms_tripped ? "tripped" : "ok", s.bms_tripped ? "bad" : "ok");
  fact("strategy-value", s.strategy ? words(s.strategy) : "—");
  const rows = first(s.ledger_rows);
  $("ledger-fact").hidden = rows === null;
  $("ledger-value").textContent = rows === null ? "—" : String(rows);
  const reserve = first(s.reserve_frac);
  $("reserve-fact").hidden = reserve === null;
  $("reserve-value").textContent = fmtPct(reserve);
  renderDevices(s);
}

/** One row per device: telemetry age, and "stale" (the controller's flag) or the link error. */
function renderDevices(s) {
  const ages = s.telemetry_age_by_device_s || {};
  const errors = s.device_errors || {};
  const stale = new Set(Array.isArray(s.stale_devices) ? s.stale_devices : []);
  const names = Object.keys(DEVICES).filter((d) => d in ages || d in errors || stale.has(d));
  const body = $("devices-body");
  body.textContent = "";
  for (const d of names) {
    const tr = el("tr");
    tr.dataset.device = d;
    const isStale = stale.has(d) || frozen(s);
    const error = errors[d];
    tr.className = isStale ? "stale" : error ? "error" : "";
    const state = error ? "error: " + words(error) : isStale ? (stale.has(d) ? "stale" : "not live") : "live";
    tr.append(el("td", "", DEVICES[d]), el("td", "num", fmtAge(num(ages[d]))), el("td", "state", state));
    body.appendChild(tr);
  }
  $("devices").hidden = names.length === 0;
}
