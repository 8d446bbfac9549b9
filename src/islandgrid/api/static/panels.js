// The tiles, today's KPI table, the alarm list and the banner.
//
// Today's figures (PV share, diesel minutes, CO2) come from one answer, GET /api/kpis `today`
// (the controller's KPIs for the site-local day), for the tiles and the table alike: one
// definition per figure on screen. The banner says what the status says, nothing it does not.
"use strict";

import { $, el, fmtAge, fmtKw, fmtPct, first, frozen, localDateTime, localTime, loopsDown, normMode, num, words, zoneName }
  from "./util.js";
import { staleDevices } from "./flow.js";

/** The KPI block of today: the `today` object of GET /api/kpis. */
export function todayOf(k) { return (k && typeof k.today === "object" && k.today) || {}; }

// --- tiles -----------------------------------------------------------------------------------
export function renderStatusTiles(s) {
  const stale = staleDevices(s);
  const soc = num(s.soc_frac);
  $("soc-value").textContent = fmtPct(soc, 1);
  const socKwh = num(s.soc_kwh);
  $("soc-kwh").textContent = socKwh === null ? "" : socKwh.toFixed(0) + " kWh stored";
  const circ = 2 * Math.PI * 48;
  const arc = $("soc-arc");
  arc.setAttribute("stroke-dasharray", circ.toFixed(1));
  arc.setAttribute("stroke-dashoffset", (circ * (1 - (soc ?? 0))).toFixed(1));
  arc.style.stroke = soc !== null && soc < 0.2 ? "#c0392b" : "";
  const reserve = first(s.reserve_frac);
  const mark = $("reserve-mark");
  if (reserve !== null) {
    mark.setAttribute("transform", `rotate(${(360 * reserve).toFixed(1)} 60 60)`);
    mark.style.display = "";
    $("soc-reserve").textContent = "reserve " + fmtPct(reserve);
  } else {
    mark.style.display = "none";
    $("soc-reserve").textContent = "";
  }
  $("tile-soc").classList.toggle("stale", stale.has("pcs"));
  if (stale.has("pcs")) $("soc-reserve").textContent = "stale: last value from the PCS";

  const ci = first(s.carbon_kg_per_kwh);
  $("carbon-value").textContent = ci === null ? "—" : (1000 * ci).toFixed(0);
  $("carbon-mark").style.left = ci === null ? "0" : `calc(${Math.min(100, (100 * ci) / 1.0).toFixed(1)}% - 2px)`;
  const carbonStale = ["pv", "pcs", "genset", "pcc"].some((d) => stale.has(d));
  $("tile-carbon").classList.toggle("stale", carbonStale);
  $("carbon-sub").textContent = carbonStale ? "stale inputs: not live" : "g CO₂ / kWh at the bus";

  $("load-value").textContent = fmtKw(first(s.load_kw));
  const critical = num(s.unserved_critical_kw) ?? 0;
  const unserved = first(s.unserved_kw, s.shed_kw) ?? 0;
  const demand = first(s.load_demand_kw);
  $("load-sub").textContent = "served now" + (demand !== null ? ` of ${fmtKw(demand)} demand` : "")
    + (unserved > 0.05 ? ` · ${fmtKw(unserved)} not served` : "");
  $("load-critical").hidden = critical <= 0.05;
  $("load-critical").textContent = `critical load unserved: ${fmtKw(critical)}`;
  $("tile-load").classList.toggle("alarm", critical > 0.05);
  $("tile-load").classList.toggle("stale", stale.has("load"));
}

export function renderKpiTiles(k) {
  const today = todayOf(k);
  const share = first(today.pv_share);
  $("pv-share-value").textContent = fmtPct(share, 1);
  $("pv-share-bar").style.width = share === null ? "0" : (100 * Math.min(1, share)).toFixed(1) + "%";
  const dmin = first(today.diesel_minutes);
  $("diesel-value").textContent = dmin === null ? "—" : dmin.toFixed(0) + " min";
  const fuel = first(today.fuel_l);
  $("diesel-sub").textContent = "genset run time" + (fuel === null ? "" : ` · ${fuel.toFixed(1)} L`);
}

// --- KPIs (whatever the controller reports, formatted by the unit in the name) ----------------
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
  const parts = key.replace(/_(kg_per_kwh|frac|kwh|kw|kg|l|min|minutes|h|s)$/, "").split("_");
  const known = { pv: "PV", co2: "CO₂", soc: "SoC", cfe: "CFE", kpi: "KPI" };
  let s = parts.map((w) => known[w] || w).join(" ");
  if (/_kg_per_kwh$/.test(key)) s += " intensity";
  return s.charAt(0).toUpperCase() + s.slice(1);
}
const KPI_ORDER = ["pv_share", "diesel_minutes", "unserved_critical_kwh", "co2_kg", "co2_kg_per_kwh",
  "load_served_kwh", "grid_in_kwh", "fuel_l", "unserved_kwh", "islanded_minutes"];

export function renderKpis(k, tz, ts) {
  const dl = $("kpi-facts");
  const today = todayOf(k);
  const keys = Object.keys(today).filter((key) => num(today[key]) !== null && key !== "intervals");
  keys.sort((p, q) => (KPI_ORDER.indexOf(p) + 1 || 99) - (KPI_ORDER.indexOf(q) + 1 || 99));
  dl.textContent = "";
  for (const key of keys.slice(0, 10)) {
    const div = el("div");
    div.dataset.kpi = key;
    const dt = el("dt", "", kpiLabel(key));
    dt.title = key;
    const dd = el("dd", key === "unserved_critical_kwh" && today[key] > 0 ? "bad" : "", fmtKpi(key, today[key]));
    div.append(dt, dd);
    dl.appendChild(div);
  }
  $("kpi-title").hidden = keys.length === 0;
  const day = typeof k?.day === "string" ? k.day : "";
  $("kpi-title").textContent = `Today${day ? " " + day : ""} (site-local day, from 00:00 ${zoneName(ts, tz)})`;
}

// --- alarms ----------------------------------------------------------------------------------
const ALARM_LABELS = {
  grid_lost: "Grid lost", bms_trip: "BMS trip", genset_failed: "Genset failed", telemetry_stale: "Telemetry stale",
  ledger_error: "Ledger error", unserved_critical: "Critical load unserved", foreign_command: "Foreign command",
  loop_down: "Loop down",
};

/** The alarm board (status.alarms); `onAck(id)` is called by each Acknowledge button. */
export function renderAlarms(alarms, tz, onAck) {
  const list = Array.isArray(alarms) ? alarms : [];
  const ol = $("alarm-list");
  ol.textContent = "";
  for (const a of list) {
    const li = el("li", "alarm" + (a.active ? " active" : " cleared") + (a.acknowledged ? " acked" : " unacked"));
    li.dataset.alarmId = a.id;
    li.dataset.kind = a.kind;
    const kind = el("span", "k", ALARM_LABELS[a.kind] || words(a.kind));
    const dev = el("span", "dev", a.device && a.device !== "site" ? a.device : "");
    const msg = el("span", "m", a.message);
    msg.title = `refreshed ${a.count} times while active`; // the condition is re-checked every fast-loop period
    const when = el("span", "t", localTime(a.raised_epoch_s, tz));
    when.title = "raised " + localDateTime(a.raised_epoch_s, tz)
      + (num(a.cleared_epoch_s) !== null ? ", cleared " + localDateTime(a.cleared_epoch_s, tz) : "");
    const state = el("span", "st", (a.active ? "active" : "cleared") + " · " + (a.acknowledged ? "acknowledged" : "unacknowledged"));
    li.append(kind, dev, msg, when, state);
    if (!a.acknowledged) {
      const b = el("button", "ack", "Acknowledge");
      b.type = "button";
      b.addEventListener("click", () => onAck(a.id));
      li.appendChild(b);
    } else {
      li.appendChild(el("span"));
    }
    ol.appendChild(li);
  }
  if (!list.length) ol.appendChild(el("li", "empty", alarms === undefined ? "This server reports no alarm board." : "No alarms."));
  const active = list.filter((a) => a.active).length;
  const unacked = list.filter((a) => !a.acknowledged).length;
  $("alarm-count").textContent = `${active} active · ${unacked} unacknowledged`;
  $("alarms-card").classList.toggle("has-active", active > 0);
}

// --- banner ----------------------------------------------------------------------------------
/** What the operator must know first, from the status only: [text, kind] (kind "" = alarm, "info"). */
export function situation(s) {
  const out = [];
  let alarm = false;
  if (frozen(s)) {
    const down = loopsDown(s).map((k) => k + " loop");
    const why = down.length ? down.join(" and ") + " down"
      : num(s.status_age_s) !== null ? `the status is ${fmtAge(s.status_age_s)} old` : "the controller is not running";
    out.push(`Not live: ${why}; every figure below is the last known value, not live.`);
    alarm = true;
  }
  const critical = num(s.unserved_critical_kw) ?? 0;
  if (critical > 0.05) {
    out.push(`Critical load not served: ${fmtKw(critical)}.`);
    alarm = true;
  }
  const m = normMode(s.mode);
  const tripped = !!s.bms_tripped, gensetFailed = s.genset_manager === "failed";
  if (m === "islanded") {
    out.push("Islanded: the site runs on PV, battery and genset; the grid is disconnected.");
    alarm = true;
  } else if (m === "blackout" || m === "black_start") {
    alarm = true;
    if (tripped && gensetFailed) out.push("Blackout: nothing can form the bus (the BMS has tripped and the genset has failed).");
    else if (m === "black_start" && !tripped) out.push("Black start: the PCS energises the bus and restores load group by group.");
    else if (tripped) out.push("Blackout: the battery cannot form the bus (BMS tripped).");
    else out.push("Blackout: nothing forms the bus.");
  } else if (m === "safe") out.push("Safe state: no fresh PCC/PCS data; the controller holds its safe setpoints.");
  if (tripped && !(m === "blackout" || m === "black_start")) out.push("Battery BMS tripped.");
  if (gensetFailed) {
    const retry = num(s.genset_retry_in_s);
    out.push("Genset failed: " + (retry === null ? "no automatic retry; use Retry genset." : `automatic retry in ${Math.ceil(retry)} s.`));
  }
  const stale = Array.isArray(s.stale_devices) ? s.stale_devices : [];
  if (stale.length && !frozen(s)) out.push(`Stale telemetry from ${stale.join(", ")}: those figures are greyed, not live.`);
  const errors = Object.keys(s.device_errors || {});
  if (errors.length) out.push(`Device errors: ${errors.map((d) => d + " " + words(s.device_errors[d])).join(", ")}.`);
  return [out.join(" "), alarm ? "" : "info"];
}
