// homeguard dashboard: plain JavaScript, no build step, nothing from outside this server.
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));
const TROUBLES = { storage: "event store cannot write (events kept in memory)" };
const ZONES = { entry: "Entry doors", perimeter: "Perimeter", interior: "Interior", "24h": "24-hour" };
const MODES = { armed_away: "Away", armed_home: "Home", armed_night: "Night", armed_vacation: "Vacation" };
const PAGE = 25;

let csrf = null;
let source = null;
let doc = null;            // the latest state document
let health = [];           // /api/health?attention=true: the sensors to service (docs/intelligence.md)
let clockSkew = 0;         // server time - our time, seconds
let code = "";
let mode = "armed_away";
let offset = 0;
let span = "24h";

// ------------------------------------------------------------------ helpers

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("data-")) node.setAttribute(key, value);
    else node[key] = value;
  }
  for (const child of children) node.append(child);
  return node;
}

function svg(tag, attrs = {}) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  return node;
}

function now() { return Date.now() / 1000 + clockSkew; }

function ago(ts) {
  if (ts == null) return "never";
  const s = Math.max(0, Math.round(now() - ts));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

function duration(s) {
  s = Math.round(s);
  const d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
  return d ? `${d} d ${h} h` : h ? `${h} h ${m} min` : m ? `${m} min ${s % 60} s` : `${s} s`;
}

function bytes(n) {
  if (n == null) return "?";
  const units = ["B", "KiB", "MiB", "GiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

function when(ts) { return new Date(ts * 1000).toLocaleString(); }

async function api(method, path, body) {
  const headers = { "Accept": "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && csrf) headers["X-CSRF-Token"] = csrf;
  const response = await fetch(path, {
    method, headers, credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  if (response.status !== 204) {
    try { data = await response.json(); } catch { data = null; }
  }
  if (response.status === 401 && path !== "/api/login") showLogin();
  return { ok: response.ok, status: response.status, data };
}

function say(text, ok = false) {
  const message = $("#message");
  message.textContent = text;
  message.classList.toggle("ok", ok);
}

// ------------------------------------------------------------------ session

async function start() {
  const { ok, data } = await api("GET", "/api/session");
  if (!ok) return showLogin();
  enter(data);
}

function enter(session) {
  csrf = session.csrf_token;
  $("#who").textContent = session.user;
  $("#login").hidden = true;
  $("#app").hidden = false;
  connect();
  refreshHealth();
  refreshNotifications();
  refreshRules();
}

// The edge rules and when each last fired (GET /api/rules, docs/rules.md).
async function refreshRules() {
  const { ok, data } = await api("GET", "/api/rules");
  if (!ok || !Array.isArray(data)) return;
  const rows = data.map((r) => el("tr", { "data-rule": r.name },
    el("td", {}, r.name), el("td", {}, r.trigger), el("td", {}, r.conditions.join("; ")),
    el("td", {}, r.actions.join("; ")), el("td", {}, r.last_fired ? when(r.last_fired) : "never")));
  $("#rules").replaceChildren(...(rows.length ? rows
    : [el("tr", {}, el("td", { colSpan: 5 }, "no rules configured"))]));
}
setInterval(() => { if (csrf && !$("#tab-system").hidden) refreshRules(); }, 10000);
$('[data-tab="system"]').addEventListener("click", refreshRules);

async function refreshHealth() {
  const { ok, data } = await api("GET", "/api/health?attention=true");
  if (ok && Array.isArray(data)) health = data;
  if (doc) renderSystem();
}
setInterval(() => { if (csrf) refreshHealth(); }, 300000);

// Notifications (docs/notifications.md): the newest, with where each delivery stands.
async function refreshNotifications() {
  const { ok, data } = await api("GET", "/api/notifications?limit=20");
  if (!ok || !data || !Array.isArray(data.rows)) return;
  $("#notifications").replaceChildren(...(data.rows.length ? data.rows.map((n) => el("tr",
    { class: n.state === "pending" || n.state === "failed" ? "alarm" : "" },
    el("td", {}, when(n.timestamp)), el("td", {}, `${n.route} → ${n.target}`),
    el("td", {}, n.title), el("td", {}, n.state), el("td", {}, `${n.attempts}`),
    el("td", {}, n.last_error || ""))) : [el("tr", {}, el("td", { colspan: "6" }, "none yet"))]));
}
setInterval(() => { if (csrf) refreshNotifications(); }, 15000);

function showLogin() {
  if (source) { source.close(); source = null; }
  csrf = null;
  $("#app").hidden = true;
  $("#login").hidden = false;
  $("#login-user").focus();
}

$("#login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("#login-error").textContent = "";
  const { ok, data } = await api("POST", "/api/login", {
    user: $("#login-user").value, password: $("#login-password").value,
  });
  $("#login-password").value = "";
  if (ok) enter(data);
  else $("#login-error").textContent = (data && data.message) || "login failed";
});

$("#logout").addEventListener("click", async () => {
  await api("POST", "/api/logout");
  showLogin();
});

// ------------------------------------------------------------------ live view

function connect() {
  if (source) source.close();
  source = new EventSource("/api/live");
  source.addEventListener("state", (event) => {
    doc = JSON.parse(event.data);
    clockSkew = doc.now - Date.now() / 1000;
    $("#live").classList.add("on");
    render();
  });
  source.addEventListener("error", async () => {
    $("#live").classList.remove("on");
    // The browser reconnects by itself; a lost session needs a new login instead.
    const { ok } = await api("GET", "/api/session");
    if (!ok && source) { source.close(); source = null; }
  });
}

let historyAt = 0;

function render() {
  renderBanner();
  renderReadiness();
  renderActuators();
  renderWalkTest();
  renderZones();
  renderSystem();
  fillDevices();
  // An open first page of the history follows along, at most every 5 s.
  if (!$("#tab-history").hidden && offset === 0 && Date.now() - historyAt > 5000) {
    historyAt = Date.now();
    loadEvents();
    loadChart();
  }
}

function renderBanner() {
  const banner = $("#banner");
  banner.dataset.state = doc.state;
  $("#state").textContent = doc.state.replace("_", " ");
  $("#state").dataset.value = doc.state;
  tick();
}

function tick() {
  if (!doc) return;
  let detail = "";
  if (doc.deadline != null) {
    const left = Math.max(0, Math.ceil(doc.deadline - now()));
    const what = { arming: "exit delay", pending: "entry delay: disarm now", triggered: "siren" }[doc.state];
    detail = `${what || "timer"}: ${left} s`;
  } else if (doc.mode) {
    detail = `${MODES[doc.mode]} since ${new Date(doc.since * 1000).toLocaleTimeString()}`;
  } else {
    detail = `since ${new Date(doc.since * 1000).toLocaleTimeString()}`;
  }
  if (doc.triggered_by.length) detail += ` — ${doc.triggered_by.join(", ")}`;
  if (doc.code_locked_until) detail += ` — code entry locked ${Math.ceil(doc.code_locked_until - now())} s`;
  for (const part of Object.keys(doc.system_troubles || {})) detail += ` — TROUBLE: ${TROUBLES[part] || part}`;
  $("#state-detail").textContent = detail;
  for (const node of $$("[data-seen]")) node.textContent = ago(Number(node.dataset.seen) || null);
}
setInterval(tick, 1000);  // local countdown only: the server pushes every change

function renderReadiness() {
  const list = $("#readiness");
  list.replaceChildren();
  for (const [value, label] of Object.entries(MODES)) {
    const blockers = Object.entries(doc.blocking[value] || {});
    const text = blockers.length
      ? `${label}: not ready — ${blockers.map(([id, why]) => `${id} (${why})`).join(", ")}`
      : `${label}: ready`;
    list.append(el("li", { class: blockers.length ? "no" : "ok", "data-ready": value }, text));
  }
}

function renderActuators() {
  const box = $("#actuators");
  box.replaceChildren();
  const kinds = new Map();
  for (const a of doc.actuators) kinds.set(a.type, [...(kinds.get(a.type) || []), a]);
  if (!kinds.has("siren")) kinds.set("siren", []);
  if (!kinds.has("light")) kinds.set("light", []);
  for (const [kind, list] of kinds) {
    const on = list.some((a) => a.on === true);
    const known = list.some((a) => a.on != null);
    const word = (a) => (a.on == null ? "unknown" : a.on ? "ON" : "OFF");
    const states = list.length === 1 ? [word(list[0])] : list.map((a) => `${a.id} ${word(a)}`);
    const label = `${kind[0].toUpperCase()}${kind.slice(1)}: ${states.join(", ") || "not configured"}`;
    box.append(el("div", { class: "actuator", "data-kind": kind, "data-on": known ? String(on) : "" },
      el("span", { class: `light ${!known ? "unknown" : on ? "open" : "closed"}` }),
      el("span", { class: "name" }, label),
      el("button", { class: "small", "data-actuator": kind, "data-on": "1" }, "On"),
      el("button", { class: "small", "data-actuator": kind, "data-on": "0" }, "Off")));
  }
}

// The walk test (the panel stays disarmed) and the door chime: docs/panel-features.md.
function renderWalkTest() {
  const walk = doc.walk_test;
  const total = doc.sensors.length;
  $("#walk-test").textContent = walk
    ? `Walk test: ${walk.tested.length} of ${total} sensors tested — trip each one; no alarm`
    : "No walk test";
  $("#walk-test").dataset.active = walk ? "true" : "false";
  $("#walk-test-start").hidden = Boolean(walk);
  $("#walk-test-end").hidden = !walk;
  $("#chime").textContent = doc.chime ? "Chime: on (switch off)" : "Chime: off (switch on)";
  $("#chime").dataset.on = String(Boolean(doc.chime));
}

function renderZones() {
  const zones = $("#zones");
  zones.replaceChildren();
  const groups = new Map();
  for (const s of doc.sensors) groups.set(s.zone, [...(groups.get(s.zone) || []), s]);
  for (const [zone, sensors] of groups) {
    const grid = el("div", { class: "sensors" });
    for (const s of sensors) {
      const troubles = { no_report: "not heard since start", supervision: "silent too long",
        low_battery: "low battery" };
      const label = { open: "open", closed: "closed", motion: "motion", offline: "offline",
        bypassed: "bypassed", trouble: troubles[s.trouble] || "trouble",
        unknown: "no report yet" }[s.status];
      const battery = s.battery == null ? "" : ` · battery ${Math.round(s.battery)}%`;
      const seen = el("span", { "data-seen": s.last_seen == null ? "" : String(s.last_seen) }, ago(s.last_seen));
      const bypass = el("button", { class: "small", "data-bypass": s.id, "data-value": s.bypassed ? "0" : "1" },
        s.bypassed ? "Unbypass" : "Bypass");
      const tested = doc.walk_test ? doc.walk_test.tested.includes(s.id) : null;
      const walk = tested == null ? "" : tested ? " · tested ✓" : " · not tested yet";
      grid.append(el("div", { class: "sensor", "data-sensor": s.id, "data-status": s.status,
        "data-tested": tested == null ? "" : String(tested) },
        el("span", { class: `light ${s.status}`, title: label }),
        el("span", { class: "name" }, s.name),
        bypass,
        el("span", { class: "meta" }, `${s.type} · ${label}${battery}${walk} · `, seen)));
    }
    zones.append(el("div", { class: "zone" }, el("h2", {}, ZONES[zone] || zone), grid));
  }
}

function renderSystem() {
  const s = doc.system;
  const rows = [
    ["Broker", `${s.broker} — ${s.broker_connected ? "connected" : "DISCONNECTED"}`],
    ["Uptime", duration(s.uptime)],
    ["Messages", `${s.messages} (${s.messages_per_second}/s)`],
    ["Event store", bytes(s.store_bytes)
      + ("storage" in (doc.system_troubles || {}) ? " — NOT WRITING" : "")
      + (s.store_waiting ? `, ${s.store_waiting} events waiting` : "")
      + (s.store_dropped ? `, ${s.store_dropped} dropped` : "")],
    ["Devices", `${s.devices} seen, ${s.sensors} sensors configured`],
    ["Rejected messages", `${s.rejected}` + (s.rejected ? ` (${Object.entries(s.rejected_by_reason)
      .map(([k, v]) => `${k}: ${v}`).join(", ")})` : "")],
    ...(s.uplink ? [["Uplink", `${s.uplink.connected ? "connected" : "NOT CONNECTED"}, `
      + `${s.uplink.backlog} events waiting` + (s.uplink.last_sent_at
        ? `, last batch #${s.uplink.batches} at ${new Date(s.uplink.last_sent_at * 1000).toLocaleString()}`
        : "")]] : []),
    ["Notifications", Object.entries(s.notifications || {}).map(([k, v]) => `${v} ${k}`).join(", ")
      || "none"],
    ["Maintenance", health.filter((h) => h.health === "service" || h.health === "failed")
      .map((h) => `${h.device}: ${h.reason}`).join("; ") || "no device needs a visit"],
  ];
  $("#system").replaceChildren(...rows.flatMap(([k, v]) => [el("dt", {}, k), el("dd", { "data-field": k }, v)]));
}

function fillDevices() {
  const select = $("#filters select[name=device]");
  if (select.options.length > 1) return;
  for (const s of doc.sensors) select.append(el("option", { value: s.id }, s.name));
}

// ------------------------------------------------------------------ keypad

function showCode() { $("#code-display").textContent = code ? "•".repeat(code.length) : "\u00a0"; }

for (const key of $$("[data-key]")) {
  key.addEventListener("click", () => {
    const k = key.dataset.key;
    if (k === "clear") code = "";
    else if (k === "back") code = code.slice(0, -1);
    else if (code.length < 12) code += k;
    showCode();
  });
}
document.addEventListener("keydown", (event) => {
  if ($("#app").hidden || event.target.closest("input, select")) return;
  if (/^[0-9]$/.test(event.key) && code.length < 12) code += event.key;
  else if (event.key === "Backspace") code = code.slice(0, -1);
  else return;
  showCode();
});

for (const button of $$("[data-mode]")) {
  button.addEventListener("click", () => {
    mode = button.dataset.mode;
    for (const b of $$("[data-mode]")) b.classList.toggle("active", b === button);
  });
}

async function command(path, body, done) {
  say("…");
  $("#force-box").hidden = true;
  const { ok, data } = await api("POST", path, body);
  if (ok) {
    say(done(data), true);
  } else {
    say(data && data.message ? `Refused: ${data.message}` : "Refused");
    if (data && data.error === "sensors_not_ready" && path === "/api/arm") {
      $("#force-sensors").textContent = data.sensors.join(", ");
      $("#force-box").hidden = false;
    }
  }
  code = "";
  showCode();
  return ok;
}

let lastArm = null;
$("#arm").addEventListener("click", () => {
  lastArm = { mode, code: code || null };
  command("/api/arm", { mode, code: code || null }, (r) => `Arming ${MODES[mode]}: ${r.state}`);
});
$("#force-arm").addEventListener("click", () => {
  if (!lastArm) return;
  const body = { ...lastArm, force: true };
  command("/api/arm", body, (r) => `Forced: ${r.state}, bypassed ${r.bypassed.join(", ") || "none"}`);
});
$("#disarm").addEventListener("click", () => {
  command("/api/disarm", { code: code || null }, (r) => `Disarmed: ${r.state}`);
});

$("#walk-test-start").addEventListener("click", () => {
  command("/api/walk-test", { code: code || null }, () => "Walk test started: trip every sensor");
});
$("#walk-test-end").addEventListener("click", () => {
  command("/api/walk-test/end", { code: code || null }, () => "Walk test ended");
});
$("#chime").addEventListener("click", () => {
  const on = !doc.chime;
  command("/api/chime", { on, code: code || null }, () => `Chime ${on ? "on" : "off"}`);
});

document.addEventListener("click", async (event) => {
  const actuator = event.target.closest("[data-actuator]");
  if (actuator) {
    // During an alarm, off silences it: that is a disarm, with the code on the keypad.
    const on = actuator.dataset.on === "1";
    const kind = actuator.dataset.actuator;
    command(`/api/actuators/${kind}`, { on, code: code || null }, (r) => `${kind} ${on ? "on" : "off"} (${r.state})`);
    return;
  }
  const bypass = event.target.closest("[data-bypass]");
  if (bypass) {
    const body = { sensor: bypass.dataset.bypass, bypass: bypass.dataset.value === "1", code: code || null };
    command("/api/bypass", body, () => `${body.sensor} ${body.bypass ? "bypassed" : "no longer bypassed"}`);
  }
});

// ------------------------------------------------------------------ tabs

for (const tab of $$("[data-tab]")) {
  tab.addEventListener("click", () => {
    for (const t of $$("[data-tab]")) t.classList.toggle("active", t === tab);
    for (const section of $$(".tab")) section.hidden = section.id !== `tab-${tab.dataset.tab}`;
    if (tab.dataset.tab === "history") { loadEvents(); loadChart(); }
  });
}

// ------------------------------------------------------------------ history

function filterQuery() {
  const form = new FormData($("#filters"));
  const params = new URLSearchParams();
  for (const [key, value] of form) {
    if (!value) continue;
    if (key === "since" || key === "until") params.set(key, String(new Date(value).getTime() / 1000));
    else params.set(key, value);
  }
  return params;
}

async function loadEvents() {
  const params = filterQuery();
  $("#csv").href = `/api/events.csv?${params}`;
  params.set("limit", PAGE);
  params.set("offset", offset);
  const { ok, data } = await api("GET", `/api/events?${params}`);
  const body = $("#events");
  body.replaceChildren();
  if (!ok) {
    body.append(el("tr", {}, el("td", { colSpan: 5 }, (data && data.message) || "cannot load")));
    return;
  }
  for (const e of data.items) {
    body.append(el("tr", { class: e.alarm ? "alarm" : "", "data-type": e.type },
      el("td", {}, when(e.timestamp)), el("td", {}, e.kind), el("td", {}, e.type),
      el("td", {}, e.device || ""), el("td", {}, e.description)));
  }
  const last = Math.min(offset + PAGE, data.total);
  $("#page-info").textContent = data.total ? `${offset + 1}–${last} of ${data.total}` : "no events";
  $("#prev").disabled = offset === 0;
  $("#next").disabled = last >= data.total;
}

$("#filters").addEventListener("submit", (event) => { event.preventDefault(); offset = 0; loadEvents(); });
$("#prev").addEventListener("click", () => { offset = Math.max(0, offset - PAGE); loadEvents(); });
$("#next").addEventListener("click", () => { offset += PAGE; loadEvents(); });

for (const button of $$("[data-span]")) {
  button.addEventListener("click", () => {
    span = button.dataset.span;
    for (const b of $$("[data-span]")) b.classList.toggle("active", b === button);
    loadChart();
  });
}

async function loadChart() {
  const tz = -new Date().getTimezoneOffset();
  const { ok, data } = await api("GET", `/api/events/chart?span=${span}&tz_offset=${tz}`);
  if (ok) drawChart(data);
}

function drawChart(chart) {
  // Drawn at the box's own width, so that the labels keep their size on a phone.
  const W = Math.max(280, $("#chart").clientWidth || 720), H = 200, left = 34, bottom = 22, top = 8;
  const buckets = chart.buckets;
  const peak = Math.max(1, ...buckets.map((b) => b.sensor + b.system));
  const step = (W - left) / buckets.length;
  const scale = (H - bottom - top) / peak;
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "events over time" });
  for (const fraction of [0, 0.5, 1]) {
    const y = H - bottom - fraction * peak * scale;
    root.append(svg("line", { x1: left, x2: W, y1: y, y2: y, class: "grid-line" }));
    const label = svg("text", { x: left - 4, y: y + 3, "text-anchor": "end", class: "axis" });
    label.textContent = String(Math.round(fraction * peak));
    root.append(label);
  }
  buckets.forEach((b, i) => {
    const total = b.sensor + b.system;
    const height = total * scale;
    const x = left + i * step + 1;
    const bar = svg("rect", {
      x, y: H - bottom - height, width: Math.max(1, step - 2), height,
      class: b.alarms ? "bar alarm" : "bar",
    });
    const title = svg("title");
    const start = new Date(b.start * 1000);
    title.textContent = `${chart.span === "24h" ? start.toLocaleString() : start.toLocaleDateString()}: `
      + `${b.sensor} sensor, ${b.system} system events${b.alarms ? `, ${b.alarms} ALARMS` : ""}`;
    bar.append(title);
    root.append(bar);
    const every = Math.ceil(buckets.length / Math.max(4, Math.floor(W / 60)));
    if (i % every === 0) {
      const label = svg("text", { x: x + step / 2, y: H - 6, "text-anchor": "middle", class: "axis" });
      label.textContent = chart.span === "24h" ? `${start.getHours()}h` : `${start.getDate()}/${start.getMonth() + 1}`;
      root.append(label);
    }
  });
  $("#chart").replaceChildren(root);
}

start();
