// The dashboard page (lib/observe/dashboard.ts serves it). A TypeScript string module so `npm run build`
// ships it inside dist/ with nothing to copy. Self-contained: no CDN, no font, no library; the
// chart is a hand-drawn SVG. It reads the stats route once a second and tails one channel over
// the WebSocket route like any client. Everything from the network is written with textContent.
// The page's script avoids template literals so this file can hold it in one.

/** Replaced with the page's JSON settings (stats URL, WebSocket path). */
export const CONFIG_PLACEHOLDER = '__WS_NOTIFY_CONFIG__'

export const DASHBOARD_STYLE = `
:root { color-scheme: dark; --bg: #0f1419; --panel: #171d25; --line: #2a3340; --text: #d8dee6; --dim: #8795a6;
  --blue: #4aa3ff; --green: #4cd07d; --amber: #f0b429; --red: #ef5d5d; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--text); font: 14px/1.4 system-ui, sans-serif; }
header { display: flex; align-items: center; gap: 12px; padding: 14px 20px; border-bottom: 1px solid var(--line); }
header h1 { font-size: 17px; margin: 0; font-weight: 600; }
header .meta { margin-left: auto; color: var(--dim); }
#status { width: 10px; height: 10px; border-radius: 50%; background: var(--amber); }
#status.live { background: var(--green); } #status.down, #status.unauthorized { background: var(--red); }
main { padding: 16px 20px; display: grid; gap: 16px; grid-template-columns: minmax(0, 2fr) minmax(0, 1fr); }
section { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 14px; }
section h2 { font-size: 13px; text-transform: uppercase; letter-spacing: .06em; color: var(--dim); margin: 0 0 10px; font-weight: 600; }
.wide { grid-column: 1 / -1; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: 10px; }
.card { background: var(--bg); border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; }
.card .label { color: var(--dim); font-size: 12px; }
.card .value { font-size: 22px; font-variant-numeric: tabular-nums; margin-top: 2px; }
/* A warning tone only once the count is above zero: a zero is good news, not a warning. */
.card.warn .value { color: var(--amber); }
svg { width: 100%; height: auto; display: block; }
svg text { fill: var(--dim); font-size: 11px; }
.grid line { stroke: var(--line); }
#line-notifications { stroke: var(--blue); } #line-deliveries { stroke: var(--green); }
polyline { fill: none; stroke-width: 2; stroke-linejoin: round; }
.legend { display: flex; gap: 16px; color: var(--dim); font-size: 12px; margin-top: 6px; }
.legend b { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 6px; vertical-align: -1px; }
.legend .n b { background: var(--blue); } .legend .d b { background: var(--green); }
table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
td { padding: 5px 4px; border-bottom: 1px solid var(--line); }
td.count { text-align: right; width: 60px; }
td.members { color: var(--dim); overflow-wrap: anywhere; }
td.bar { width: 40%; } td.bar span { display: block; height: 6px; border-radius: 3px; background: var(--blue); min-width: 1px; }
.controls { display: flex; gap: 8px; align-items: center; margin-bottom: 8px; }
select, button { background: var(--bg); color: var(--text); border: 1px solid var(--line); border-radius: 4px; padding: 4px 8px; font: inherit; }
button[aria-pressed="true"] { border-color: var(--amber); color: var(--amber); }
#tail-note { color: var(--dim); font-size: 12px; }
#tail { list-style: none; margin: 0; padding: 0; max-height: 260px; overflow: auto; font: 12px/1.5 ui-monospace, monospace; }
#tail li { padding: 3px 0; border-bottom: 1px solid var(--line); white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
#tail .t { color: var(--dim); margin-right: 8px; } #tail .type { color: var(--amber); margin-right: 8px; }
/* Phones (390 px): one column, the header wraps, nothing wider than the screen. */
@media (max-width: 720px) {
  header { flex-wrap: wrap; padding: 12px; } header .meta { margin-left: 0; width: 100%; }
  main { grid-template-columns: minmax(0, 1fr); padding: 12px; gap: 12px; }
  .cards { grid-template-columns: repeat(2, minmax(0, 1fr)); }
  .card .value { font-size: 18px; overflow-wrap: anywhere; }
  .controls { flex-wrap: wrap; } select { max-width: 100%; }
  td:first-child { overflow-wrap: anywhere; }
  svg text { font-size: 18px; } /* the chart scales down: its labels must not */
}
`

export const DASHBOARD_SCRIPT = `
'use strict';
const config = JSON.parse(document.getElementById('config').textContent);
const WINDOW = 300; // seconds of rates kept in the chart
const RATE_WINDOW = 5; // seconds the rate tiles average over
const TAIL = 100; // messages kept in the tail
const numberFormat = new Intl.NumberFormat('en-US');
const $ = (id) => document.getElementById(id);
const samples = []; // { notifications, deliveries } per second
let previous = null; // last stats body and when it came
const readings = []; // { at, notifications, deliveries }: the counters of the last RATE_WINDOW seconds
let channels = [];

function format (key, value) {
  if (key === 'bytes_sent') {
    const units = ['B', 'KB', 'MB', 'GB', 'TB'];
    let v = value; let i = 0;
    while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
    return (i === 0 ? String(v) : v.toFixed(1)) + ' ' + units[i];
  }
  if (key === 'uptime_seconds') {
    const s = Math.floor(value);
    return Math.floor(s / 3600) + 'h ' + Math.floor(s % 3600 / 60) + 'm ' + (s % 60) + 's';
  }
  if (key.endsWith('_per_second')) return value.toFixed(1);
  return numberFormat.format(value);
}

function show (key, value) {
  for (const el of document.querySelectorAll('[data-stat="' + key + '"]')) {
    el.dataset.value = String(value);
    el.textContent = format(key, value);
    const card = el.closest('.card');
    if (card !== null && card.dataset.tone === 'warn') card.classList.toggle('warn', value > 0);
  }
}

/**
 * A counter's rate over the last RATE_WINDOW seconds, from the oldest and newest reading: not the
 * last one-second step, whose count swings with where ticks of the producer fall, and divided by
 * the time that really passed between the two readings (a poll takes longer than 1 s).
 */
function rate (key) {
  const first = readings[0]; const last = readings[readings.length - 1];
  const seconds = (last.at - first.at) / 1000;
  return seconds > 0 ? Math.max(0, last[key] - first[key]) / seconds : 0;
}

function setStatus (state, text) {
  $('status').className = state;
  $('status-text').textContent = text;
}

function svg (name, attributes) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', name);
  for (const key in attributes) el.setAttribute(key, attributes[key]);
  return el;
}

/** Rounds a chart's top up to 1, 2 or 5 times a power of ten. */
function niceMax (value) {
  if (value <= 1) return 1;
  const power = Math.pow(10, Math.floor(Math.log10(value)));
  for (const step of [1, 2, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

function drawChart () {
  const width = 720; const height = 220; const left = 44; const right = 8; const top = 10; const bottom = 22;
  const max = niceMax(Math.max(0, ...samples.map((s) => Math.max(s.notifications, s.deliveries))));
  // The time axis spans the last minute at first, then grows to WINDOW seconds.
  const span = Math.min(WINDOW, Math.max(60, samples.length));
  const x = (i) => left + (width - left - right) * (span - samples.length + i) / (span - 1);
  const y = (v) => top + (height - top - bottom) * (1 - v / max);
  const grid = $('grid');
  grid.replaceChildren();
  for (let k = 0; k <= 4; k++) {
    const value = max * k / 4;
    grid.append(svg('line', { x1: left, x2: width - right, y1: y(value), y2: y(value) }));
    const label = svg('text', { x: left - 6, y: y(value) + 4, 'text-anchor': 'end' });
    label.textContent = value >= 10 ? String(Math.round(value)) : String(Math.round(value * 10) / 10);
    grid.append(label);
  }
  const ago = (seconds) => seconds >= 120 ? '-' + Math.round(seconds / 6) / 10 + ' min' : '-' + seconds + ' s';
  for (const seconds of [span, Math.round(span / 2), 1]) {
    const label = svg('text', { x: left + (width - left - right) * (span - seconds) / (span - 1), y: height - 6, 'text-anchor': seconds === 1 ? 'end' : 'start' });
    label.textContent = seconds === 1 ? 'now' : ago(seconds);
    grid.append(label);
  }
  for (const key of ['notifications', 'deliveries']) {
    $('line-' + key).setAttribute('points', samples.map((s, i) => x(i).toFixed(1) + ',' + y(s[key]).toFixed(1)).join(' '));
  }
}

function drawChannels (stats) {
  const names = channels.slice();
  for (const name of Object.keys(stats.channel_stats)) if (!names.includes(name)) names.push(name);
  const most = Math.max(1, ...Object.values(stats.channel_stats));
  const rows = names.map((name) => {
    const count = stats.channel_stats[name] || 0;
    const row = document.createElement('tr');
    row.dataset.channel = name;
    const label = document.createElement('td'); label.textContent = name;
    const bar = document.createElement('td'); bar.className = 'bar';
    const fill = document.createElement('span'); fill.style.width = (100 * count / most) + '%'; bar.append(fill);
    const cell = document.createElement('td'); cell.className = 'count'; cell.dataset.value = String(count); cell.textContent = format('', count);
    row.append(label, bar, cell);
    return row;
  });
  $('channels').replaceChildren(...rows);
}

// Members of each presence channel (namespaces left out: their channels are per identity).
async function drawPresence () {
  if (config.presence.length === 0) return;
  const rows = [];
  for (const name of config.presence) {
    const response = await fetch(config.presenceUrl + '?channel=' + encodeURIComponent(name), { cache: 'no-store', credentials: 'same-origin' });
    if (!response.ok) continue;
    const body = await response.json();
    const row = document.createElement('tr');
    row.dataset.channel = name;
    const label = document.createElement('td'); label.textContent = name;
    const members = document.createElement('td'); members.className = 'members';
    members.textContent = body.members.map((member) => member.client).join(', ') + (body.truncated ? ' …' : '');
    const cell = document.createElement('td'); cell.className = 'count'; cell.dataset.value = String(body.total); cell.textContent = format('', body.total);
    row.append(label, members, cell);
    rows.push(row);
  }
  $('presence').replaceChildren(...rows);
}

async function poll () {
  try {
    const response = await fetch(config.statsUrl, { cache: 'no-store', credentials: 'same-origin' });
    // Refused (a session expired, a role missing): say so, rather than a bare HTTP error.
    if (response.status === 401 || response.status === 403) {
      setStatus('unauthorized', 'unauthorized');
      return;
    }
    if (!response.ok) throw new Error('stats answered HTTP ' + response.status);
    const stats = await response.json();
    const now = performance.now();
    if (previous !== null) {
      const seconds = Math.max(0.001, (now - previous.at) / 1000);
      const sample = {
        notifications: Math.max(0, stats.notifications_published - previous.stats.notifications_published) / seconds,
        deliveries: Math.max(0, stats.total_messages_sent - previous.stats.total_messages_sent) / seconds
      };
      samples.push(sample);
      if (samples.length > WINDOW) samples.shift();
      drawChart();
    }
    previous = { stats, at: now };
    readings.push({ at: now, notifications: stats.notifications_published, deliveries: stats.total_messages_sent });
    while (readings.length > 2 && now - readings[1].at >= RATE_WINDOW * 1000) readings.shift();
    if (readings.length > 1) {
      show('notifications_per_second', rate('notifications'));
      show('deliveries_per_second', rate('deliveries'));
    }
    for (const key of Object.keys(stats)) if (typeof stats[key] === 'number') show(key, stats[key]);
    drawChannels(stats);
    await drawPresence();
    setStatus('live', 'live');
    $('updated').textContent = new Date().toLocaleTimeString();
  } catch (err) {
    setStatus('down', String(err.message || err));
  } finally {
    setTimeout(poll, 1000);
  }
}

// ---- live tail: one socket, one channel at a time ----------------------------------------
let socket = null;
let tailChannel = '';
let paused = false;
let missed = 0;
const tail = [];

function renderTail () {
  const items = tail.map((frame) => {
    const item = document.createElement('li');
    const time = document.createElement('span'); time.className = 't'; time.textContent = String(frame.timestamp || '').slice(11, 23);
    const type = document.createElement('span'); type.className = 'type'; type.textContent = String(frame.type);
    const data = document.createElement('span'); data.textContent = JSON.stringify(frame.data === undefined ? null : frame.data).slice(0, 400);
    item.append(time, type, data);
    return item;
  });
  $('tail').replaceChildren(...items);
  $('tail-note').textContent = paused ? 'paused; ' + missed + ' new since' : (tail.length + ' shown, newest first');
}

function request (frame) {
  if (socket !== null && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(frame));
}

function pick (channel) {
  if (tailChannel !== '') request({ action: 'unsubscribe', channel: tailChannel });
  tailChannel = channel;
  tail.length = 0; missed = 0;
  if (channel !== '') request({ action: 'subscribe', channel });
  renderTail();
}

function fillChannelPicker () {
  const select = $('tail-channel');
  const options = [new Option('(none)', '')];
  // A namespace (user:*) is not a channel one can subscribe to.
  for (const name of channels) if (!(name.length > 1 && name.endsWith('*'))) options.push(new Option(name, name));
  select.replaceChildren(...options);
  select.value = tailChannel;
}

function connect () {
  const url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + config.wsPath;
  socket = new WebSocket(url);
  socket.onmessage = (event) => {
    let frame;
    try { frame = JSON.parse(event.data); } catch { return; }
    if (frame.type === 'connected') {
      channels = Array.isArray(frame.available_channels) ? frame.available_channels.map(String) : [];
      fillChannelPicker();
      if (tailChannel !== '') request({ action: 'subscribe', channel: tailChannel });
      return;
    }
    if (typeof frame.channel !== 'string' || frame.channel !== tailChannel || frame.type === 'subscribed' || frame.type === 'unsubscribed') return;
    if (paused) { missed++; renderTail(); return; }
    tail.unshift(frame);
    if (tail.length > TAIL) tail.pop();
    renderTail();
  };
  socket.onclose = (event) => {
    $('tail-note').textContent = 'socket closed (' + event.code + '); reconnecting';
    setTimeout(connect, 2000);
  };
}

$('tail-channel').addEventListener('change', (event) => pick(event.target.value));
$('tail-pause').addEventListener('click', () => {
  paused = !paused;
  $('tail-pause').setAttribute('aria-pressed', String(paused));
  $('tail-pause').textContent = paused ? 'Resume' : 'Pause';
  if (!paused) missed = 0;
  renderTail();
});
drawChart();
$('presence-section').hidden = config.presence.length === 0;
connect();
poll();
`

const CARDS: ReadonlyArray<readonly [string, string, string?]> = [
  ['total_clients', 'Connections'],
  ['websocket_clients', 'WebSocket'],
  ['sse_clients', 'SSE streams'],
  ['total_channels', 'Active channels'],
  ['notifications_per_second', 'Notifications/s (5 s)'],
  ['deliveries_per_second', 'Deliveries/s (5 s)'],
  ['notifications_published', 'Notifications sent'],
  ['total_messages_sent', 'Messages delivered'],
  ['bytes_sent', 'Bytes delivered'],
  ['messages_dropped', 'Dropped messages', 'warn'],
  ['slow_consumers_closed', 'Slow consumers closed', 'warn'],
  ['total_connections_ever', 'Connections ever'],
  ['history_messages', 'Messages in history']
]

const cards = CARDS.map(([key, label, tone]) =>
  `<div class="card"${tone === undefined ? '' : ` data-tone="${tone}"`}><div class="label">${label}</div><div class="value" data-stat="${key}" data-value="">–</div></div>`
).join('\n      ')

export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>fastify-ws-notify dashboard</title>
<style>${DASHBOARD_STYLE}</style>
</head>
<body>
<header>
  <span id="status"></span><h1>fastify-ws-notify</h1><span id="status-text">connecting</span>
  <span class="meta">up <span data-stat="uptime_seconds" data-value="">–</span> · updated <span id="updated">–</span></span>
</header>
<main>
  <section class="wide">
    <h2>Now</h2>
    <div class="cards">
      ${cards}
    </div>
  </section>
  <section>
    <h2>Per second, up to the last 5 minutes</h2>
    <svg id="chart" viewBox="0 0 720 220" role="img" aria-label="notifications and deliveries per second">
      <g id="grid" class="grid"></g>
      <polyline id="line-deliveries" points=""></polyline>
      <polyline id="line-notifications" points=""></polyline>
    </svg>
    <div class="legend"><span class="n"><b></b>notifications/s</span><span class="d"><b></b>deliveries/s</span></div>
  </section>
  <section>
    <h2>Subscribers per channel</h2>
    <table><tbody id="channels"></tbody></table>
  </section>
  <section class="wide" id="presence-section" hidden>
    <h2>Members of presence channels</h2>
    <table><tbody id="presence"></tbody></table>
  </section>
  <section class="wide">
    <h2>Live tail</h2>
    <div class="controls">
      <label for="tail-channel">Channel</label> <select id="tail-channel"><option value="">(none)</option></select>
      <button id="tail-pause" type="button" aria-pressed="false">Pause</button>
      <span id="tail-note"></span>
    </div>
    <ul id="tail"></ul>
  </section>
</main>
<script id="config" type="application/json">${CONFIG_PLACEHOLDER}</script>
<script>${DASHBOARD_SCRIPT}</script>
</body>
</html>
`
