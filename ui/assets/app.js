// halab teaching view: draws the live state of a lab on the topology
// drawing served by /api/graph.svg, and drives faults and probes.
"use strict";

const SVGNS = "http://www.w3.org/2000/svg";
const $ = (id) => document.getElementById(id);
let state = null;
let selected = null;
let probeResults = [];
let timelineTimer = null;
let packetSource = null;
let urlEdited = false;

// ---- token ----
function initToken() {
  const m = location.hash.match(/token=([0-9a-fA-F]+)/);
  if (m) {
    sessionStorage.setItem("halab-token", m[1]);
    history.replaceState(null, "", location.pathname);
  }
  $("token").value = sessionStorage.getItem("halab-token") || "";
  $("token").addEventListener("change", () => sessionStorage.setItem("halab-token", $("token").value.trim()));
}
function token() { return $("token").value.trim(); }

async function post(path, body) {
  const res = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json", "Authorization": "Bearer " + token() },
    body: JSON.stringify(body),
  });
  let data = {};
  try { data = await res.json(); } catch (e) { /* empty */ }
  if (!res.ok) throw new Error(data.error || res.statusText);
  return data;
}

// ---- topology ----
async function loadGraph() {
  const res = await fetch("api/graph.svg");
  $("topology").innerHTML = await res.text();
  document.querySelectorAll("#topology .node").forEach((g) => {
    g.addEventListener("click", () => selectNode(g.dataset.node));
  });
  if (state) render(state);
}

function selectNode(name) {
  selected = name;
  $("act-node").value = name;
  document.querySelectorAll("#topology .node").forEach((g) => g.classList.toggle("selected", g.dataset.node === name));
  fillNodeSelects();
  renderDetail();
}

function svgEl(tag, attrs, text) {
  const e = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function vrrpOf(node) {
  let st = "", prio = null, daemon = null;
  for (const d of node.daemons || []) {
    if (d.kind !== "vrrp") continue;
    daemon = d;
    if (d.state === "stopped") return { state: "STOPPED", prio, daemon };
    for (const i of d.vrrp || []) {
      if (i.state === "MASTER" || !st) { st = i.state; prio = i.effective_priority; }
      if (i.state === "MASTER") return { state: st, prio, daemon };
    }
  }
  return { state: st, prio, daemon };
}

function render(s) {
  state = s;
  $("lab-name").textContent = s.lab;
  // VIP summary.
  const sum = $("vip-summary");
  sum.textContent = "";
  for (const [vip, holders] of Object.entries(s.vips || {}).sort()) {
    const c = document.createElement("span");
    c.className = "vipchip" + (holders.length > 1 ? " split" : "");
    c.textContent = vip + " @ " + holders.join(" + ");
    c.dataset.vip = vip;
    c.dataset.holders = holders.join(",");
    sum.appendChild(c);
  }
  if (!urlEdited) {
    const vips = Object.keys(s.vips || {});
    if (vips.length) $("probe-url").value = "http://" + vips[0] + "/";
  }
  for (const n of s.nodes || []) {
    const g = document.getElementById("node-" + n.name);
    if (!g) continue;
    const v = vrrpOf(n);
    g.classList.remove("vrrp-master", "vrrp-backup", "vrrp-fault", "vrrp-stopped");
    if (v.state) g.classList.add("vrrp-" + v.state.toLowerCase());
    g.dataset.vrrp = v.state || "";
    g.dataset.vips = (n.vips || []).join(",");
    g.classList.toggle("nodaemon", !(n.daemons || []).length && !(n.processes || []).length && n.role !== "client");
    // Status line: daemons and their state.
    const parts = (n.daemons || []).map((d) => {
      let t = d.name;
      if (d.state === "stopped") t += " (stopped)";
      for (const i of d.vrrp || []) t += " " + i.state + " " + i.effective_priority + (i.inferred ? "?" : "");
      if ((d.backends || []).length) {
        const up = d.backends.filter((b) => b.health.startsWith("UP")).length;
        t += " " + up + "/" + d.backends.length + " up";
      }
      return t;
    });
    g.querySelector(".status").textContent = parts.join(" · ") || (n.processes || []).length + " processes";
    // VIP badges above the box's top-right corner.
    const badges = g.querySelector(".badges");
    badges.textContent = "";
    let y = -12;
    for (const vip of n.vips || []) {
      const split = (s.vips[vip] || []).length > 1;
      const b = svgEl("g", { class: "badge" + (split ? " split" : ""), "data-vip": vip });
      const w = 14 + vip.length * 7;
      b.appendChild(svgEl("rect", { x: -w + 6, y: y, width: w, height: 17, rx: 8 }));
      b.appendChild(svgEl("text", { x: -w + 13, y: y + 13 }, "VIP " + vip));
      badges.appendChild(b);
      y -= 19;
    }
    // Interfaces down.
    for (const i of n.interfaces || []) {
      const w = document.getElementById("wire-" + n.name + "-" + i.name);
      if (w) w.classList.toggle("down", !i.up);
    }
  }
  fillNodeSelects();
  renderDetail();
  if (s.error) setResult("lab: " + s.error, true);
}

function setOptions(sel, values, keep) {
  const cur = keep !== undefined ? keep : sel.value;
  const want = values.join("\n");
  if (sel.dataset.values !== want) {
    sel.textContent = "";
    for (const v of values) {
      const o = document.createElement("option");
      o.value = v; o.textContent = v || "all";
      sel.appendChild(o);
    }
    sel.dataset.values = want;
  }
  if (values.includes(cur)) sel.value = cur;
}

function fillNodeSelects() {
  if (!state) return;
  const names = state.nodes.map((n) => n.name);
  setOptions($("act-node"), names, selected || $("act-node").value);
  const node = state.nodes.find((n) => n.name === $("act-node").value) || state.nodes[0];
  if (!node) return;
  const daemons = (node.daemons || []).map((d) => d.name);
  // Keep a daemon name that just died selectable, to restart it.
  const cur = $("act-daemon").value;
  if (cur && !daemons.includes(cur)) daemons.push(cur);
  setOptions($("act-daemon"), daemons);
  setOptions($("act-iface"), (node.interfaces || []).map((i) => i.name));
  setOptions($("act-peer"), names.filter((x) => x !== node.name));
  setOptions($("probe-node"), state.clients || names);
  setOptions($("pk-node"), [""].concat(names));
}

function renderDetail() {
  if (!state) return;
  const name = $("act-node").value;
  const n = state.nodes.find((x) => x.name === name);
  $("detail-name").textContent = name || "";
  const d = $("detail");
  d.textContent = "";
  if (!n) return;
  const t = document.createElement("table");
  const row = (k, v) => {
    const tr = t.insertRow();
    const th = document.createElement("th"); th.textContent = k; tr.appendChild(th);
    const td = tr.insertCell(); td.textContent = v;
  };
  row("role", n.role);
  for (const i of n.interfaces || []) {
    row(i.name, (i.up ? "up " : "DOWN ") + (i.addresses || []).join(" ") + ((i.vips || []).length ? "  VIP " + i.vips.join(" ") : ""));
  }
  for (const dm of n.daemons || []) {
    let txt = dm.state + " pid " + dm.node_pid;
    for (const i of dm.vrrp || []) {
      txt += "\n" + i.name + " vrid " + i.vrid + " " + i.state + " prio " + i.effective_priority + "/" + i.priority +
        (i.master ? " master " + i.master : "") + (i.inferred ? " (inferred from VIPs)" : "");
    }
    for (const b of dm.backends || []) txt += "\n" + b.name + " " + b.addr + " " + b.health;
    row(dm.name, txt);
  }
  row("processes", (n.processes || []).map((p) => p.node_pid + " " + p.command).join("\n"));
  d.appendChild(t);
  t.querySelectorAll("td").forEach((td) => { td.style.whiteSpace = "pre-wrap"; });
}

// setResult shows the outcome of an action: err true (failed), false (done)
// or "pending".
function setResult(text, err) {
  const r = $("act-result");
  r.textContent = text;
  r.className = "result " + (err === "pending" ? "pending" : err ? "err" : "ok");
}

// ---- actions ----
function initActions() {
  $("act-node").addEventListener("change", () => selectNode($("act-node").value));
  document.querySelectorAll("button[data-action]").forEach((b) => {
    b.addEventListener("click", async () => {
      const a = { action: b.dataset.action, node: $("act-node").value, daemon: $("act-daemon").value,
        iface: $("act-iface").value, peer: $("act-peer").value };
      setResult(a.action + " " + a.node + "…", "pending");
      try {
        const r = await post("api/action", a);
        setResult(r.event.text, false);
      } catch (e) {
        setResult(e.message, true);
      }
      scheduleTimeline();
    });
  });
}

// ---- traffic ----
function initProbe() {
  $("probe-url").addEventListener("input", () => { urlEdited = true; });
  $("probe-start").addEventListener("click", async () => {
    try {
      await post("api/probe", { op: "start", node: $("probe-node").value, url: $("probe-url").value, rate: $("probe-rate").value });
      setResult("probe started", false);
    } catch (e) { setResult(e.message, true); }
  });
  $("probe-stop").addEventListener("click", async () => {
    try { await post("api/probe", { op: "stop" }); setResult("probe stopped", false); } catch (e) { setResult(e.message, true); }
  });
  setInterval(drawStrip, 250);
}

// colorOf gives an app the colour the timeline (reports.AppColor) gives
// it: FNV-1a of its name over the same palette.
const palette = ["#2e86de", "#10ac84", "#f39c12", "#8e44ad", "#16a085", "#d35400", "#2c3e50", "#c0392b"];
function colorOf(app) {
  let h = 0x811c9dc5;
  for (const b of new TextEncoder().encode(app)) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return palette[h % palette.length];
}

function drawStrip() {
  const c = $("strip");
  const w = c.clientWidth || 1200;
  if (c.width !== w) c.width = w;
  const ctx = c.getContext("2d");
  ctx.clearRect(0, 0, c.width, c.height);
  const now = Date.now(), span = 60000;
  probeResults = probeResults.filter((r) => now - r.t < span);
  let ok = 0, fail = 0;
  const per = {};
  for (const r of probeResults) {
    const x = c.width - ((now - r.t) / span) * c.width;
    if (r.ok) {
      ok++; per[r.app || "?"] = (per[r.app || "?"] || 0) + 1;
      ctx.fillStyle = colorOf(r.app || "?");
      ctx.fillRect(x, 12, 3, 40);
    } else {
      fail++;
      ctx.fillStyle = "#d63031";
      ctx.fillRect(x, 2, 3, 56);
    }
  }
  ctx.fillStyle = "#999";
  ctx.font = "10px sans-serif";
  ctx.fillText("-60 s", 2, 10);
  ctx.fillText("now", c.width - 22, 10);
  $("probe-stats").textContent = probeResults.length ? ok + " ok, " + fail + " failed in the last minute" : "";
  const apps = $("apps");
  apps.textContent = "";
  for (const [app, n] of Object.entries(per).sort()) {
    const s = document.createElement("span");
    const i = document.createElement("i"); i.style.background = colorOf(app);
    s.appendChild(i); s.appendChild(document.createTextNode(app + ": " + n));
    apps.appendChild(s);
  }
}

// ---- packets ----
function connectPackets() {
  if (packetSource) packetSource.close();
  const q = new URLSearchParams({ node: $("pk-node").value, filter: $("pk-filter").value, sent: $("pk-sent").checked ? "1" : "0" });
  packetSource = new EventSource("api/packets?" + q.toString());
  $("pk-status").textContent = "";
  packetSource.addEventListener("open", () => { $("pk-status").textContent = "capturing"; });
  packetSource.addEventListener("error", () => { $("pk-status").textContent = "reconnecting (bad filter?)"; });
  packetSource.addEventListener("packets", (ev) => {
    if ($("pk-pause").checked) return;
    const list = $("ticker");
    const atBottom = list.scrollTop + list.clientHeight >= list.scrollHeight - 4;
    for (const p of JSON.parse(ev.data)) {
      const li = document.createElement("li");
      li.className = p.proto;
      const t = document.createElement("time"); t.textContent = p.time.substring(11, 23);
      const b = document.createElement("b"); b.textContent = p.node + ":" + p.iface;
      li.appendChild(t); li.appendChild(b); li.appendChild(document.createTextNode(p.text));
      list.appendChild(li);
    }
    while (list.children.length > 400) list.removeChild(list.firstChild);
    if (atBottom) list.scrollTop = list.scrollHeight;
  });
}

// ---- timeline ----
async function refreshTimeline() {
  timelineTimer = null;
  try {
    const res = await fetch("api/timeline");
    $("timeline").innerHTML = await res.text();
  } catch (e) { /* retried on the next event */ }
}
function scheduleTimeline() {
  if (!timelineTimer) timelineTimer = setTimeout(refreshTimeline, 300);
}

// loadInitial draws the current state and the last minute of probe results
// before the event stream delivers anything.
async function loadInitial() {
  try {
    const st = await (await fetch("api/state")).json();
    render(st);
    const pr = await (await fetch("api/probe")).json();
    for (const r of pr.results || []) probeResults.push({ t: Date.parse(r.time), ok: r.ok, app: r.app });
    if (pr.probe) {
      $("probe-url").value = pr.probe.url;
      $("probe-rate").value = pr.probe.rate;
      setOptions($("probe-node"), [pr.probe.node]);
      urlEdited = true;
    }
  } catch (e) { /* the event stream brings the state */ }
}

// ---- events ----
function connectEvents() {
  const es = new EventSource("api/events");
  es.addEventListener("open", () => { $("conn").textContent = "live"; $("conn").className = "conn on"; });
  es.addEventListener("error", () => { $("conn").textContent = "disconnected"; $("conn").className = "conn off"; });
  es.addEventListener("state", (ev) => render(JSON.parse(ev.data)));
  es.addEventListener("event", () => scheduleTimeline());
  es.addEventListener("probe", (ev) => {
    const r = JSON.parse(ev.data);
    probeResults.push({ t: Date.parse(r.time), ok: r.ok, app: r.app });
  });
}

document.addEventListener("DOMContentLoaded", async () => {
  initToken();
  initActions();
  initProbe();
  $("pk-apply").addEventListener("click", connectPackets);
  await loadGraph();
  await loadInitial();
  connectEvents();
  connectPackets();
  refreshTimeline();
  setInterval(scheduleTimeline, 2000);
});
