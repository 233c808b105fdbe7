// affectkit web page: upload, job list, live progress, results, embedded report, downloads.
// Plain JS, no libraries, no network beyond this server. Every string from the server goes
// through textContent (never innerHTML); the report is shown in a sandboxed iframe (no scripts).
"use strict";

const COLORS = {neutral: "#8c8c8c", happy: "#f2b701", sad: "#3969ac", angry: "#e73f74",
                fearful: "#7f3c8d", disgusted: "#11a579", surprised: "#f97b27"};
const $ = (sel) => document.querySelector(sel);
let token = sessionStorage.getItem("affect-token") || "";
let selected = null;      // job id shown in the detail pane
let shownDone = null;     // job id whose results are already rendered
let pollTimer = null;

function headers(extra) {
  const h = Object.assign({}, extra || {});
  if (token) h["Authorization"] = "Bearer " + token;
  return h;
}

async function api(path, opts) {
  opts = opts || {};
  const r = await fetch(path, Object.assign({}, opts, {headers: headers(opts.headers)}));
  if (r.status === 401) { showAuth("This server needs a token."); throw new Error("unauthorized"); }
  return r;
}

async function errorText(r) {
  try { const b = await r.json(); return b.error ? b.error.message : JSON.stringify(b); }
  catch (e) { return r.status + " " + r.statusText; }
}

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function showAuth(msg) {
  $("#auth").hidden = false;
  $("#auth-msg").textContent = msg || "";
}

// -- health -----------------------------------------------------------------------------------
async function health() {
  try {
    const h = await (await fetch("/healthz")).json();
    $("#health").textContent = `v${h.version} · ${h.workers} worker(s)`;
    if (h.auth && !token) showAuth("This server needs a token.");
  } catch (e) { $("#health").textContent = "server unreachable"; }
}

// -- upload -----------------------------------------------------------------------------------
function upload(files) {
  if (!files || !files.length) return;
  const mods = [...document.querySelectorAll("input[name=mod]:checked")].map((x) => x.value);
  const fd = new FormData();
  for (const f of files) fd.append("files", f, f.name);
  fd.append("modalities", mods.join(","));
  fd.append("fps", $("#fps").value || "2");
  if ($("#asr").value) fd.append("asr", $("#asr").value);
  const st = $("#upload-status");
  st.replaceChildren(el("span", `uploading ${files.length} file(s) …`));
  const bar = el("div", null, "bar"); const fill = el("div"); bar.appendChild(fill); st.appendChild(bar);
  const xhr = new XMLHttpRequest();
  xhr.open("POST", "/v1/jobs");
  if (token) xhr.setRequestHeader("Authorization", "Bearer " + token);
  const key = (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random());
  xhr.setRequestHeader("Idempotency-Key", key);
  xhr.upload.onprogress = (ev) => { if (ev.lengthComputable) fill.style.width = (100 * ev.loaded / ev.total) + "%"; };
  xhr.onload = () => {
    let body = {};
    try { body = JSON.parse(xhr.responseText); } catch (e) { /* not JSON */ }
    if (xhr.status === 201 || xhr.status === 200) {
      st.replaceChildren(el("span", `job ${body.id.slice(0, 8)} created`));
      select(body.id);
      refreshJobs();
    } else {
      if (xhr.status === 401) showAuth("This server needs a token.");
      st.replaceChildren(el("span", "upload refused: " + (body.error ? body.error.message : xhr.status), "err"));
    }
  };
  xhr.onerror = () => st.replaceChildren(el("span", "upload failed: the connection was lost", "err"));
  xhr.send(fd);
}

function setupDrop() {
  const drop = $("#drop"), input = $("#file");
  drop.addEventListener("click", () => input.click());
  drop.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") input.click(); });
  input.addEventListener("change", () => { upload(input.files); input.value = ""; });
  ["dragenter", "dragover"].forEach((t) => drop.addEventListener(t, (e) => { e.preventDefault(); drop.classList.add("over"); }));
  ["dragleave", "drop"].forEach((t) => drop.addEventListener(t, (e) => { e.preventDefault(); drop.classList.remove("over"); }));
  drop.addEventListener("drop", (e) => upload(e.dataTransfer.files));
}

// -- job list ---------------------------------------------------------------------------------
function progressCell(job) {
  const p = el("div", null, "progress"); const f = el("div");
  f.style.width = (100 * job.progress.fraction) + "%"; p.appendChild(f);
  const td = el("td"); td.appendChild(p);
  td.appendChild(el("span", `${job.progress.files_done}/${job.progress.files_total}`, "muted"));
  return td;
}

async function refreshJobs() {
  let body;
  try {
    const r = await api("/v1/jobs?limit=100");
    if (!r.ok) return;
    body = await r.json();
  } catch (e) { return; }
  const tb = $("#jobs tbody");
  const rows = body.jobs.map((j) => {
    const tr = el("tr"); tr.dataset.id = j.id;
    if (j.id === selected) tr.className = "sel";
    tr.appendChild(el("td", new Date(j.created * 1000).toLocaleTimeString()));
    tr.appendChild(el("td", j.files.map((f) => f.name).join(", ")));
    const s = el("td"); s.appendChild(el("span", j.status, "status " + j.status)); tr.appendChild(s);
    tr.appendChild(progressCell(j));
    tr.addEventListener("click", () => select(j.id));
    return tr;
  });
  tb.replaceChildren(...rows);
  $("#no-jobs").hidden = body.jobs.length > 0;
}

// -- job detail -------------------------------------------------------------------------------
function select(id) {
  if (selected !== id) shownDone = null;
  selected = id;
  document.querySelectorAll("#jobs tbody tr").forEach((tr) => tr.classList.toggle("sel", tr.dataset.id === id));
  refreshDetail();
}

async function refreshDetail() {
  if (!selected) return;
  let r;
  try { r = await api(`/v1/jobs/${selected}`); } catch (e) { return; }
  if (r.status === 404) { $("#detail").hidden = true; selected = null; return; }
  if (!r.ok) return;
  const j = await r.json();
  $("#detail").hidden = false;
  $("#d-id").textContent = j.id.slice(0, 8);
  const s = $("#d-status"); s.textContent = j.status; s.className = "status " + j.status;
  $("#d-bar").style.width = (100 * j.progress.fraction) + "%";
  $("#d-files tbody").replaceChildren(...j.files.map((f) => {
    const tr = el("tr");
    tr.appendChild(el("td", f.name));
    tr.appendChild(el("td", f.kind));
    tr.appendChild(el("td", f.status + (f.error ? ": " + f.error : ""), f.error ? "err" : ""));
    tr.appendChild(el("td", f.n_utterances === null ? "—" : f.n_utterances));
    tr.appendChild(el("td", f.seconds === null ? "—" : f.seconds.toFixed(1)));
    return tr;
  }));
  const finished = j.status === "done" || j.status === "failed";
  $("#d-actions").hidden = !finished;
  if (finished && shownDone !== j.id) { shownDone = j.id; await showResults(j); }
  if (!finished) $("#d-results").hidden = true;
}

function fmtTime(u) {
  if (u.start === null || u.start === undefined) return "";
  return `${u.start.toFixed(1)}–${u.end.toFixed(1)} s`;
}

async function showResults(job) {
  const r = await api(`/v1/jobs/${job.id}/results?format=json`);
  if (!r.ok) { $("#d-results").hidden = true; return; }
  const doc = await r.json();
  const rows = [];
  for (const f of doc.files) {
    for (const u of f.utterances) {
      const tr = el("tr");
      tr.appendChild(el("td", f.file));
      tr.appendChild(el("td", u.utterance));
      tr.appendChild(el("td", fmtTime(u)));
      tr.appendChild(el("td", u.speaker || ""));
      tr.appendChild(el("td", u.text || ""));
      const td = el("td");
      if (u.fused) {
        const c = el("span", u.fused.emotion, "chip");
        c.style.background = COLORS[u.fused.emotion] || "#999";
        td.appendChild(c);
      }
      tr.appendChild(td);
      tr.appendChild(el("td", u.fused ? u.fused.sentiment.toFixed(2) : ""));
      tr.appendChild(el("td", Object.keys(u.per_modality).join(", ")));
      rows.push(tr);
    }
  }
  $("#results tbody").replaceChildren(...rows);
  const rep = await api(`/v1/jobs/${job.id}/report`);
  if (rep.ok) $("#report").srcdoc = await rep.text();  // sandboxed: no scripts, no same-origin
  $("#d-results").hidden = false;
}

async function download(kind) {
  const path = kind === "report" ? `/v1/jobs/${selected}/report?download=true`
                                 : `/v1/jobs/${selected}/results?format=${kind}`;
  const r = await api(path);
  if (!r.ok) { alert(await errorText(r)); return; }
  const blob = await r.blob();
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  const ext = {json: "results.json", csv: "utterances.csv", parquet: "utterances.parquet", report: "report.html"}[kind];
  a.download = `affect-${selected.slice(0, 8)}-${ext}`;
  document.body.appendChild(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
}

async function deleteJob() {
  if (!selected || !confirm("Delete this job and its files?")) return;
  const r = await api(`/v1/jobs/${selected}`, {method: "DELETE"});
  if (r.status === 204 || r.status === 202) { $("#detail").hidden = true; selected = null; refreshJobs(); }
  else alert(await errorText(r));
}

function setup() {
  setupDrop();
  document.querySelectorAll("[data-dl]").forEach((b) => b.addEventListener("click", () => download(b.dataset.dl)));
  $("#d-delete").addEventListener("click", deleteJob);
  $("#save-token").addEventListener("click", () => {
    token = $("#token").value.trim();
    sessionStorage.setItem("affect-token", token);
    $("#auth-msg").textContent = "token set";
    refreshJobs();
  });
  health();
  refreshJobs();
  pollTimer = setInterval(() => { refreshJobs(); refreshDetail(); }, 1000);
}

document.addEventListener("DOMContentLoaded", setup);
