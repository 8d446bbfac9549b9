// Shared helpers of the dashboard: formatting (powers, fractions, site-local time), the API
// calls (with the bearer token kept in this tab only) and SVG element creation.
"use strict";

export const COLOURS = { pv: "#f2b705", battery: "#2e86de", grid: "#7f8c8d", genset: "#c0392b", load: "#2c3e50" };
// The controller's modes (islandgrid.controller.core.MODES), in drawing order.
export const STATES = [
  { id: "grid_tied", label: "Grid-tied" },
  { id: "islanding", label: "Islanding" },
  { id: "islanded", label: "Islanded" },
  { id: "resync", label: "Resynchronising" },
  { id: "black_start", label: "Black start" },
  { id: "blackout", label: "Blackout" },
  { id: "safe", label: "Safe (blind)" },
];
// The devices the controller reads (islandgrid.devices.roles.DEVICE_NAMES) and what an operator calls them.
export const DEVICES = { pv: "PV inverter", pcs: "Battery PCS", genset: "Genset", pcc: "PCC (grid)", load: "Load" };
const TOKEN_KEY = "islandgrid-token";
const SVGNS = "http://www.w3.org/2000/svg";

export const $ = (id) => document.getElementById(id);

export function num(v) { return typeof v === "number" && Number.isFinite(v) ? v : null; }
export function first(...vals) { for (const v of vals) { if (num(v) !== null) return v; } return null; }
export function fmtKw(v) {
  if (num(v) === null) return "—";
  const a = Math.abs(v);
  return (a >= 100 ? a.toFixed(0) : a.toFixed(1)) + " kW";
}
export function fmtPct(frac, digits) { return num(frac) === null ? "—" : (100 * frac).toFixed(digits ?? 0) + " %"; }
export function fmtAge(s) {
  if (num(s) === null) return "never";
  if (s < 60) return s.toFixed(1) + " s";
  if (s < 3600) return (s / 60).toFixed(0) + " min";
  return (s / 3600).toFixed(1) + " h";
}
export function words(s) { return String(s ?? "").replace(/_/g, " "); }

/** The loops that are not running (status.loops: {"fast": "running" | "down", ...}). */
export function loopsDown(s) {
  return Object.entries(s.loops || {}).filter(([, v]) => v !== "running").map(([k]) => k);
}
/** The whole status is frozen, not only some devices: a loop is down, the status itself is too old
 *  (status.stale), or it is not live with no stale device to blame. */
export function frozen(s) {
  const someStale = Array.isArray(s.stale_devices) && s.stale_devices.length > 0;
  return loopsDown(s).length > 0 || s.stale === true || (s.live === false && !someStale);
}

// --- site-local time: the site's IANA zone (status.site_tz) with its offset shown ---------------
const formats = new Map();
function parts(ts, tz) {
  const d = ts instanceof Date ? ts : new Date(typeof ts === "number" ? ts * 1000 : ts);
  if (Number.isNaN(d.getTime())) return null;
  const key = tz || "UTC";
  let f = formats.get(key);
  if (!f) {
    try {
      f = new Intl.DateTimeFormat("en-GB", { timeZone: key, year: "numeric", month: "2-digit", day: "2-digit",
        hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23", timeZoneName: "shortOffset" });
    } catch (err) {
      f = new Intl.DateTimeFormat("en-GB", { timeZone: "UTC", year: "numeric", month: "2-digit", day: "2-digit",
        hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23", timeZoneName: "shortOffset" });
    }
    formats.set(key, f);
  }
  const p = {};
  for (const { type, value } of f.formatToParts(d)) p[type] = value;
  return p;
}
/** "2026-06-21 09:00:00 GMT+8" in the site's zone (UTC when the zone is unknown). */
export function localDateTime(ts, tz) {
  const p = parts(ts, tz);
  return p ? `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second} ${p.timeZoneName}` : "";
}
/** "09:00:00" in the site's zone. */
export function localTime(ts, tz) {
  const p = parts(ts, tz);
  return p ? `${p.hour}:${p.minute}:${p.second}` : "";
}
/** "2026-06-21 09:00:00", the site's wall clock (for the chart's date axis). */
export function localWall(ts, tz) {
  const p = parts(ts, tz);
  return p ? `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second}` : null;
}
/** The zone's offset now, e.g. "GMT+8". */
export function zoneName(ts, tz) {
  const p = parts(ts, tz);
  return p ? p.timeZoneName : "UTC";
}

export function normMode(m) {
  if (!m) return "";
  const s = String(m).toLowerCase().replace(/[\s-]+/g, "_");
  const alias = { grid: "grid_tied", grid_connected: "grid_tied", on_grid: "grid_tied", island: "islanded",
    off_grid: "islanded", resynchronising: "resync", resynchronizing: "resync", blackstart: "black_start" };
  return alias[s] || s;
}
export function modeLabel(m) {
  const st = STATES.find((x) => x.id === m);
  return st ? st.label : words(m || "—");
}
export function svg(tag, attrs, parent) {
  const el = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
  if (parent) parent.appendChild(el);
  return el;
}
export function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

// --- the API ---------------------------------------------------------------------------------
export function token() { return sessionStorage.getItem(TOKEN_KEY) || ""; }
export function setToken(t) { sessionStorage.setItem(TOKEN_KEY, t); }
function headers() {
  const t = token();
  return t ? { Authorization: "Bearer " + t } : {};
}
export async function getJson(path) {
  const r = await fetch(path, { headers: headers(), cache: "no-store" });
  if (r.status === 401 || r.status === 403) {
    const err = new Error("auth");
    err.auth = true;
    throw err;
  }
  if (!r.ok) throw new Error(path + ": HTTP " + r.status);
  return r.json();
}
/** POST with the token; resolves to "accepted" or "refused (status): detail". */
export async function post(path, body) {
  try {
    const r = await fetch(path, {
      method: "POST", headers: { "Content-Type": "application/json", ...headers() }, body: body ?? "{}",
    });
    const answer = await r.json().catch(() => ({}));
    return r.ok ? "accepted" : `refused (${r.status}): ${answer.detail || ""}`;
  } catch (err) {
    return "failed: " + err;
  }
}

export function banner(text, kind) {
  const b = $("banner");
  if (!text) { b.hidden = true; return; }
  b.textContent = text;
  b.className = "banner" + (kind ? " " + kind : "");
  b.hidden = false;
}
