// CremaD runs: the runs API's own web UI, a hash-routed single page (#/runs, #/runs/<id>, #/sweeps, #/sweeps/<id>) over the API's JSON
// endpoints on the same origin. Vanilla JS, no dependencies. Every view builds its DOM with el() (text is never
// parsed as HTML) and polls only what it shows. Every request goes through request(), the one place that adds the
// API key's Authorization header.
"use strict";

const view = document.getElementById("view");
const statusBadge = document.getElementById("status");
let stopCurrent = () => {};

// ---------- helpers ----------

const SVG_TAGS = new Set(["svg", "g", "path", "line", "text", "rect", "circle", "polyline", "title"]);

function el(tag, attrs, ...children) {
  const node = SVG_TAGS.has(tag) ? document.createElementNS("http://www.w3.org/2000/svg", tag) : document.createElement(tag);
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

function message(text, kind = "") { return el("div", { class: `notice ${kind}` }, text); }
function replace(node, ...children) { node.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false)); }

// ---------- the runs API ----------

class HttpError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

// The runs API's key, for this tab only (sessionStorage: gone when the tab closes). It arrives in the address's
// fragment (#key=..., the AppHost's "Runs UI" link: a fragment is never sent to a server) or from the key form.
const KEY_STORAGE = "cremad.runsApiKey";
(function takeKeyFromAddress() {
  const match = location.hash.match(/^#key=([^&]+)/);
  if (!match) return;
  sessionStorage.setItem(KEY_STORAGE, decodeURIComponent(match[1]));
  // Out of the address bar (and the history) at once.
  history.replaceState(null, "", `${location.pathname}${location.search}#/runs`);
})();

// The Authorization header value for the runs API, or null while this tab has no key.
function authorization() {
  const key = sessionStorage.getItem(KEY_STORAGE);
  return key ? `Bearer ${key}` : null;
}

// The API refused the key (or there was none): the view becomes a form asking for one; polling stops until it is given.
function askForKey() {
  if (document.getElementById("key-form")) return;
  stopCurrent();
  stopCurrent = () => {};
  const hadKey = sessionStorage.getItem(KEY_STORAGE) !== null;
  sessionStorage.removeItem(KEY_STORAGE);
  const input = el("input", { type: "password", id: "key-input", autocomplete: "off", required: true, minlength: 32, size: 56,
    "aria-label": "Runs API key" });
  const form = el("form", {
    id: "key-form", class: "panel",
    onsubmit: (e) => {
      e.preventDefault();
      sessionStorage.setItem(KEY_STORAGE, input.value.trim());
      route();
    },
  },
  el("h2", {}, "API key needed"),
  message(hadKey ? "The runs API refused this key (HTTP 401). Enter a valid one." :
    "The runs API needs an API key. The AppHost prints where it is (and its dashboard's Runs UI link carries it).", hadKey ? "error" : "warn"),
  el("p", {}, input, " ", el("button", { type: "submit" }, "Use this key")));
  view.replaceChildren(form);
  input.focus();
}

// Sends a request to the runs API and returns the response if it succeeded; otherwise throws an HttpError whose
// message says what went wrong (the API's own error text when it sent one).
async function request(path, { method = "GET", accept = "application/json" } = {}) {
  const headers = { Accept: accept };
  const auth = authorization();
  if (auth) headers.Authorization = auth;
  let response;
  try {
    response = await fetch(path, { method, headers, cache: "no-store" });
  } catch {
    setOnline(false);
    throw new HttpError(0, "The runs API is not answering (stopped or restarting?); retrying.");
  }
  setOnline(true);
  if (response.status === 401) {
    askForKey();
    throw new HttpError(401, "The runs API asks for an API key.");
  }
  if (!response.ok) {
    let body = null;
    try { body = await response.json(); } catch { /* not JSON */ }
    throw new HttpError(response.status, errorText(body) || `${method} ${path}: HTTP ${response.status} ${response.statusText}`);
  }
  return response;
}

// The text of an error answer: {"error": "..."} from the runs API, or a validation problem's messages.
function errorText(body) {
  if (!body) return null;
  if (body.error) return body.error;
  if (body.errors) return Object.values(body.errors).flat().join(" ");
  return body.title || body.detail || null;
}

async function api(path, options) {
  const response = await request(path, options);
  return response.status === 204 ? null : response.json();
}

function setOnline(online) {
  statusBadge.classList.toggle("down", !online);
  statusBadge.textContent = online ? "live" : "disconnected";
}

// Object URLs of the artefacts the current view fetched (images, downloads); released when the view changes.
let objectUrls = new Map();
function releaseObjectUrls() {
  for (const url of objectUrls.values()) url.then((u) => URL.revokeObjectURL(u), () => {});
  objectUrls = new Map();
  jsonDocuments = new Map();
}

// JSON artefacts the current view fetched (the model card), once per view, like the pictures.
let jsonDocuments = new Map();
function fetchedJson(path) {
  if (!jsonDocuments.has(path)) {
    const doc = request(path).then((r) => r.json());
    doc.catch(() => jsonDocuments.delete(path));
    jsonDocuments.set(path, doc);
  }
  return jsonDocuments.get(path);
}

// An object URL of the file at path, fetched once per view through request() (so it carries the API key).
function objectUrl(path) {
  if (!objectUrls.has(path)) {
    const url = request(path, { accept: "*/*" }).then((r) => r.blob()).then((b) => URL.createObjectURL(b));
    url.catch(() => objectUrls.delete(path)); // a failed fetch is tried again by the next render
    objectUrls.set(path, url);
  }
  return objectUrls.get(path);
}

// An <img> whose picture comes through request(); on failure it is replaced by the reason.
function fetchedImage(path, attrs) {
  const img = el("img", attrs);
  objectUrl(path).then((url) => { img.src = url; }, (e) => img.replaceWith(message(`${attrs.alt || path}: ${e.message}`, "error")));
  return img;
}

// A download link: a plain click fetches through request() and saves under the artefact's name; the href stays for
// "open in new tab" and "copy link".
function downloadLink(path, name, label, onError) {
  return el("a", {
    href: path, download: name,
    onclick: (e) => {
      if (e.button !== 0 || e.ctrlKey || e.metaKey || e.shiftKey || e.altKey) return;
      e.preventDefault();
      objectUrl(path).then((url) => {
        const save = el("a", { href: url, download: name, hidden: true });
        document.body.append(save);
        save.click();
        save.remove();
      }, onError);
    },
  }, label);
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

// ---------- formatting ----------

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

function niceStep(total, count) {
  const raw = total / count;
  const power = Math.pow(10, Math.floor(Math.log10(raw)));
  return [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= raw) || raw;
}

// ---------- router ----------

const routes = [
  [/^#\/runs\/([0-9a-fA-F-]{36})$/, (m) => runView(m[1].toLowerCase())],
  [/^#\/runs$/, runsView],
  [/^#\/sweeps\/([0-9a-fA-F-]{36})$/, (m) => sweepView(m[1].toLowerCase())],
  [/^#\/sweeps$/, sweepsView],
];

function route() {
  stopCurrent();
  stopCurrent = () => {};
  releaseObjectUrls();
  const hash = location.hash;
  for (const [pattern, render] of routes) {
    const match = hash.match(pattern);
    if (!match) continue;
    for (const a of document.querySelectorAll("[data-nav]")) a.classList.toggle("active", hash.startsWith(`#/${a.dataset.nav}`));
    view.replaceChildren();
    window.scrollTo(0, 0);
    stopCurrent = render(match) || (() => {});
    return;
  }
  // Home (and any address this page does not know) is the run list, with its hash in the address bar.
  location.replace("#/runs");
}
window.addEventListener("hashchange", route);

// ---------- runs ----------

const STAGE_CLASS = { submitted: "plain", features: "info", training: "info", evaluation: "info", completed: "ok", failed: "bad", cancelled: "warn" };
const terminal = (stage) => ["completed", "failed", "cancelled"].includes(stage);

// Runs the list asks for at first; "Show more" asks for this many more each time.
const PAGE = 50;
// The most runs the API returns in one answer (RunsApi.MaxPageSize); older ones are a query with ?after= away.
const MAX_PAGE = 500;

function runsView() {
  document.title = "Runs · CremaD";
  const note = el("div");
  const body = el("tbody");
  let limit = PAGE;
  const more = el("button", { type: "button", id: "more-runs", hidden: true, onclick: () => { limit = Math.min(limit + PAGE, MAX_PAGE); refresh(); } }, "Show more");
  // The table appears with the first answer: an error before it (no API key, API down) stands alone.
  const table = el("div", { class: "panel flush", hidden: true }, el("table", { id: "runs" },
      el("thead", {}, el("tr", {}, ["Run", "Stage", "Progress", "Submitted", "Duration", "Epochs", "Test accuracy", "Macro F1", "Dataset"]
        .map((h) => el("th", { class: ["Epochs", "Test accuracy", "Macro F1", "Duration"].includes(h) ? "num" : "" }, h)))), body));
  view.append(el("div", { class: "page-head" }, el("h1", {}, "Runs"), el("span", { class: "muted", id: "run-count" })), note, table,
    el("div", { class: "toolbar" }, more));
  const load = async () => {
    let runs;
    try { runs = await api(`/runs?limit=${limit}`); } catch (e) { replace(note, message(e.message, e.status === 0 ? "warn" : "error")); return 3000; }
    replace(note);
    table.hidden = false;
    // The API lists newest submission first; a full page means there may be more.
    more.hidden = runs.length < limit || limit >= MAX_PAGE;
    document.getElementById("run-count").textContent = `${runs.length}${more.hidden ? "" : "+"} run${runs.length === 1 ? "" : "s"}`;
    replace(body, runs.length ? runs.map(runRow) :
      el("tr", {}, el("td", { colspan: 9, class: "muted" }, "No runs yet. Submit one with ",
        el("code", {}, `curl -X POST ${location.origin}/runs -H 'Content-Type: application/json' -d '{"dataset": "demo"}'`), ".")));
    return 2000;
  };
  let stop = poll(load, 2000);
  const refresh = () => { stop(); stop = poll(load, 2000); };
  return () => stop();
}

function runRow(r) {
  return el("tr", { "data-run": r.runId },
    el("td", {}, el("a", { href: `#/runs/${r.runId}` }, el("strong", {}, r.name || shortId(r.runId))), " ", el("span", { class: "mono muted small" }, r.name ? shortId(r.runId) : "")),
    el("td", {}, el("span", { class: `badge ${STAGE_CLASS[r.stage] || "plain"}` }, words(r.stage))),
    el("td", {}, progressBar(r)),
    el("td", { class: "nowrap muted" }, fmtTime(r.timestamps.submittedAt)),
    el("td", { class: "num nowrap" }, fmtMs(between(r.timestamps.submittedAt, r.timestamps.finishedAt || (terminal(r.stage) ? null : new Date().toISOString())))),
    el("td", { class: "num" }, r.training.maxEpochs ? `${r.training.history.length}/${r.training.maxEpochs}` : ""),
    el("td", { class: "num" }, r.evaluation ? pct(r.evaluation.accuracy) : ""),
    el("td", { class: "num" }, r.evaluation ? pct(r.evaluation.macroF1) : ""),
    el("td", { class: "mono small" }, r.dataset.prefix));
}

function progressBar(r) {
  const cls = r.stage === "completed" ? "done" : r.stage === "failed" || r.stage === "cancelled" ? "failed" : "";
  return el("div", { class: "toolbar", style: { gap: "8px" } }, el("div", { class: `progress ${cls}`, style: { flex: 1 } }, el("div", { style: { width: `${(r.progress * 100).toFixed(1)}%` } })),
    el("span", { class: "small muted nowrap" }, `${Math.round(r.progress * 100)}%`));
}

const artifactPath = (runId, name) => `/runs/${runId}/artifacts/${encodeURIComponent(name)}`;

function runView(runId) {
  document.title = `Run ${shortId(runId)} · CremaD`;
  const note = el("div");
  const head = el("div", { class: "page-head" }, el("h1", {}, `Run ${shortId(runId)}`));
  const timeline = el("div", { class: "panel", id: "timeline" });
  const cards = el("div", { class: "panel", id: "summary" });
  const curves = el("div", { class: "grid2 section", id: "curves" });
  const epochs = el("div", { id: "epochs" });
  const metrics = el("div", { class: "grid2 section", id: "metrics" });
  const files = el("div", { class: "panel", id: "artifacts" });
  const problems = el("div", { id: "problems" });
  const actionNote = el("div");
  // The panels appear with the run: an unknown run or an error shows the message alone.
  const panels = el("div", { hidden: true }, timeline, cards, curves, epochs, metrics, files, problems);
  view.append(el("p", { class: "crumbs small" }, el("a", { href: "#/runs" }, "← All runs")), head, note, actionNote, panels);

  let lastJson = "";
  let cancelRequested = false;
  const showActionError = (e) => replace(actionNote, message(e.message, "error"));
  return poll(async () => {
    let run;
    try {
      run = await api(`/runs/${runId}`);
    } catch (e) {
      replace(note, message(e.status === 404 ? [e.message, " ", el("a", { href: "#/runs" }, "Back to the runs.")] : e.message, e.status === 0 ? "warn" : "error"));
      if (e.status === 404) panels.hidden = true;
      return e.status === 404 ? 5000 : 3000;
    }
    replace(note);
    panels.hidden = false;
    const json = JSON.stringify(run);
    const changed = json !== lastJson;
    if (changed) {
      lastJson = json;
      // A cancellation's notice has done its job once the run has stopped.
      if (terminal(run.stage) && cancelRequested) { replace(actionNote); cancelRequested = false; }
      document.title = `${run.name || `Run ${shortId(runId)}`} · CremaD`;
      replace(head, el("h1", {}, run.name || `Run ${shortId(runId)}`), el("span", { class: `badge ${STAGE_CLASS[run.stage] || "plain"}`, id: "run-stage" }, words(run.stage)),
        el("span", { class: "mono muted small" }, run.runId), el("span", { class: "grow" }),
        terminal(run.stage) ? null : cancelButton(run, () => {
          cancelRequested = true;
          replace(actionNote, message("Cancellation requested: the run stops at its next step."));
        }, showActionError));
      replace(curves, trainingCharts(run));
      replace(epochs, epochTable(run));
      replace(metrics, metricsPanels(run));
      replace(files, el("h2", {}, `Artifacts (${run.artifacts.length})`), artifactList(run, showActionError));
      replace(problems, problemPanels(run));
    }
    // The clock of a live run moves between its events: its timeline and duration are drawn at every poll.
    if (changed || !terminal(run.stage)) {
      replace(timeline, el("h2", {}, "Stages"), stageSteps(run), stageGantt(run), el("div", { style: { marginTop: "12px" } }, progressBar(run)));
      replace(cards, el("h2", {}, "Summary"), summaryCards(run));
    }
    return terminal(run.stage) ? 10000 : 1500;
  }, 1500);
}

function cancelButton(run, onRequested, onError) {
  const button = el("button", {
    type: "button", class: "danger", id: "cancel-run",
    onclick: async () => {
      if (!confirm(`Cancel run ${run.name || shortId(run.runId)}? Its work so far is kept, but it will not finish.`)) return;
      button.disabled = true;
      try {
        await api(`/runs/${run.runId}/cancel`, { method: "POST" });
        onRequested();
      } catch (e) {
        button.disabled = false;
        onError(e);
      }
    },
  }, "Cancel run");
  return button;
}

const STEPS = [
  ["submitted", "Submitted", (t) => t.submittedAt],
  ["features", "Features", (t) => t.featuresStartedAt || t.featuresReadyAt],
  ["training", "Training", (t) => t.trainingStartedAt || t.featuresReadyAt],
  ["evaluation", "Evaluation", (t) => t.trainingCompletedAt],
];

// The stage a run is in, or for a failed or cancelled run the stage it stopped in (its last error names it).
function stageReached(run) {
  if (run.stage !== "failed" && run.stage !== "cancelled") return run.stage;
  return run.errors.length ? run.errors[run.errors.length - 1].stage : "submitted";
}

function stageSteps(run) {
  const order = ["submitted", "features", "training", "evaluation", "completed"];
  const t = run.timestamps;
  const failed = run.stage === "failed" || run.stage === "cancelled";
  const reached = order.indexOf(stageReached(run));
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
  // The stage under way (or where a failed run stopped) runs until now (or until the run finished).
  const reached = stageReached(run);
  const open = (stage) => (reached === stage ? end : null);
  const segments = [
    ["Queued", t.submittedAt, t.featuresStartedAt || t.featuresReadyAt || open("submitted"), "#9aa3b8"],
    ["Features", t.featuresStartedAt || t.featuresReadyAt, t.featuresReadyAt || open("features"), "#15aabf"],
    ["Training", t.trainingStartedAt || t.featuresReadyAt, t.trainingCompletedAt || open("training"), "#4c6ef5"],
    ["Evaluation", t.trainingCompletedAt, t.evaluationCompletedAt || open("evaluation"), "#7950f2"],
    ["Finishing", t.evaluationCompletedAt, t.finishedAt, "#12b886"],
  ].filter(([, from, to]) => from && to && new Date(to) >= new Date(from));
  const bar = el("div", { class: "gantt", id: "gantt", title: "Time spent in each stage" }, segments.map(([label, from, to, color]) => {
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
    card("Dataset", el("span", { class: "mono", style: { fontSize: "14px" } }, run.dataset.prefix), `layout ${run.dataset.layout}, split seed ${run.dataset.splitSeed}, ${run.dataset.labelsFrom === "perceived" ? "perceived" : "acted"} emotions` +
      (run.dataset.fold ? `, fold ${run.dataset.fold.index} of ${run.dataset.fold.count}` : "")),
    card("Clips", f.clips ? `${f.clipsExtracted}/${f.clips}` : f.clipsExtracted || "–",
      `${f.clipsRejected || run.rejectedClips.length} rejected${f.reused ? " · features reused" : ""}${f.audioSeconds ? ` · ${(f.audioSeconds / 60).toFixed(1)} min audio` : ""}`),
    card("Shards", f.shardCount ? `${f.completedShards.length}/${f.shardCount}` : f.reused ? "reused" : "–", f.ready ? "features ready" : ""),
    card("Epochs", tr.maxEpochs ? `${tr.history.length}/${tr.maxEpochs}` : "–", [tr.device, tr.stoppedEarly ? "stopped early" : null].filter(Boolean).join(" · ") +
      (tr.worker ? ` · on ${tr.worker}` : "")),
    card("Best validation", tr.bestEpoch ? pct(tr.bestValidationAccuracy) : "–", tr.bestEpoch ? `epoch ${tr.bestEpoch}` : ""),
    card("Test accuracy", ev ? pct(ev.accuracy) : "–", ev ? `${ev.samples} test clips` : ""),
    card("Macro F1", ev ? pct(ev.macroF1) : "–", ""),
    card("Duration", fmtMs(between(run.timestamps.submittedAt, run.timestamps.finishedAt || (terminal(run.stage) ? run.timestamps.updatedAt : new Date().toISOString()))) || "–",
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
      el("text", { class: "best-label", x: sx(markX) + 4, y: T + 10 }, `best ${markX}`));
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
  return el("div", { class: "panel" }, el("details", {}, el("summary", {}, `Epochs (${h.length})`), el("table", {},
    el("thead", {}, el("tr", {}, ["Epoch", "Train loss", "Train acc", "Val loss", "Val acc", "LR", "Time"].map((x) => el("th", { class: "num" }, x)))),
    el("tbody", {}, h.map((e) => el("tr", { class: e.epoch === best ? "best" : null },
      el("td", { class: "num" }, e.epoch), el("td", { class: "num" }, num(e.trainLoss).toFixed(4)), el("td", { class: "num" }, pct(num(e.trainAccuracy))),
      el("td", { class: "num" }, num(e.validationLoss).toFixed(4)), el("td", { class: "num" }, pct(num(e.validationAccuracy))),
      el("td", { class: "num" }, num(e.learningRate).toExponential(2)), el("td", { class: "num" }, fmtMs(e.seconds * 1000))))))));
}

function metricsPanels(run) {
  const ev = run.evaluation;
  if (!ev) return el("div", { class: "panel" }, el("h2", {}, "Test metrics"), el("p", { class: "muted" }, terminal(run.stage) ? "Not evaluated." : "Not evaluated yet."));
  const recall = el("div", { class: "panel", id: "recall" }, el("h2", {}, "Test metrics"),
    el("div", { class: "cards", style: { marginBottom: "14px" } }, card("Accuracy", pct(ev.accuracy)), card("Macro F1", pct(ev.macroF1)), card("Test clips", ev.samples)),
    el("h2", {}, "Recall per class"),
    el("div", { class: "recall" }, ev.perClassRecall.map((c) => [el("span", {}, c.name),
      el("div", { class: "bar" }, el("div", { style: { width: `${(c.recall * 100).toFixed(1)}%` } })), el("span", { class: "num small" }, pct(c.recall))])));
  const hasMatrix = run.artifacts.some((a) => a.name === "confusion_matrix.png");
  const matrix = el("div", { class: "panel", id: "confusion" }, el("h2", {}, "Confusion matrix (test, row-normalised)"),
    hasMatrix ? fetchedImage(artifactPath(run.runId, "confusion_matrix.png"), { class: "confusion", id: "confusion-matrix", alt: "Confusion matrix" })
      : el("p", { class: "muted" }, "No confusion_matrix.png among the artifacts."));
  return [recall, matrix, modelCardPanel(run)];
}

// model_card.json as a table by speaker group, its largest gap first, and model_card.png; groups too small to
// report say so instead of showing a rate.
function modelCardPanel(run) {
  const panel = el("div", { class: "panel wide", id: "model-card" }, el("h2", {}, "Model card: by speaker group (test)"));
  if (!run.artifacts.some((a) => a.name === "model_card.json")) {
    panel.append(el("p", { class: "muted" }, "No model_card.json among the artifacts."));
    return panel;
  }
  panel.append(modelCardBody(artifactPath(run.runId, "model_card.json"),
    run.artifacts.some((a) => a.name === "model_card.png") ? artifactPath(run.runId, "model_card.png") : null));
  return panel;
}

// A model card (its JSON at jsonPath) as the table by speaker group with its largest gap first, beside its picture.
function modelCardBody(jsonPath, pngPath) {
  const body = el("div", {}, el("p", { class: "muted" }, "Loading the model card…"));
  fetchedJson(jsonPath).then((mc) => {
    const gap = mc.largest_accuracy_gap;
    const headline = gap
      ? el("p", { id: "model-card-gap" }, el("strong", {}, `Largest accuracy gap: ${(gap.gap * 100).toFixed(1)} points by ${gap.attribute.replace("_", " ")}`),
        ` (${gap.highest_group} ${pct(gap.highest)} vs ${gap.lowest_group} ${pct(gap.lowest)})`)
      : el("p", { id: "model-card-gap", class: "muted" },
        `No attribute has two groups with at least ${mc.minimum_group_clips} clips and ${mc.minimum_group_actors} actors in this test set: no gap can be measured.`);
    const rows = mc.groups.map((g) => el("tr", { "data-group": `${g.attribute}:${g.group}` },
      el("td", {}, g.attribute.replace("_", " ")), el("td", {}, g.group), el("td", { class: "num" }, g.clips), el("td", { class: "num" }, g.actors),
      g.too_few ? el("td", { class: "muted", colspan: 2 }, "too few to report")
        : [el("td", { class: "num" }, pct(g.accuracy)), el("td", { class: "num" }, pct(g.macro_f1))]));
    replace(body, headline,
      el("div", { class: "model-card" },
        el("div", {},
          el("table", {}, el("thead", {}, el("tr", {}, ["Attribute", "Group", "Clips", "Actors", "Accuracy", "Macro F1"].map((x) => el("th", {}, x)))), el("tbody", {}, rows)),
          el("p", { class: "small muted" }, `Speakers: ${mc.demographics_source}. Intended use: ${mc.intended_use}`)),
        pngPath ? fetchedImage(pngPath, { class: "confusion", id: "model-card-plot", alt: "Model card" }) : null));
  }, (e) => replace(body, message(`model_card.json: ${e.message}`, "error")));
  return body;
}

function artifactList(run, onError) {
  if (!run.artifacts.length) return el("p", { class: "muted" }, terminal(run.stage) ? "None." : "None yet: they appear when training and evaluation finish.");
  // The confusion matrix and the model card have their own panels; the other pictures (the training curves) are previewed here.
  const previews = run.artifacts.filter((a) => /\.png$/i.test(a.name) && a.name !== "confusion_matrix.png" && a.name !== "model_card.png");
  return [
    el("table", {}, el("thead", {}, el("tr", {}, el("th", {}, "File"), el("th", {}, "Blob key"), el("th", {}, ""))),
      el("tbody", {}, run.artifacts.map((a) => {
        const path = artifactPath(run.runId, a.name);
        return el("tr", { "data-artifact": a.name },
          // The API sends artefacts as attachments: a link on the name would download too, so there is one link.
          el("td", {}, a.name),
          el("td", { class: "mono small muted" }, a.key),
          el("td", { class: "nowrap" }, downloadLink(path, a.name, "download", onError)));
      }))),
    previews.length ? el("div", { class: "previews" }, previews.map((a) =>
      el("figure", { "data-preview": a.name }, fetchedImage(artifactPath(run.runId, a.name), { alt: a.name }), el("figcaption", { class: "small muted" }, a.name)))) : null,
  ];
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
        el("tbody", {}, rejected.map((c) => el("tr", {}, el("td", { class: "mono small" }, c.key), el("td", {}, words(c.stage)), el("td", {}, c.reason))))))
      : el("p", { class: "muted" }, "None: every clip was usable.")));
  panels.push(el("div", { class: "panel" }, el("details", {}, el("summary", {}, "Configuration"), el("pre", { class: "json", id: "config" }, JSON.stringify(run.config, null, 2)))));
  return panels;
}

// ---------- sweeps (cross-validation: one run per speaker-independent fold) ----------

const meanSd = (mean, sd) => (mean === null || mean === undefined ? "–" : `${pct(mean)} ± ${(sd * 100).toFixed(1)}`);
const modelName = (config) => config.model || "statpool";

function sweepsView() {
  document.title = "Sweeps · CremaD";
  const note = el("div");
  const body = el("tbody");
  const table = el("div", { class: "panel flush", hidden: true }, el("table", { id: "sweeps" },
    el("thead", {}, el("tr", {}, ["Sweep", "Stage", "Folds done", "Model", "Test accuracy", "Macro F1", "Submitted", "Dataset"]
      .map((h) => el("th", { class: ["Folds done", "Test accuracy", "Macro F1"].includes(h) ? "num" : "" }, h)))), body));
  view.append(el("div", { class: "page-head" }, el("h1", {}, "Sweeps"), el("span", { class: "muted", id: "sweep-count" })),
    el("p", { class: "muted small" }, "Speaker-independent k-fold cross-validation: each fold is a run of its own; mean ± sd over the completed folds."),
    note, table);
  return poll(async () => {
    let sweeps;
    try { sweeps = await api("/sweeps"); } catch (e) { replace(note, message(e.message, e.status === 0 ? "warn" : "error")); return 3000; }
    replace(note);
    table.hidden = false;
    document.getElementById("sweep-count").textContent = `${sweeps.length} sweep${sweeps.length === 1 ? "" : "s"}`;
    replace(body, sweeps.length ? sweeps.map((w) => el("tr", { "data-sweep": w.sweepId },
      el("td", {}, el("a", { href: `#/sweeps/${w.sweepId}` }, el("strong", {}, w.name || shortId(w.sweepId))), " ", el("span", { class: "mono muted small" }, w.name ? shortId(w.sweepId) : "")),
      el("td", {}, el("span", { class: `badge ${STAGE_CLASS[w.stage] || "plain"}` }, words(w.stage))),
      el("td", { class: "num" }, `${w.completedFolds}/${w.folds}`),
      el("td", {}, modelName(w.config)),
      el("td", { class: "num nowrap" }, meanSd(w.accuracyMean, w.accuracySd)),
      el("td", { class: "num nowrap" }, meanSd(w.macroF1Mean, w.macroF1Sd)),
      el("td", { class: "nowrap muted" }, fmtTime(w.submittedAt)),
      el("td", { class: "mono small" }, w.dataset)))
      : el("tr", {}, el("td", { colspan: 8, class: "muted" }, "No sweeps yet. Start one with ",
        el("code", {}, "cremad runs sweep --dataset demo --folds 5"), ".")));
    return sweeps.some((w) => !terminal(w.stage)) ? 2000 : 5000;
  }, 2000);
}

function sweepView(sweepId) {
  document.title = `Sweep ${shortId(sweepId)} · CremaD`;
  const note = el("div");
  const head = el("div", { class: "page-head" }, el("h1", {}, `Sweep ${shortId(sweepId)}`));
  const cards = el("div", { class: "panel", id: "sweep-summary" });
  const folds = el("div", { class: "grid2 section" });
  const merged = el("div", { class: "panel wide", id: "sweep-model-card" });
  const panels = el("div", { hidden: true }, cards, folds, merged);
  view.append(el("p", { class: "crumbs small" }, el("a", { href: "#/sweeps" }, "← All sweeps")), head, note, panels);
  let lastJson = "";
  return poll(async () => {
    let sweep;
    try {
      sweep = await api(`/sweeps/${sweepId}`);
    } catch (e) {
      replace(note, message(e.status === 404 ? [e.message, " ", el("a", { href: "#/sweeps" }, "Back to the sweeps.")] : e.message, e.status === 0 ? "warn" : "error"));
      if (e.status === 404) panels.hidden = true;
      return e.status === 404 ? 5000 : 3000;
    }
    replace(note);
    panels.hidden = false;
    const json = JSON.stringify(sweep);
    if (json === lastJson) return terminal(sweep.stage) ? 10000 : 2000;
    lastJson = json;
    const title = sweep.name || `Sweep ${shortId(sweepId)}`;
    document.title = `${title} · CremaD`;
    replace(head, el("h1", {}, title), el("span", { class: `badge ${STAGE_CLASS[sweep.stage] || "plain"}`, id: "sweep-stage" }, words(sweep.stage)),
      el("span", { class: "mono muted small" }, sweep.sweepId));
    replace(cards, el("h2", {}, "Summary"), el("div", { class: "cards" },
      card("Folds", `${sweep.completedFolds}/${sweep.folds}`, `completed · fold seed ${sweep.foldSeed}`),
      card("Model", modelName(sweep.config), `${sweep.config.epochs} epochs at most`),
      card("Test accuracy", meanSd(sweep.accuracyMean, sweep.accuracySd), "mean ± sd over folds"),
      card("Macro F1", meanSd(sweep.macroF1Mean, sweep.macroF1Sd), "mean ± sd over folds"),
      card("Dataset", el("span", { class: "mono", style: { fontSize: "14px" } }, sweep.dataset), `submitted ${fmtTime(sweep.submittedAt, true)}`)));
    replace(folds,
      el("div", { class: "panel flush" }, el("table", { id: "sweep-folds" },
        el("thead", {}, el("tr", {}, ["Fold", "Run", "Stage", "Progress", "Trainer", "Test accuracy", "Macro F1"].map((h) => el("th", { class: ["Test accuracy", "Macro F1"].includes(h) ? "num" : "" }, h)))),
        el("tbody", {}, sweep.foldRuns.map((f) => el("tr", { "data-fold": f.fold },
          el("td", {}, `${f.fold} of ${sweep.folds}`),
          el("td", {}, el("a", { href: `#/runs/${f.runId}`, class: "mono small" }, shortId(f.runId))),
          el("td", {}, el("span", { class: `badge ${STAGE_CLASS[f.stage] || "plain"}` }, words(f.stage))),
          el("td", {}, progressBar(f)),
          el("td", { class: "small muted" }, f.worker || ""),
          el("td", { class: "num" }, f.accuracy === null ? "" : pct(f.accuracy)),
          el("td", { class: "num" }, f.macroF1 === null ? "" : pct(f.macroF1))))))),
      foldChart(sweep));
    replace(merged, el("h2", {}, "Merged model card: every fold's test speakers"),
      sweep.stage === "completed"
        ? modelCardBody(`/sweeps/${sweepId}/model_card.json`, `/sweeps/${sweepId}/model_card.png`)
        : el("p", { class: "muted" }, sweep.stage === "failed"
          ? "A fold failed or was cancelled: the merged model card needs every fold."
          : `Appears when every fold has completed (${sweep.completedFolds} of ${sweep.folds} so far).`));
    return terminal(sweep.stage) ? 10000 : 2000;
  }, 2000);
}

// Each fold's test accuracy and macro-F1 as bars, with the means as dashed lines: how much the folds disagree.
function foldChart(sweep) {
  const W = 560, H = 260, L = 52, R = 14, T = 30, B = 36;
  const n = sweep.foldRuns.length;
  const slot = (W - L - R) / n;
  const sy = (v) => T + (1 - v) * (H - T - B);
  const parts = [];
  for (let v = 0; v <= 1.0001; v += 0.25) {
    parts.push(el("line", { class: "gridline", x1: L, x2: W - R, y1: sy(v), y2: sy(v) }), el("text", { x: L - 6, y: sy(v) + 4, "text-anchor": "end" }, `${Math.round(v * 100)}%`));
  }
  const series = [["accuracy", "#4c6ef5", "accuracyMean"], ["macroF1", "#f76707", "macroF1Mean"]];
  sweep.foldRuns.forEach((f, i) => {
    series.forEach(([key, color], j) => {
      const value = f[key];
      if (value === null || value === undefined) return;
      const x = L + i * slot + slot * (0.18 + 0.32 * j);
      parts.push(el("rect", { x, y: sy(value), width: slot * 0.3, height: sy(0) - sy(value), fill: color },
        el("title", {}, `fold ${f.fold}, ${key === "accuracy" ? "accuracy" : "macro F1"}: ${pct(value)}`)));
    });
    parts.push(el("text", { x: L + (i + 0.5) * slot, y: H - B + 16, "text-anchor": "middle" }, `fold ${f.fold}`));
  });
  series.forEach(([key, color, meanKey], j) => {
    const mean = sweep[meanKey];
    if (mean !== null && mean !== undefined) parts.push(el("line", { x1: L, x2: W - R, y1: sy(mean), y2: sy(mean), stroke: color, "stroke-dasharray": "5 4", "stroke-width": 1.5 }));
    const lx = L + 8 + j * 150;
    parts.push(el("rect", { x: lx, y: 8, width: 14, height: 10, fill: color }), el("text", { x: lx + 20, y: 18 }, key === "accuracy" ? "test accuracy" : "macro F1"));
  });
  parts.push(el("line", { class: "axis", x1: L, x2: W - R, y1: sy(0), y2: sy(0) }));
  return el("div", { class: "panel chart", id: "fold-chart" }, el("h2", {}, "Per fold (dashed: mean)"),
    el("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "Test accuracy and macro F1 per fold" }, parts));
}

// Last, once every view's constants exist: a page opened straight at #/runs renders at once (not on a hashchange).
route();
