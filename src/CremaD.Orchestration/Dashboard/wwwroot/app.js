// CremaD dashboard: a hash-routed single page over the AppHost's JSON API (/api/...). Vanilla JS, no dependencies.
// Every view builds its DOM with el() (text is never parsed as HTML) and polls only what it shows; /api/version
// tells when resources or traces changed, so idle pages cost one tiny request a second.
"use strict";

const view = document.getElementById("view");
const statusBadge = document.getElementById("status");
let stopCurrent = () => {};

// ---------- helpers ----------

function el(tag, attrs, ...children) {
  const node = tag === "svg" || SVG_TAGS.has(tag) ? document.createElementNS("http://www.w3.org/2000/svg", tag) : document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.setAttribute("class", value);
    else if (key === "style" && typeof value === "object") Object.assign(node.style, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}
const SVG_TAGS = new Set(["svg", "g", "path", "line", "text", "rect", "circle", "polyline", "title"]);

class HttpError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function api(path) {
  let response;
  try {
    response = await fetch(path, { credentials: "same-origin", headers: { Accept: "application/json" } });
  } catch (e) {
    setOnline(false);
    throw new HttpError(0, "The AppHost is not answering (stopped?).");
  }
  setOnline(true);
  if (response.status === 401) { location.href = "/login"; throw new HttpError(401, "Not logged in."); }
  let body = null;
  try { body = await response.json(); } catch { /* not JSON */ }
  if (!response.ok) throw new HttpError(response.status, (body && body.error) || `${path}: HTTP ${response.status}`);
  return body;
}

function setOnline(online) {
  statusBadge.classList.toggle("down", !online);
  statusBadge.textContent = online ? "live" : "disconnected";
}

// Runs fn now and then every ms until the view changes; a slow fn never overlaps itself.
function poll(fn, ms) {
  let stopped = false, timer = 0;
  const tick = async () => {
    if (stopped) return;
    let again = ms;
    try { const next = await fn(); if (typeof next === "number") again = next; } catch (e) { console.warn(e); }
    if (!stopped) timer = setTimeout(tick, again);
  };
  tick();
  return () => { stopped = true; clearTimeout(timer); };
}

// Polls /api/version and calls onChange(version) whenever the given key changes (and once at the start).
function onVersion(key, onChange, ms = 1000) {
  let last;
  return poll(async () => {
    const v = await api("/api/version");
    if (v[key] !== last) { last = v[key]; await onChange(v); }
  }, ms);
}

const pad = (n, w = 2) => String(n).padStart(w, "0");
function fmtTime(iso, withDate = false) {
  if (!iso) return "";
  const d = new Date(iso);
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  return withDate || Date.now() - d.getTime() > 20 * 3600e3 ? `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${time}` : time;
}
function fmtMs(ms) {
  if (ms === null || ms === undefined || !isFinite(ms)) return "";
  if (ms === 0) return "0";
  if (ms < 1) return `${(ms * 1000).toFixed(0)} µs`;
  if (ms < 1000) return `${ms < 10 ? ms.toFixed(2) : ms < 100 ? ms.toFixed(1) : ms.toFixed(0)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 2 : 1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s - m * 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}
const between = (a, b) => (a && b ? new Date(b) - new Date(a) : null);
const pct = (x, digits = 1) => (x === null || x === undefined || !isFinite(x) ? "–" : `${(x * 100).toFixed(digits)}%`);
const num = (x) => (typeof x === "string" ? Number(x) : x); // losses may travel as "NaN"/"Infinity"
const words = (camel) => String(camel).replace(/([a-z])([A-Z])/g, "$1 $2").replace(/^./, (c) => c.toUpperCase()).replace(/ ([A-Z])/g, (_, c) => " " + c.toLowerCase());
const shortId = (id) => String(id).slice(0, 8);

// Colours are handed out in the order services are first seen (the resources' start order, registered at load),
// so a few services never share one and each keeps its colour on every page.
const PALETTE = ["#15aabf", "#7950f2", "#f76707", "#4c6ef5", "#e64980", "#12b886", "#fab005", "#82c91e", "#be4bdb", "#868e96"];
const serviceColors = new Map();
function serviceColor(name) {
  if (!serviceColors.has(name)) serviceColors.set(name, PALETTE[serviceColors.size % PALETTE.length]);
  return serviceColors.get(name);
}

function message(text, kind = "") { return el("div", { class: `notice ${kind}` }, text); }
function replace(node, ...children) { node.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false)); }

// ---------- router ----------

const routes = [
  [/^#\/resources$/, resourcesView],
  [/^#\/logs(?:\/(.+))?$/, (m) => logsView(m[1] ? decodeURIComponent(m[1]) : null)],
  [/^#\/traces\/([0-9a-fA-F]+)$/, (m) => traceView(m[1])],
  [/^#\/traces(?:\?(.*))?$/, (m) => tracesView(new URLSearchParams(m[1] || ""))],
  [/^#\/runs\/([0-9a-fA-F-]{36})$/, (m) => runView(m[1])],
  [/^#\/runs$/, runsView],
];

function route() {
  stopCurrent();
  stopCurrent = () => {};
  // Home is the resources page, with its hash in the address bar so a reload or a bookmark lands there too.
  if (!location.hash) { location.replace("#/resources"); return; }
  const hash = location.hash;
  for (const [pattern, render] of routes) {
    const match = hash.match(pattern);
    if (!match) continue;
    const section = hash.split(/[/?]/)[1];
    for (const a of document.querySelectorAll("[data-nav]")) a.classList.toggle("active", a.dataset.nav === section);
    view.replaceChildren();
    window.scrollTo(0, 0);
    stopCurrent = render(match) || (() => {});
    return;
  }
  location.replace("#/resources");
}
window.addEventListener("hashchange", route);
if (!location.hash) history.replaceState(null, "", "#/resources");
api("/api/resources")
  .then(({ resources }) => resources.filter((r) => r.kind !== "infrastructure").forEach((r) => serviceColor(r.name)))
  .catch(() => {})
  .finally(route);

// ---------- resources ----------

const STATE_CLASS = { running: "ok", starting: "info", waiting: "plain", restarting: "warn", stopping: "plain", stopped: "plain", exited: "bad", failedToStart: "bad" };
const HEALTH_CLASS = { healthy: "ok", unhealthy: "bad", unknown: "plain" };

function resourcesView() {
  const body = el("tbody");
  const note = el("div");
  view.append(
    el("div", { class: "page-head" }, el("h1", {}, "Resources"), el("span", { class: "muted grow", id: "resource-count" })),
    note,
    el("div", { class: "panel flush" }, el("table", { id: "resources" },
      el("thead", {}, el("tr", {}, ["Name", "Kind", "State", "Health", "Endpoints", "PID", "Restarts", "Exit code", "Source", "Detail"]
        .map((h) => el("th", { class: ["PID", "Restarts", "Exit code"].includes(h) ? "num" : "" }, h)))),
      body)));
  return onVersion("resources", async () => {
    const { resources } = await api("/api/resources");
    document.getElementById("resource-count").textContent = `${resources.length} resource${resources.length === 1 ? "" : "s"}`;
    replace(note, resources.length ? null : message("No resources yet: the AppHost is still reading its model."));
    replace(body, resources.map(resourceRow));
  });
}

function resourceRow(r) {
  const endpoints = el("td", { class: "endpoints" }, r.endpoints.map((e) =>
    /^https?:/.test(e) ? el("a", { href: e, target: "_blank", rel: "noopener" }, e) : el("span", {}, e)));
  let detail = r.detail || "";
  if (!detail && r.state === "restarting" && r.nextRestartAt) detail = `Restarting at ${fmtTime(r.nextRestartAt)}.`;
  return el("tr", { "data-resource": r.name },
    el("td", { class: "nowrap" }, el("a", { href: `#/logs/${encodeURIComponent(r.name)}`, title: "Console logs" }, el("strong", {}, r.name)),
      r.dependsOn && r.dependsOn.length ? el("div", { class: "small muted" }, `waits for ${r.dependsOn.join(", ")}`) : null),
    el("td", {}, words(r.kind)),
    el("td", { class: "nowrap" }, el("span", { class: `badge ${STATE_CLASS[r.state] || "plain"}` }, words(r.state)),
      r.startedAt ? el("div", { class: "small muted", title: "Started at" }, `since ${fmtTime(r.startedAt)}`) : null),
    el("td", {}, el("span", { class: `badge ${HEALTH_CLASS[r.health] || "plain"}` }, words(r.health))),
    endpoints,
    el("td", { class: "num" }, r.processId ?? ""),
    el("td", { class: "num" }, r.restarts || ""),
    el("td", { class: "num" }, r.lastExitCode ?? ""),
    // A project path is long and its last part says it all; the whole path is in the tooltip.
    el("td", { class: "mono small nowrap", title: r.source }, r.source.split("/").pop().replace(/\.csproj$/, "")),
    el("td", { class: "small detail" }, detail));
}

// ---------- console logs ----------

function logsView(name) {
  const picker = el("select", { id: "log-resource", onchange: () => { location.hash = `#/logs/${encodeURIComponent(picker.value)}`; } });
  const filter = el("input", { type: "search", placeholder: "Filter lines", oninput: applyFilter });
  const follow = el("input", { type: "checkbox", checked: true, id: "follow" });
  const consoleBox = el("div", { class: "console", id: "console" });
  view.append(
    el("div", { class: "page-head" }, el("h1", {}, "Console logs"),
      el("div", { class: "toolbar grow" }, picker, filter, el("label", { class: "small" }, follow, " follow"))),
    consoleBox);

  let stopped = false;
  const stops = [];
  api("/api/resources").then(({ resources }) => {
    if (stopped) return;
    replace(picker, el("option", { value: "" }, "Choose a resource…"), resources.map((r) => el("option", { value: r.name, selected: r.name === name }, r.name)));
    if (!name && resources.length) { location.replace(`#/logs/${encodeURIComponent(resources[0].name)}`); }
  }).catch((e) => replace(consoleBox, el("div", { class: "empty" }, e.message)));
  if (!name) return () => { stopped = true; };

  const MAX_LINES = 20000;
  let after = 0;
  let count = 0;
  replace(consoleBox, el("div", { class: "empty" }, "Waiting for output…"));
  function applyFilter() {
    const needle = filter.value.toLowerCase();
    for (const line of consoleBox.querySelectorAll(".line")) line.hidden = needle && !line.textContent.toLowerCase().includes(needle);
  }
  stops.push(poll(async () => {
    let page;
    try {
      page = await api(`/api/resources/${encodeURIComponent(name)}/logs?after=${after}&max=2000`);
    } catch (e) {
      if (e.status === 404) { replace(consoleBox, el("div", { class: "empty" }, e.message)); return 5000; }
      throw e;
    }
    if (page.lines.length) {
      if (count === 0) consoleBox.replaceChildren();
      const atBottom = consoleBox.scrollHeight - consoleBox.scrollTop - consoleBox.clientHeight < 40;
      const needle = filter.value.toLowerCase();
      const fragment = document.createDocumentFragment();
      for (const line of page.lines) {
        const row = el("div", { class: `line ${line.stream}` },
          el("span", { class: "seq" }, line.sequence), el("span", { class: "ts" }, fmtTime(line.time)), el("span", { class: "txt" }, line.text));
        if (needle && !line.text.toLowerCase().includes(needle)) row.hidden = true;
        fragment.append(row);
      }
      consoleBox.append(fragment);
      count += page.lines.length;
      while (count > MAX_LINES) { consoleBox.firstChild.remove(); count--; }
      if (follow.checked && (atBottom || after === 0)) consoleBox.scrollTop = consoleBox.scrollHeight;
    }
    after = page.last;
    return page.lines.length >= 2000 ? 0 : 1000; // catching up: ask again at once
  }, 1000));
  return () => { stopped = true; stops.forEach((s) => s()); };
}

// ---------- traces ----------

function tracesView(params) {
  const service = params.get("service") || "";
  const runId = params.get("runId") || "";
  const serviceBox = el("input", { type: "text", value: service, placeholder: "any service", list: "service-names", size: 18 });
  const runBox = el("input", { type: "text", value: runId, placeholder: "run id", size: 38, class: "mono" });
  const names = el("datalist", { id: "service-names" });
  const go = (e) => {
    e.preventDefault();
    const q = new URLSearchParams();
    if (serviceBox.value.trim()) q.set("service", serviceBox.value.trim());
    if (runBox.value.trim()) q.set("runId", runBox.value.trim());
    location.hash = `#/traces${q.toString() ? "?" + q : ""}`;
  };
  const body = el("tbody");
  const count = el("span", { class: "muted" });
  view.append(
    el("div", { class: "page-head" }, el("h1", {}, "Traces"), count,
      el("form", { class: "toolbar grow", onsubmit: go, style: { justifyContent: "flex-end" } },
        el("label", { class: "small muted" }, "Service ", serviceBox), names,
        el("label", { class: "small muted" }, "Run ", runBox),
        el("button", { type: "submit", class: "primary" }, "Filter"),
        (service || runId) && el("a", { href: "#/traces" }, "clear"))),
    el("div", { class: "panel flush" }, el("table", { id: "traces" },
      el("thead", {}, el("tr", {}, ["Start", "Name", "Services", "Spans", "Errors", "Duration", "", "Run"]
        .map((h) => el("th", { class: ["Spans", "Errors", "Duration"].includes(h) ? "num" : "" }, h)))),
      body)));
  api("/api/resources").then(({ resources }) => replace(names, resources.map((r) => el("option", { value: r.name })))).catch(() => {});

  const query = new URLSearchParams();
  if (service) query.set("service", service);
  if (runId) query.set("runId", runId);
  return onVersion("traces", async () => {
    const { traces } = await api(`/api/traces?${query}`);
    count.textContent = `${traces.length} trace${traces.length === 1 ? "" : "s"}${service ? ` with ${service}` : ""}${runId ? ` of run ${shortId(runId)}` : ""}`;
    const longest = Math.max(1, ...traces.map((t) => t.durationMs));
    replace(body, traces.length ? traces.map((t) => traceRow(t, longest)) :
      el("tr", {}, el("td", { colspan: 8, class: "muted" }, "No traces yet. Services send spans to the OTLP endpoint the AppHost gave them.")));
  });
}

function traceRow(t, longest) {
  return el("tr", { "data-trace": t.traceId },
    el("td", { class: "nowrap muted" }, fmtTime(t.start)),
    el("td", {}, el("a", { href: `#/traces/${t.traceId}` }, el("strong", {}, t.rootName))),
    el("td", {}, t.services.map((s) => el("span", { class: "chip", style: { background: serviceColor(s) } }, s))),
    el("td", { class: "num" }, t.spanCount),
    el("td", { class: "num" }, t.errorCount ? el("span", { class: "badge bad" }, t.errorCount) : ""),
    el("td", { class: "num nowrap" }, fmtMs(t.durationMs)),
    el("td", { style: { width: "12%" } }, el("div", { class: "durbar" }, el("div", { style: { width: `${Math.max(1, (100 * t.durationMs) / longest)}%` } }))),
    el("td", { class: "mono small" }, t.runId ? el("a", { href: `#/runs/${t.runId}`, title: t.runId }, shortId(t.runId)) : ""));
}

function traceView(traceId) {
  const head = el("div", { class: "page-head" }, el("h1", {}, "Trace"), el("span", { class: "mono muted small" }, traceId));
  const legend = el("div", { class: "legend" });
  const rows = el("div", { class: "waterfall", id: "waterfall" });
  const detail = el("div", { class: "panel span-detail", id: "span-detail" }, el("p", { class: "muted" }, "Click a span to see its attributes."));
  const note = el("div");
  view.append(head, note,
    el("div", { class: "trace-layout" },
      el("div", {}, el("div", { class: "panel" }, legend), el("div", { class: "panel flush" }, rows)),
      detail));
  let selected = null;
  return onVersion("traces", async () => {
    let trace;
    try {
      trace = await api(`/api/traces/${traceId}`);
    } catch (e) {
      replace(note, message(e.message, "error"));
      return;
    }
    replace(note);
    const root = trace.spans.find((s) => s.depth === 0) || trace.spans[0];
    replace(head, el("h1", {}, root.name), el("span", { class: "muted" }, `${fmtTime(trace.start, true)} · ${fmtMs(trace.durationMs)} · ${trace.spans.length} spans`),
      el("span", { class: "mono muted small" }, traceId),
      runLink(trace.spans));
    replace(legend, trace.services.map((s) => el("span", {}, el("i", { style: { background: serviceColor(s) } }), s)));
    renderWaterfall(rows, trace, (span) => { selected = span.spanId; replace(detail, spanDetail(span)); });
    if (selected) {
      const span = trace.spans.find((s) => s.spanId === selected);
      if (span) { replace(detail, spanDetail(span)); rows.querySelector(`[data-span="${selected}"]`)?.classList.add("selected"); }
    }
  });
}

function runLink(spans) {
  const run = spans.map((s) => s.attributes["cremad.run_id"]).find(Boolean);
  return run ? el("a", { href: `#/runs/${run}` }, `run ${shortId(run)}`) : null;
}

function niceStep(total, count) {
  const raw = total / count;
  const power = Math.pow(10, Math.floor(Math.log10(raw)));
  return [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= raw) || raw;
}

function renderWaterfall(container, trace, onSelect) {
  const total = Math.max(trace.durationMs, 0.001);
  const step = niceStep(total, 5);
  const ticks = [];
  for (let t = 0; t <= total + 1e-9; t += step) ticks.push(t);
  const tickLines = () => ticks.map((t) => el("div", { class: "wf-tick", style: { left: `${(100 * t) / total}%` } }));
  const header = el("div", { class: "wf-row head" }, el("div", { class: "wf-name" }, "Span"),
    el("div", { class: "wf-track", style: { height: "26px" } }, ticks.map((t, i) =>
      el("span", { class: `wf-ticklabel ${i === 0 ? "first" : ""} ${(100 * t) / total > 92 ? "last" : ""}`, style: { left: `${(100 * t) / total}%` } }, fmtMs(t)))));
  const rows = trace.spans.map((span) => {
    const left = (100 * span.offsetMs) / total;
    const width = (100 * span.durationMs) / total;
    const error = span.statusCode === "error";
    const labelLeft = left + width > 80 ? null : `calc(${left + width}% + 6px)`;
    const labelRight = labelLeft ? null : `calc(${100 - left}% + 6px)`;
    const row = el("div", { class: "wf-row", "data-span": span.spanId, title: `${span.service}: ${span.name}` },
      // MassTransit's send/receive/consume chain nests real traces 20+ levels deep: indent in smaller steps past a
      // few levels, and never more than about a third of the name column, so names stay readable.
      el("div", { class: "wf-name", style: { paddingLeft: `${10 + Math.min(span.depth, 4) * 14 + Math.min(Math.max(span.depth - 4, 0), 20) * 4}px` } },
        el("span", { class: "svc", style: { background: serviceColor(span.service) } }),
        error ? el("span", { class: "err", title: span.statusMessage || "error" }, "!") : null,
        el("span", {}, span.name, spanHint(span)), el("span", { class: "muted small" }, span.service)),
      el("div", { class: "wf-track" }, tickLines(),
        el("div", { class: `wf-bar${error ? " error" : ""}`, style: { left: `${left}%`, width: `${width}%`, backgroundColor: serviceColor(span.service) } }),
        el("span", { class: "wf-label", style: labelLeft ? { left: labelLeft } : { right: labelRight } }, fmtMs(span.durationMs))));
    row.addEventListener("click", () => {
      container.querySelectorAll(".wf-row.selected").forEach((r) => r.classList.remove("selected"));
      row.classList.add("selected");
      onSelect(span);
    });
    return row;
  });
  replace(container, header, rows);
}

// Which of many same-named spans this is (epoch 3, shard 0), from CremaD's own attributes.
function spanHint(span) {
  const a = span.attributes;
  const hint = a["cremad.epoch"] ?? a["cremad.shard_index"];
  return hint === undefined ? null : el("span", { class: "muted" }, ` ${hint}`);
}

function spanDetail(span) {
  const kv = (pairs) => el("dl", { class: "kv" }, pairs.filter(([, v]) => v !== null && v !== undefined && v !== "").map(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
  const attrs = Object.entries(span.attributes).sort(([a], [b]) => a.localeCompare(b));
  return [
    el("h2", {}, span.name),
    kv([["Service", span.service], ["Instance", span.serviceInstanceId], ["Kind", span.kind], ["Scope", span.scope],
      ["Status", el("span", { class: span.statusCode === "error" ? "status-error" : "" }, span.statusCode + (span.statusMessage ? `: ${span.statusMessage}` : ""))], ["Start", fmtTime(span.start, true)],
      ["Offset", fmtMs(span.offsetMs)], ["Duration", fmtMs(span.durationMs)], ["Span id", span.spanId], ["Parent", span.parentSpanId]]),
    el("h2", { style: { marginTop: "14px" } }, `Attributes (${attrs.length})`),
    attrs.length ? kv(attrs.map(([k, v]) => [k, k === "cremad.run_id" ? el("a", { href: `#/runs/${v}` }, v) : v])) : el("p", { class: "muted" }, "None."),
    span.events.length ? [el("h2", { style: { marginTop: "14px" } }, `Events (${span.events.length})`),
      span.events.map((e) => el("div", { class: "section" }, el("strong", {}, e.name), " ", el("span", { class: "muted small" }, `+${fmtMs(e.offsetMs)}`),
        kv(Object.entries(e.attributes))))] : null,
  ];
}

// ---------- runs ----------

const STAGE_CLASS = { submitted: "plain", features: "info", training: "info", evaluation: "info", completed: "ok", failed: "bad", cancelled: "warn" };
const terminal = (stage) => ["completed", "failed", "cancelled"].includes(stage);

function runsUnavailable(container, e) {
  const text = e.status === 503 || e.status === 404 ? e.message : `Runs cannot be shown: ${e.message}`;
  replace(container, message(text, e.status === 503 ? "warn" : "error"));
}

function runsView() {
  const note = el("div");
  const body = el("tbody");
  view.append(el("div", { class: "page-head" }, el("h1", {}, "Runs"), el("span", { class: "muted", id: "run-count" })), note,
    el("div", { class: "panel flush" }, el("table", { id: "runs" },
      el("thead", {}, el("tr", {}, ["Run", "Stage", "Progress", "Submitted", "Duration", "Epochs", "Test accuracy", "Macro F1", "Dataset"]
        .map((h) => el("th", { class: ["Epochs", "Test accuracy", "Macro F1", "Duration"].includes(h) ? "num" : "" }, h)))), body)));
  return poll(async () => {
    let runs;
    try { runs = await api("/api/runs"); } catch (e) { runsUnavailable(note, e); return 3000; }
    replace(note);
    runs.sort((a, b) => new Date(b.timestamps.submittedAt) - new Date(a.timestamps.submittedAt));
    document.getElementById("run-count").textContent = `${runs.length} run${runs.length === 1 ? "" : "s"}`;
    replace(body, runs.length ? runs.map((r) => el("tr", { "data-run": r.runId },
      el("td", {}, el("a", { href: `#/runs/${r.runId}` }, el("strong", {}, r.name || shortId(r.runId))), " ", el("span", { class: "mono muted small" }, r.name ? shortId(r.runId) : "")),
      el("td", {}, el("span", { class: `badge ${STAGE_CLASS[r.stage] || "plain"}` }, words(r.stage))),
      el("td", {}, progressBar(r)),
      el("td", { class: "nowrap muted" }, fmtTime(r.timestamps.submittedAt)),
      el("td", { class: "num nowrap" }, fmtMs(between(r.timestamps.submittedAt, r.timestamps.finishedAt || (terminal(r.stage) ? null : new Date().toISOString())))),
      el("td", { class: "num" }, r.training.maxEpochs ? `${r.training.history.length}/${r.training.maxEpochs}` : ""),
      el("td", { class: "num" }, r.evaluation ? pct(r.evaluation.accuracy) : ""),
      el("td", { class: "num" }, r.evaluation ? pct(r.evaluation.macroF1) : ""),
      el("td", { class: "mono small" }, r.dataset.prefix))) :
      el("tr", {}, el("td", { colspan: 9, class: "muted" }, "No runs yet. Submit one with POST /runs on the runs API.")));
    return 2000;
  }, 2000);
}

function progressBar(r) {
  const cls = r.stage === "completed" ? "done" : r.stage === "failed" || r.stage === "cancelled" ? "failed" : "";
  return el("div", { class: "toolbar", style: { gap: "8px" } }, el("div", { class: `progress ${cls}`, style: { flex: 1 } }, el("div", { style: { width: `${(r.progress * 100).toFixed(1)}%` } })),
    el("span", { class: "small muted nowrap" }, `${Math.round(r.progress * 100)}%`));
}

function runView(runId) {
  const note = el("div");
  const head = el("div", { class: "page-head" }, el("h1", {}, `Run ${shortId(runId)}`));
  const timeline = el("div", { class: "panel", id: "timeline" });
  const cards = el("div", { class: "panel", id: "summary" });
  const curves = el("div", { class: "grid2 section", id: "curves" });
  const epochs = el("div", { id: "epochs" });
  const metrics = el("div", { class: "grid2 section", id: "metrics" });
  const tracesPanel = el("div", { class: "panel", id: "run-traces" });
  const files = el("div", { class: "panel", id: "artifacts" });
  const problems = el("div", { id: "problems" });
  view.append(head, note, timeline, cards, curves, epochs, metrics, tracesPanel, files, problems);

  let lastJson = "";
  let confusionShown = false;
  const stopRun = poll(async () => {
    let run;
    try { run = await api(`/api/runs/${runId}`); } catch (e) { runsUnavailable(note, e); return 3000; }
    replace(note);
    const json = JSON.stringify(run);
    if (json !== lastJson) {
      lastJson = json;
      replace(head, el("h1", {}, run.name || `Run ${shortId(runId)}`), el("span", { class: `badge ${STAGE_CLASS[run.stage] || "plain"}`, id: "run-stage" }, words(run.stage)),
        el("span", { class: "mono muted small" }, run.runId), el("span", { class: "grow" }),
        el("a", { href: `#/traces?runId=${run.runId}` }, "All traces of this run →"));
      replace(timeline, el("h2", {}, "Stages"), stageSteps(run), stageGantt(run), el("div", { style: { marginTop: "12px" } }, progressBar(run)));
      replace(cards, el("h2", {}, "Summary"), summaryCards(run));
      replace(curves, trainingCharts(run));
      replace(epochs, epochTable(run));
      if (!confusionShown || !run.evaluation) replace(metrics, metricsPanels(run));
      confusionShown = !!run.evaluation && run.artifacts.some((a) => a.name === "confusion_matrix.png");
      replace(files, el("h2", {}, "Artifacts"), artifactList(run));
      replace(problems, problemPanels(run));
    }
    return terminal(run.stage) ? 10000 : 1500;
  }, 1500);
  const stopTraces = onVersion("traces", async () => {
    const { traces } = await api(`/api/traces?runId=${runId}`);
    const longest = Math.max(1, ...traces.map((t) => t.durationMs));
    replace(tracesPanel, el("h2", {}, `Traces (${traces.length})`),
      traces.length ? el("table", { id: "run-trace-list" }, el("thead", {}, el("tr", {}, ["Start", "Name", "Services", "Spans", "Errors", "Duration", "", "Run"]
        .map((h) => el("th", { class: ["Spans", "Errors", "Duration"].includes(h) ? "num" : "" }, h)))), el("tbody", {}, traces.map((t) => traceRow(t, longest))))
        : el("p", { class: "muted" }, "No spans of this run have arrived (they carry the attribute cremad.run_id)."));
  }, 2000);
  return () => { stopRun(); stopTraces(); };
}

const STEPS = [
  ["submitted", "Submitted", (t) => t.submittedAt],
  ["features", "Features", (t) => t.featuresStartedAt || t.featuresReadyAt],
  ["training", "Training", (t) => t.trainingStartedAt || t.featuresReadyAt],
  ["evaluation", "Evaluation", (t) => t.trainingCompletedAt],
];

function stageSteps(run) {
  const order = ["submitted", "features", "training", "evaluation", "completed"];
  const t = run.timestamps;
  const failed = run.stage === "failed" || run.stage === "cancelled";
  // The stage a failed run stopped in: the last stage it reached (its error names it too).
  const failedAt = failed ? (run.errors.length ? run.errors[run.errors.length - 1].stage : "submitted") : null;
  const reached = failed ? order.indexOf(failedAt) : order.indexOf(run.stage);
  const steps = STEPS.map(([key, label, at], i) => {
    const cls = failed && i === reached ? "failed" : i < reached || run.stage === "completed" ? "done" : i === reached ? "current" : "";
    return el("div", { class: `stage ${cls}`, "data-stage": key }, el("span", { class: "dot" }), el("div", { class: "name" }, label),
      el("div", { class: "when" }, at(t) ? fmtTime(at(t)) : "–"));
  });
  const endLabel = failed ? words(run.stage) : "Completed";
  const endClass = run.stage === "completed" ? "done" : failed ? "failed" : "";
  steps.push(el("div", { class: `stage ${endClass}`, "data-stage": failed ? run.stage : "completed" }, el("span", { class: "dot" }), el("div", { class: "name" }, endLabel),
    el("div", { class: "when" }, t.finishedAt ? `${fmtTime(t.finishedAt)} · total ${fmtMs(between(t.submittedAt, t.finishedAt))}` : "–")));
  return el("div", { class: "stages" }, steps);
}

function stageGantt(run) {
  const t = run.timestamps;
  const end = t.finishedAt || (terminal(run.stage) ? t.updatedAt : new Date().toISOString());
  const total = between(t.submittedAt, end);
  if (!total || total <= 0) return null;
  const segments = [
    ["Queued", t.submittedAt, t.featuresStartedAt || t.featuresReadyAt, "#9aa3b8"],
    ["Features", t.featuresStartedAt || t.featuresReadyAt, t.featuresReadyAt, "#15aabf"],
    ["Training", t.trainingStartedAt || t.featuresReadyAt, t.trainingCompletedAt || (run.stage === "training" ? end : null), "#4c6ef5"],
    ["Evaluation", t.trainingCompletedAt, t.evaluationCompletedAt || (run.stage === "evaluation" ? end : null), "#7950f2"],
    ["Finishing", t.evaluationCompletedAt, t.finishedAt, "#12b886"],
  ].filter(([, from, to]) => from && to && new Date(to) >= new Date(from));
  const bar = el("div", { class: "gantt", title: "Time spent in each stage" }, segments.map(([label, from, to, color]) => {
    const left = (100 * between(t.submittedAt, from)) / total;
    const width = (100 * between(from, to)) / total;
    return el("div", { style: { left: `${left}%`, width: `${Math.max(width, 0.3)}%`, background: color }, title: `${label}: ${fmtMs(between(from, to))}` },
      width > 12 ? `${label} ${fmtMs(between(from, to))}` : "");
  }));
  const legend = el("div", { class: "legend", style: { marginTop: "8px" } },
    segments.map(([label, from, to, color]) => el("span", {}, el("i", { style: { background: color } }), `${label} ${fmtMs(between(from, to))}`)));
  return [bar, legend];
}

function card(label, value, sub) {
  return el("div", { class: "card" }, el("div", { class: "label" }, label), el("div", { class: "value" }, value), sub ? el("div", { class: "sub" }, sub) : null);
}

function summaryCards(run) {
  const f = run.features, tr = run.training, ev = run.evaluation;
  return el("div", { class: "cards" },
    card("Dataset", el("span", { class: "mono", style: { fontSize: "14px" } }, run.dataset.prefix), `layout ${run.dataset.layout}, split seed ${run.dataset.splitSeed}`),
    card("Clips", f.clips ? `${f.clipsExtracted}/${f.clips}` : f.clipsExtracted || "–",
      `${f.clipsRejected || run.rejectedClips.length} rejected${f.reused ? " · features reused" : ""}${f.audioSeconds ? ` · ${(f.audioSeconds / 60).toFixed(1)} min audio` : ""}`),
    card("Shards", f.shardCount ? `${f.completedShards.length}/${f.shardCount}` : f.reused ? "reused" : "–", f.ready ? "features ready" : ""),
    card("Epochs", tr.maxEpochs ? `${tr.history.length}/${tr.maxEpochs}` : "–", [tr.device, tr.stoppedEarly ? "stopped early" : null].filter(Boolean).join(" · ")),
    card("Best validation", tr.bestEpoch ? pct(tr.bestValidationAccuracy) : "–", tr.bestEpoch ? `epoch ${tr.bestEpoch}` : ""),
    card("Test accuracy", ev ? pct(ev.accuracy) : "–", ev ? `${ev.samples} test clips` : ""),
    card("Macro F1", ev ? pct(ev.macroF1) : "–", ""),
    card("Duration", fmtMs(between(run.timestamps.submittedAt, run.timestamps.finishedAt || run.timestamps.updatedAt)) || "–",
      `submitted ${fmtTime(run.timestamps.submittedAt, true)}`));
}

// A line chart as inline SVG: series = [{ name, color, points: [[x, y]] }].
function lineChart({ title, series, yLabel, yFormat = (v) => v.toFixed(2), yMin, yMax, xMax, markX, id }) {
  const W = 560, H = 260, L = 52, R = 14, T = 30, B = 36;
  const values = series.flatMap((s) => s.points.map((p) => p[1])).filter((v) => isFinite(v));
  let lo = yMin ?? Math.min(...values), hi = yMax ?? Math.max(...values);
  if (!values.length) { lo = 0; hi = 1; }
  if (hi - lo < 1e-9) { hi += 0.5; lo -= 0.5; }
  if (yMin === undefined) { const margin = (hi - lo) * 0.08; lo -= margin; hi += margin; }
  const x1 = Math.max(2, xMax);
  const sx = (x) => L + ((x - 1) / (x1 - 1)) * (W - L - R);
  const sy = (y) => T + (1 - (y - lo) / (hi - lo)) * (H - T - B);
  const parts = [];
  const yStep = niceStep(hi - lo, 5);
  for (let v = Math.ceil(lo / yStep) * yStep; v <= hi + 1e-9; v += yStep) {
    parts.push(el("line", { class: "gridline", x1: L, x2: W - R, y1: sy(v), y2: sy(v) }), el("text", { x: L - 6, y: sy(v) + 4, "text-anchor": "end" }, yFormat(v)));
  }
  const xStep = Math.max(1, Math.ceil(niceStep(x1 - 1, 8)));
  for (let x = 1; x <= x1; x += xStep) parts.push(el("text", { x: sx(x), y: H - B + 16, "text-anchor": "middle" }, x));
  parts.push(el("line", { class: "axis", x1: L, x2: W - R, y1: H - B, y2: H - B }), el("line", { class: "axis", x1: L, x2: L, y1: T, y2: H - B }));
  parts.push(el("text", { x: (L + W - R) / 2, y: H - 4, "text-anchor": "middle" }, "epoch"));
  parts.push(el("text", { x: 12, y: (T + H - B) / 2, "text-anchor": "middle", transform: `rotate(-90 12 ${(T + H - B) / 2})` }, yLabel));
  if (markX) {
    parts.push(el("line", { class: "best", x1: sx(markX), x2: sx(markX), y1: T, y2: H - B }),
      el("text", { x: sx(markX) + 4, y: T + 10, style: { fill: "#1f9d55" } }, `best ${markX}`));
  }
  series.forEach((s, i) => {
    const pts = s.points.filter((p) => isFinite(p[1]));
    if (pts.length > 1) parts.push(el("polyline", { class: "series", stroke: s.color, points: pts.map((p) => `${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join(" ") }));
    for (const p of pts) parts.push(el("circle", { cx: sx(p[0]), cy: sy(p[1]), r: pts.length > 40 ? 1.5 : 3, fill: s.color }, el("title", {}, `${s.name}, epoch ${p[0]}: ${yFormat(p[1])}`)));
    const lx = L + 8 + i * 130;
    parts.push(el("line", { x1: lx, x2: lx + 18, y1: 14, y2: 14, stroke: s.color, "stroke-width": 3 }), el("text", { x: lx + 24, y: 18 }, s.name));
  });
  return el("div", { class: "panel chart", id }, el("h2", {}, title), el("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": title }, parts));
}

function trainingCharts(run) {
  const h = run.training.history;
  if (!h.length) {
    return el("div", { class: "panel" }, el("h2", {}, "Training curves"),
      el("p", { class: "muted" }, run.stage === "training" ? "Waiting for the first epoch…" : "No epochs yet."));
  }
  const xMax = Math.max(run.training.maxEpochs, h[h.length - 1].epoch);
  const best = run.training.bestEpoch || null;
  return [
    lineChart({ id: "loss-chart", title: "Loss", yLabel: "loss", xMax, markX: best, series: [
      { name: "train", color: "#4c6ef5", points: h.map((e) => [e.epoch, num(e.trainLoss)]) },
      { name: "validation", color: "#f76707", points: h.map((e) => [e.epoch, num(e.validationLoss)]) }] }),
    lineChart({ id: "accuracy-chart", title: "Accuracy", yLabel: "accuracy", xMax, markX: best, yMin: 0, yMax: 1, yFormat: (v) => `${Math.round(v * 100)}%`, series: [
      { name: "train", color: "#4c6ef5", points: h.map((e) => [e.epoch, num(e.trainAccuracy)]) },
      { name: "validation", color: "#f76707", points: h.map((e) => [e.epoch, num(e.validationAccuracy)]) }] }),
  ];
}

function epochTable(run) {
  const h = run.training.history;
  if (!h.length) return null;
  const best = run.training.bestEpoch || null;
  return [
    el("div", { class: "panel" }, el("details", {}, el("summary", {}, `Epochs (${h.length})`), el("table", {},
      el("thead", {}, el("tr", {}, ["Epoch", "Train loss", "Train acc", "Val loss", "Val acc", "LR", "Time"].map((x) => el("th", { class: "num" }, x)))),
      el("tbody", {}, h.map((e) => el("tr", { style: e.epoch === best ? { fontWeight: 600 } : null },
        el("td", { class: "num" }, e.epoch), el("td", { class: "num" }, num(e.trainLoss).toFixed(4)), el("td", { class: "num" }, pct(num(e.trainAccuracy))),
        el("td", { class: "num" }, num(e.validationLoss).toFixed(4)), el("td", { class: "num" }, pct(num(e.validationAccuracy))),
        el("td", { class: "num" }, num(e.learningRate).toExponential(2)), el("td", { class: "num" }, fmtMs(e.seconds * 1000)))))))),
  ];
}

function metricsPanels(run) {
  const ev = run.evaluation;
  if (!ev) return el("div", { class: "panel" }, el("h2", {}, "Test metrics"), el("p", { class: "muted" }, "Not evaluated yet."));
  const recall = el("div", { class: "panel", id: "recall" }, el("h2", {}, "Test metrics"),
    el("div", { class: "cards", style: { marginBottom: "14px" } }, card("Accuracy", pct(ev.accuracy)), card("Macro F1", pct(ev.macroF1)), card("Test clips", ev.samples)),
    el("h2", {}, "Recall per class"),
    el("div", { class: "recall" }, ev.perClassRecall.map((c) => [el("span", {}, c.name),
      el("div", { class: "bar" }, el("div", { style: { width: `${(c.recall * 100).toFixed(1)}%` } })), el("span", { class: "num small" }, pct(c.recall))])));
  const hasMatrix = run.artifacts.some((a) => a.name === "confusion_matrix.png");
  const matrix = el("div", { class: "panel", id: "confusion" }, el("h2", {}, "Confusion matrix (test, row-normalised)"),
    hasMatrix ? el("img", { class: "confusion", id: "confusion-matrix", alt: "Confusion matrix", src: `/api/runs/${run.runId}/artifacts/confusion_matrix.png` })
      : el("p", { class: "muted" }, "No confusion_matrix.png among the artifacts."));
  return [recall, matrix];
}

function artifactList(run) {
  if (!run.artifacts.length) return el("p", { class: "muted" }, "None yet.");
  return el("table", {}, el("thead", {}, el("tr", {}, el("th", {}, "File"), el("th", {}, "Blob key"), el("th", {}, ""))),
    el("tbody", {}, run.artifacts.map((a) => {
      const href = `/api/runs/${run.runId}/artifacts/${encodeURIComponent(a.name)}`;
      return el("tr", {}, el("td", {}, el("a", { href, target: "_blank", rel: "noopener" }, a.name)), el("td", { class: "mono small muted" }, a.key),
        el("td", {}, el("a", { href, download: a.name }, "download")));
    })));
}

function problemPanels(run) {
  const panels = [];
  if (run.errors.length) {
    panels.push(el("div", { class: "panel", id: "errors" }, el("h2", {}, `Errors (${run.errors.length})`),
      run.errors.map((e) => message([el("strong", {}, `${words(e.stage)}: `), e.message, e.exceptionType ? el("span", { class: "mono small" }, ` (${e.exceptionType})`) : null,
        el("span", { class: "small" }, ` — ${fmtTime(e.timestamp, true)}`)], "error"))));
  }
  const rejected = run.rejectedClips;
  panels.push(el("div", { class: "panel", id: "rejected" }, el("h2", {}, `Rejected clips (${rejected.length})`),
    rejected.length ? el("details", { open: rejected.length <= 10 }, el("summary", {}, rejected.length <= 10 ? "Hide" : "Show all"),
      el("table", {}, el("thead", {}, el("tr", {}, el("th", {}, "Clip"), el("th", {}, "Stage"), el("th", {}, "Reason"))),
        el("tbody", {}, rejected.map((c) => el("tr", {}, el("td", { class: "mono small" }, c.key), el("td", {}, c.stage), el("td", {}, c.reason))))))
      : el("p", { class: "muted" }, "None: every clip was usable.")));
  panels.push(el("div", { class: "panel" }, el("details", {}, el("summary", {}, "Configuration"), el("pre", { class: "json" }, JSON.stringify(run.config, null, 2)))));
  return panels;
}
