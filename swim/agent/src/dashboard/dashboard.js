// The agent's dashboard: polls /v1/members and /v1/info every second and
// follows /v1/events. Everything a peer sent is shown with textContent,
// never parsed as HTML. A token, if the API wants one, comes from the
// address's fragment (#token=..., never sent to the server) and goes in
// the Authorization header.
"use strict";

const fragment = new URLSearchParams(location.hash.slice(1));
if (fragment.get("token")) sessionStorage.setItem("swim-token", fragment.get("token"));
const token = sessionStorage.getItem("swim-token");
const headers = token ? { Authorization: "Bearer " + token } : {};
const $ = (id) => document.getElementById(id);
const STATES = ["alive", "suspect", "faulty", "left"];
const samples = []; // {alive, suspect, faulty, suspicions, faulty_declared}
const MAX_SAMPLES = 300;
const MAX_EVENTS = 300;

async function api(path) {
  const response = await fetch(path, { headers });
  if (!response.ok) throw new Error(path + ": " + response.status);
  return response.json();
}

function cell(row, text, cls) {
  const td = row.insertCell();
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}

function ago(ms) {
  if (ms === null || ms === undefined) return "–";
  return ms < 1000 ? ms + " ms ago" : (ms / 1000).toFixed(1) + " s ago";
}

function renderMembers(members) {
  const body = $("members");
  body.replaceChildren();
  const order = { alive: 0, suspect: 1, faulty: 2, left: 3 };
  members.sort((a, b) => (order[a.state] - order[b.state]) || a.name.localeCompare(b.name));
  for (const m of members) {
    const row = body.insertRow();
    row.dataset.member = m.name;
    row.dataset.state = m.state;
    cell(row, m.local ? m.name + " (this agent)" : m.name);
    const badge = document.createElement("span");
    badge.className = "badge " + (STATES.includes(m.state) ? m.state : "left");
    badge.textContent = m.state;
    row.insertCell().append(badge);
    cell(row, String(m.incarnation));
    cell(row, m.rtt_ms === null ? "–" : m.rtt_ms.toFixed(2) + " ms");
    cell(row, m.local ? "–" : ago(m.last_heard_ms));
    cell(row, m.addrs[0] || "");
    cell(row, Object.entries(m.tags).map(([k, v]) => k + "=" + v).join("  "), "tags");
  }
}

function renderInfo(info) {
  $("name").textContent = info.name + " · " + info.addr;
  document.title = "swim · " + info.name;
  $("size").textContent = String(info.members.alive + info.members.suspect);
  $("health").textContent = String(info.health_score);
  $("timeout").textContent = Math.round(info.probe_timeout_ms) + " ms";
  $("counts").textContent = STATES.map((s) => s + " " + info.members[s]).join(" · ");
}

/// Lines of `series` ([{values, cls}]) over the samples, scaled to the box.
function chart(svg, series) {
  const ns = "http://www.w3.org/2000/svg";
  svg.replaceChildren();
  const n = series[0].values.length;
  if (n < 2) return;
  const top = Math.max(1, ...series.flatMap((s) => s.values));
  for (const s of series) {
    const points = s.values.map((v, i) => (i * 300 / (n - 1)).toFixed(1) + "," + (86 - v * 80 / top).toFixed(1));
    const line = document.createElementNS(ns, "polyline");
    line.setAttribute("points", points.join(" "));
    line.setAttribute("fill", "none");
    line.setAttribute("stroke-width", "2");
    line.setAttribute("stroke", getComputedStyle(document.documentElement).getPropertyValue("--" + s.cls));
    svg.append(line);
  }
  const label = document.createElementNS(ns, "text");
  label.setAttribute("x", "4");
  label.setAttribute("y", "12");
  label.setAttribute("font-size", "10");
  label.setAttribute("fill", "#5b6470");
  label.textContent = "max " + top;
  svg.append(label);
}

function renderCharts() {
  const pick = (k) => samples.map((s) => s[k]);
  chart($("chart-size"), [
    { values: pick("alive"), cls: "alive" },
    { values: pick("suspect"), cls: "suspect" },
    { values: pick("faulty"), cls: "faulty" },
  ]);
  const rate = (k) => samples.map((s, i) => (i === 0 ? 0 : Math.max(0, s[k] - samples[i - 1][k])));
  chart($("chart-verdicts"), [
    { values: rate("suspicions"), cls: "suspect" },
    { values: rate("faulty_declared"), cls: "faulty" },
  ]);
}

function setStatus(text, down) {
  $("status").textContent = text;
  $("status").className = down ? "down" : "";
}

async function refresh() {
  try {
    const [members, info] = await Promise.all([api("/v1/members"), api("/v1/info")]);
    renderMembers(members);
    renderInfo(info);
    samples.push({
      alive: info.members.alive, suspect: info.members.suspect, faulty: info.members.faulty,
      suspicions: info.counters.suspicions, faulty_declared: info.counters.faulty_declared,
    });
    if (samples.length > MAX_SAMPLES) samples.shift();
    renderCharts();
    setStatus("live · updated " + new Date().toLocaleTimeString(), false);
  } catch (e) {
    setStatus("agent unreachable (" + e.message + ")", true);
  }
}

function describe(e) {
  const who = e.member ? e.member.name : "";
  switch (e.type) {
    case "member-joined": return "+ " + who + " joined";
    case "member-updated": return "~ " + who + " updated " + (e.changed_tags || []).join(", ");
    case "member-suspected": return "? " + who + " suspected by " + e.by;
    case "member-recovered": return "! " + who + " recovered";
    case "member-faulty": return "x " + who + " faulty, declared by " + e.by;
    case "member-left": return "- " + who + " left";
    case "broadcast": return "* broadcast from " + e.origin + ": " + e.payload;
    case "message": return "> message from " + e.from + ": " + e.payload;
    case "query": return "? query " + e.name + " from " + e.from;
    default: return e.type;
  }
}

function addEvent(e) {
  const list = $("events");
  const li = document.createElement("li");
  li.dataset.type = e.type;
  if (e.member) li.dataset.member = e.member.name;
  const time = document.createElement("time");
  time.textContent = new Date().toLocaleTimeString();
  li.append(time, document.createTextNode(describe(e)));
  list.prepend(li);
  while (list.children.length > MAX_EVENTS) list.lastChild.remove();
  if (e.type.startsWith("member-")) refresh();
}

/// Server-sent events through fetch (so that the token can go in a header).
async function follow() {
  for (let delay = 1000; ; delay = Math.min(delay * 2, 15000)) {
    try {
      const response = await fetch("/v1/events", { headers });
      if (!response.ok) throw new Error("events: " + response.status);
      delay = 1000;
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let pending = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        pending += value;
        let end;
        while ((end = pending.indexOf("\n\n")) >= 0) {
          const block = pending.slice(0, end);
          pending = pending.slice(end + 2);
          for (const line of block.split("\n")) {
            if (line.startsWith("data: ")) {
              try { addEvent(JSON.parse(line.slice(6))); } catch (_) { /* not JSON: skipped */ }
            }
          }
        }
      }
    } catch (e) {
      setStatus("event stream lost (" + e.message + "); retrying", true);
    }
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}

refresh();
setInterval(refresh, 1000);
follow();
