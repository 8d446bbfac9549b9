// islandgrid live dashboard: polls the API (status and events every second, KPIs every two
// seconds, history every two) and draws the power flow, the state machine, the tiles, the alarm
// board, a history chart (plotly, served by this app) and the event log. ES modules from this
// server only; no framework, nothing from other hosts.
"use strict";

import { $, banner, frozen, getJson, localDateTime, post, setToken, token } from "./util.js";
import { buildFlow, renderFlow } from "./flow.js";
import { buildStates, renderMode } from "./states.js";
import { renderAlarms, renderKpiTiles, renderKpis, renderStatusTiles, situation } from "./panels.js";
import { renderChart, renderEvents } from "./history.js";

const HISTORY_KEEP = 720;

const state = { history: [], lastHistoryTs: null, status: null, kpis: null, failures: 0, protected: false,
  polls: 0, chartReady: false };
window.__islandgrid = state; // for debugging in the browser console

/** The site's IANA time zone (status.site_tz); UTC until the status says. */
function tz() { return (state.status && state.status.site_tz) || "UTC"; }

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

function renderClock(s) {
  const zone = s.site_tz || "UTC";
  $("clock").textContent = s.ts ? `${localDateTime(s.ts, zone)} · ${zone}` : "—";
  $("clock").title = s.ts ? "site-local time; UTC " + s.ts : "";
  $("clock").dataset.tz = zone;
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
    renderStatusTiles(s);
    renderAlarms(s.alarms, tz(), acknowledge);
    renderClock(s);
    $("twin-pill").hidden = !s.twin;
    const site = s.site_name || s.site;
    if (typeof site === "string" && site && $("site-name").textContent !== site) {
      $("site-name").textContent = site;
      document.title = "islandgrid · " + site;
    }
    document.querySelectorAll(".twin-only").forEach((b) => { b.hidden = s.twin === false; });
    const stale = Array.isArray(s.stale_devices) ? s.stale_devices : [];
    if (frozen(s)) setConn("down", "not live");
    else if (stale.length) setConn("stale", `stale: ${stale.join(", ")}`);
    else setConn("live", "live");
    document.body.classList.toggle("not-live", frozen(s));
    const [text, kind] = situation(s);
    if (text) banner(text, kind);
    else if (!state.protected) banner("");
  } catch (err) {
    if (err.auth) return authNeeded();
    state.failures += 1;
    if (state.failures >= 3) {
      setConn("down", "API unreachable");
      banner("Cannot reach the API: retrying every second. The figures below are the last received, not live.");
      document.body.classList.add("not-live");
    }
  }
}

async function pollEvents() {
  try { renderEvents(await getJson("/api/events?limit=200"), tz()); } catch (err) { if (err.auth) authNeeded(); }
}

async function pollHistory() {
  try {
    const q = state.lastHistoryTs ? "?since=" + encodeURIComponent(state.lastHistoryTs) + "&limit=" + HISTORY_KEEP : "?limit=" + HISTORY_KEEP;
    const rows = await getJson("/api/history" + q);
    const fresh = rows.filter((r) => !state.lastHistoryTs || r.ts > state.lastHistoryTs);
    if (fresh.length || !state.chartReady) {
      state.history = state.history.concat(fresh).slice(-HISTORY_KEEP);
      if (state.history.length) state.lastHistoryTs = state.history[state.history.length - 1].ts;
      state.chartReady = renderChart(state.history, state.status, tz());
    }
  } catch (err) { if (err.auth) authNeeded(); }
}

async function pollKpis() {
  try {
    state.kpis = await getJson("/api/kpis");
    // the tiles and the table show the same answer: one figure, one source
    renderKpiTiles(state.kpis);
    renderKpis(state.kpis, tz(), state.status && state.status.ts);
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

// --- operator --------------------------------------------------------------------------------
async function acknowledge(id) {
  const out = $("alarm-result");
  if (!token()) {
    out.textContent = "enter the API token under Operator to acknowledge";
    $("ops").open = true;
    return;
  }
  out.textContent = "…";
  const result = await post(`/api/alarms/${encodeURIComponent(id)}/ack`);
  out.textContent = `${id}: ${result}`;
  await pollStatus();
}

function buildOps() {
  const input = $("token");
  input.value = token();
  input.addEventListener("change", () => {
    setToken(input.value.trim());
    pollStatus();
  });
  document.querySelectorAll("button[data-post]").forEach((b) => {
    b.addEventListener("click", async () => {
      const out = $(b.dataset.out || "ops-result");
      out.textContent = "…";
      out.textContent = await post(b.dataset.post, b.dataset.body);
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
  await pollStatus(); // the site's zone before anything shows a time
  every(1000, pollStatus);
  every(1000, pollEvents);
  every(2000, pollHistory);
  every(2000, pollKpis);
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
else init();
