// The operators' status page: `{ hub { status } }` for the first paint, then the `hubStatus`
// subscription over the hub's own websocket (graphql-transport-ws). No framework, no outside
// host; every value is written with textContent, never as markup.
"use strict";

const TOKEN_KEY = "hub-admin-token";
const INTERVAL_SECONDS = 5;
const HOUR = 3600;
const COLOURS = ["#0969da", "#cf222e", "#1a7f37", "#9a6700", "#8250df", "#bc4c00", "#57606a"];
const SVG = "http://www.w3.org/2000/svg";

const $ = (id) => document.getElementById(id);
const samples = new Map(); // at (epoch seconds) -> sample: the last hour the plots draw
let socket = null;
let retry = 1;

function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function badge(status) {
  return element("span", status, "badge " + String(status).replace(" ", "-"));
}

function authorization() {
  return "Bearer " + sessionStorage.getItem(TOKEN_KEY);
}

// -- login ----------------------------------------------------------------------------------
function askForToken(message) {
  if (socket) socket.close(1000);
  socket = null;
  $("status").hidden = true;
  $("forget").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message || "";
  $("token").focus();
}

$("login").addEventListener("submit", (event) => {
  event.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $("token").value.trim());
  $("token").value = "";
  start();
});

$("forget").addEventListener("click", () => {
  sessionStorage.removeItem(TOKEN_KEY);
  askForToken("");
});

// -- the GraphQL side -----------------------------------------------------------------------
async function firstPaint() {
  const response = await fetch("/graphql", {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: authorization() },
    body: JSON.stringify({ query: "{ hub { status } }" }),
  });
  const body = await response.json();
  if (body.errors && body.errors.length) throw new Error(body.errors[0].message);
  return body.data.hub.status;
}

function subscribe() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(scheme + "//" + location.host + "/graphql", "graphql-transport-ws");
  socket = ws;
  const send = (message) => ws.send(JSON.stringify(message));
  ws.onopen = () => send({ type: "connection_init", payload: { Authorization: authorization() } });
  ws.onmessage = (event) => {
    const message = JSON.parse(event.data);
    if (message.type === "connection_ack") {
      send({
        id: "status",
        type: "subscribe",
        payload: {
          query: "subscription($s: Int!) { hubStatus(intervalSeconds: $s) }",
          variables: { s: INTERVAL_SECONDS },
        },
      });
    } else if (message.type === "ping") {
      send({ type: "pong" });
    } else if (message.type === "next") {
      const { data, errors } = message.payload;
      if (errors && errors.length) return askForToken(errors[0].message);
      retry = 1;
      link("live", "live");
      render(data.hubStatus);
    } else if (message.type === "error") {
      askForToken(message.payload[0].message);
    }
  };
  ws.onclose = (event) => {
    if (socket !== ws) return; // replaced or logged out
    link("lost", `disconnected (${event.code || "no answer"}), retrying in ${retry}s`);
    setTimeout(() => socket === ws && subscribe(), retry * 1000);
    retry = Math.min(retry * 2, 30);
  };
}

function link(state, text) {
  $("link").className = "link " + state;
  $("link").textContent = text;
}

async function start() {
  $("login").hidden = true;
  try {
    render(await firstPaint());
  } catch (error) {
    return askForToken(error.message);
  }
  $("status").hidden = false;
  $("forget").hidden = false;
  subscribe();
}

// -- rendering ------------------------------------------------------------------------------
function fill(tableId, rows) {
  const body = $(tableId).tBodies[0];
  body.replaceChildren(...rows);
  if (!rows.length) {
    const row = element("tr");
    const cell = element("td", "none", "empty");
    cell.colSpan = $(tableId).tHead.rows[0].cells.length;
    row.append(cell);
    body.append(row);
  }
}

function row(...cells) {
  const tr = element("tr");
  for (const cell of cells) {
    const td = cell instanceof Node ? element("td") : element("td", cell);
    if (cell instanceof Node) td.append(cell);
    if (typeof cell === "number") td.className = "num";
    tr.append(td);
  }
  return tr;
}

function render(status) {
  const ready = $("ready");
  ready.textContent = status.ready ? "ready" : "not ready";
  ready.className = "badge " + (status.ready ? "ready" : "not-ready");
  const worker = status.worker === null ? "" : ` · worker ${status.worker}`;
  $("meta").textContent = `updated ${status.at} · started ${status.started_at}${worker}`;
  $("plugins").dataset.updated = status.at;

  fill("plugins", status.plugins.map((plugin) => {
    const probes = element("div");
    for (const probe of plugin.probes) {
      const line = element("div", null, "probe");
      line.append(badge(probe.status), " " + probe.name + (probe.critical ? "" : " (not critical)"));
      if (probe.detail) line.append(element("div", probe.detail, "detail"));
      probes.append(line);
    }
    const tr = row(plugin.plugin, badge(plugin.status), probes);
    tr.dataset.plugin = plugin.plugin;
    tr.dataset.status = plugin.status;
    return tr;
  }));
  fill("upstreams", status.upstreams.map((u) => row(u.plugin, badge(u.status), u.detail)));
  fill("queues", status.queues.map((q) => {
    const tr = row(q.name, q.depth, q.dead === null ? "–" : q.dead);
    tr.dataset.queue = q.name;
    return tr;
  }));
  renderPanels(status.panels);

  for (const sample of status.samples) samples.set(sample.at, sample);
  for (const at of samples.keys()) if (at < status.now - HOUR) samples.delete(at);
  renderPlots(status.now, status.sample_seconds);
}

function renderPanels(panels) {
  $("panels").replaceChildren(...panels.map((panel) => {
    const section = element("div", null, "panel");
    section.append(element("h3", `${panel.plugin} · ${panel.name}`));
    if (panel.error) section.append(element("p", panel.error, "error"));
    else section.append(value(panel.data, `${panel.plugin}.${panel.name}`));
    return section;
  }));
}

// a panel's data as it is: objects as rows of key and value, lists of objects as tables
function value(data, path) {
  if (Array.isArray(data) && data.length && data.every((d) => d && typeof d === "object")) {
    const keys = [...new Set(data.flatMap(Object.keys))];
    const table = element("table");
    table.append(row(...keys.map((k) => element("strong", k))));
    for (const item of data) table.append(row(...keys.map((k) => leaf(item[k]))));
    return table;
  }
  if (data && typeof data === "object" && !Array.isArray(data)) {
    const table = element("table");
    for (const [key, inner] of Object.entries(data)) {
      const cell = value(inner, `${path}.${key}`);
      const tr = row(key, cell);
      if (!(cell instanceof HTMLTableElement)) tr.cells[1].dataset.path = `${path}.${key}`;
      if (typeof inner === "number") tr.cells[1].className = "num";
      table.append(tr);
    }
    return table;
  }
  return leaf(data);
}

function leaf(data) {
  if (data === null || data === undefined) return document.createTextNode("–");
  if (Array.isArray(data)) return document.createTextNode(data.map(String).join(", "));
  if (typeof data === "object") return document.createTextNode(JSON.stringify(data));
  return document.createTextNode(typeof data === "number" ? format(data) : String(data));
}

// -- plots ----------------------------------------------------------------------------------
function series(pick) {
  // name -> [[at, value], ...] over the kept samples, in time order
  const lines = new Map();
  const ordered = [...samples.values()].sort((a, b) => a.at - b.at);
  for (const sample of ordered) {
    for (const [name, v] of Object.entries(pick(sample))) {
      if (!lines.has(name)) lines.set(name, []);
      if (typeof v === "number" && v >= 0) lines.get(name).push([sample.at, v]);
    }
  }
  return lines;
}

function renderPlots(now, every) {
  const plots = [
    ["request rate (per second)", series((s) => ({ "requests/s": s.requests_per_second }))],
    ["queue depth", series((s) => s.queues)],
  ];
  const grouped = new Map(); // a panel's series, one plot per panel value group
  for (const [name, line] of series((s) => s.series)) {
    const group = name.split(".").slice(0, -1).join(".");
    if (!grouped.has(group)) grouped.set(group, new Map());
    grouped.get(group).set(name.split(".").pop(), line);
  }
  for (const [group, lines] of grouped) plots.push([group.replace(".", " · "), lines]);
  $("plots").replaceChildren(...plots.map(([title, lines]) => plot(title, lines, now, every)));
}

function plot(title, lines, now, every) {
  const width = 360, height = 140, left = 36, bottom = 16, top = 6;
  const figure = element("figure");
  figure.append(element("figcaption", title));
  const points = [...lines.values()].flat();
  if (!points.length) {
    figure.append(element("p", `collecting: a point every ${every} s`, "empty"));
    return figure;
  }
  const highest = Math.max(...points.map(([, v]) => v)) || 1;
  const x = (at) => left + ((at - (now - HOUR)) / HOUR) * (width - left);
  const y = (v) => top + (1 - v / highest) * (height - top - bottom);
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", title);
  const axis = document.createElementNS(SVG, "path");
  axis.setAttribute("class", "axis");
  axis.setAttribute("d", `M${left},${top}V${height - bottom}H${width}`);
  svg.append(axis);
  const labels = [
    [2, top + 8, format(highest)],
    [2, height - bottom, "0"],
    [left, height - 3, "−60 min"],
    [width - 24, height - 3, "now"],
  ];
  for (const [lx, ly, text] of labels) {
    const label = document.createElementNS(SVG, "text");
    label.setAttribute("x", lx);
    label.setAttribute("y", ly);
    label.textContent = text;
    svg.append(label);
  }
  const legend = element("div", null, "legend");
  [...lines.entries()].forEach(([name, line], index) => {
    const colour = COLOURS[index % COLOURS.length];
    const polyline = document.createElementNS(SVG, "polyline");
    polyline.setAttribute("stroke", colour);
    polyline.setAttribute("points", line.map(([at, v]) => `${x(at).toFixed(1)},${y(v).toFixed(1)}`).join(" "));
    polyline.dataset.series = name;
    svg.append(polyline);
    if (line.length) { // the newest point, visible even while it is the only one
      const [at, v] = line[line.length - 1];
      const dot = document.createElementNS(SVG, "circle");
      dot.setAttribute("cx", x(at).toFixed(1));
      dot.setAttribute("cy", y(v).toFixed(1));
      dot.setAttribute("r", "2.5");
      dot.setAttribute("fill", colour);
      svg.append(dot);
    }
    const key = element("span", `${name} ${line.length ? format(line[line.length - 1][1]) : "–"}`);
    const swatch = element("i");
    swatch.style.background = colour;
    key.prepend(swatch);
    legend.append(key);
  });
  figure.append(svg, legend);
  return figure;
}

function format(v) {
  if (Number.isInteger(v) || Math.abs(v) >= 100) return String(Math.round(v));
  return Math.abs(v) >= 0.01 ? v.toFixed(2) : v.toPrecision(2);
}

// `/#token=<admin token>` signs in without typing (a fragment never reaches the server or a log);
// it is taken off the address at once
const given = new URLSearchParams(location.hash.slice(1)).get("token");
if (given) {
  sessionStorage.setItem(TOKEN_KEY, given);
  history.replaceState(null, "", location.pathname + location.search);
}
if (sessionStorage.getItem(TOKEN_KEY)) start();
else askForToken("");
