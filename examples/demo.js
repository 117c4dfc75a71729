// The demo page's script (examples/demo.html): one panel per channel, fed by the plugin's own
// browser client. Producers write what arrives here, so every text taken from a message goes into
// the page through textContent or an attribute value, never through innerHTML.
/* global document */
import { createClient } from '/ws/client.js'

const MAX_ITEMS = 12
const MAX_POINTS = 40
const SVG = 'http://www.w3.org/2000/svg'
const SEVERITIES = ['info', 'warning', 'critical']

const client = createClient('/ws')
const badge = document.getElementById('connection')
const problem = document.getElementById('problem')

function el (tag, className, text) {
  const node = document.createElement(tag)
  if (className) node.className = className
  if (text !== undefined) node.textContent = text
  return node
}

function svg (tag, attributes) {
  const node = document.createElementNS(SVG, tag)
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value))
  return node
}

/** A <time> for an ISO timestamp (the message's own, or the server's). */
function timeOf (iso) {
  const date = new Date(iso)
  const node = el('time', '', Number.isNaN(date.getTime()) ? '' : date.toLocaleTimeString())
  if (typeof iso === 'string') node.dateTime = iso
  return node
}

/** One line for any JSON: `key: value · key: value` for an object, JSON otherwise; cut at 200 characters. */
function compact (data) {
  const text = data !== null && typeof data === 'object' && !Array.isArray(data)
    ? Object.entries(data).map(([key, value]) => `${key}: ${typeof value === 'string' ? value : JSON.stringify(value)}`).join(' · ')
    : JSON.stringify(data) ?? 'no data'
  return text.length > 200 ? `${text.slice(0, 199)}…` : text
}

function prepend (list, item) {
  list.prepend(item)
  while (list.children.length > MAX_ITEMS) list.lastElementChild.remove()
}

// ---- one renderer per channel: given its panel, returns the handler of its messages ----------

/** error_firewall: the replaced dashboard's showErrorNotification(data), dismissable. */
function errorNotifications (panel) {
  const list = panel.querySelector('.notifications')
  return (message) => {
    const { error_id: errorId, solution, timestamp } = message.data
    const item = el('li', 'notification')
    const dismiss = el('button', 'dismiss', '×')
    dismiss.type = 'button'
    dismiss.setAttribute('aria-label', `Dismiss ${errorId}`)
    dismiss.addEventListener('click', () => item.remove())
    item.append(el('span', 'error-id mono', errorId), el('span', 'solution', solution), timeOf(timestamp ?? message.timestamp), dismiss)
    prepend(list, item)
  }
}

/** db_pool_stats: the replaced dashboard's updatePoolChart(data), as a step line of new_size over time. */
function poolChart (panel) {
  const now = panel.querySelector('.pool-now')
  const chart = panel.querySelector('.chart')
  const [grid, line, dots] = [chart.querySelector('.grid'), chart.querySelector('.line'), chart.querySelector('.points')]
  const points = []
  const [width, height, left, right, top, bottom] = [320, 150, 34, 12, 10, 20]

  function draw () {
    const high = Math.max(1, ...points.map((p) => p.size)) * 1.2
    const t0 = points[0].t
    const span = Math.max(1, points.at(-1).t - t0)
    const x = (t) => points.length === 1 ? width - right : left + ((t - t0) / span) * (width - left - right)
    const y = (size) => top + (1 - size / high) * (height - top - bottom)
    const steps = []
    points.forEach((p, i) => {
      if (i > 0) steps.push(`${x(p.t)},${y(points[i - 1].size)}`)
      steps.push(`${x(p.t)},${y(p.size)}`)
    })
    line.setAttribute('points', steps.join(' '))
    grid.replaceChildren()
    for (const value of [0, Math.round(high / 2), Math.round(high)]) {
      grid.append(svg('line', { x1: left, x2: width - right, y1: y(value), y2: y(value) }))
      grid.append(Object.assign(svg('text', { x: left - 6, y: y(value) + 3, 'text-anchor': 'end' }), { textContent: String(value) }))
    }
    const clock = (t) => new Date(t).toLocaleTimeString()
    grid.append(Object.assign(svg('text', { x: left, y: height - 4 }), { textContent: clock(t0) }))
    if (points.length > 1) grid.append(Object.assign(svg('text', { x: width - right, y: height - 4, 'text-anchor': 'end' }), { textContent: clock(points.at(-1).t) }))
    dots.replaceChildren(...points.map((p) => {
      const dot = svg('circle', { cx: x(p.t), cy: y(p.size), r: 3.5, 'data-new-size': p.size })
      dot.append(Object.assign(svg('title', {}), { textContent: `${p.size} at ${clock(p.t)}` }))
      return dot
    }))
  }

  return (message) => {
    const { old_size: oldSize, new_size: newSize, reason, utilization } = message.data
    points.push({ t: Date.parse(message.timestamp) || Date.now(), size: newSize })
    if (points.length > MAX_POINTS) points.shift()
    const detail = ` connections, was ${oldSize} · ${reason}${utilization === undefined ? '' : ` · ${utilization} used`}`
    now.replaceChildren(el('strong', '', String(newSize)), detail)
    draw()
  }
}

/** vector_search: one progress bar per query_id; the bar stops at 100 %, the number does not. */
function searchProgress (panel) {
  const list = panel.querySelector('.searches')
  const rows = new Map()
  return (message) => {
    const { query_id: queryId, progress, status } = message.data
    let row = rows.get(queryId)
    if (row === undefined) {
      row = { item: el('li', 'search'), percent: el('span', 'percent'), track: el('div', 'track'), fill: el('div', 'fill') }
      const head = el('div', 'search-head')
      head.append(el('span', 'mono', queryId), row.percent)
      row.track.setAttribute('role', 'progressbar')
      row.track.setAttribute('aria-valuemin', '0')
      row.track.setAttribute('aria-valuemax', '100')
      row.track.setAttribute('aria-label', `Search ${queryId}`)
      row.track.append(row.fill)
      row.item.append(head, row.track)
      rows.set(queryId, row)
      list.prepend(row.item)
      if (rows.size > MAX_ITEMS) {
        const [oldest] = rows.keys()
        rows.get(oldest).item.remove()
        rows.delete(oldest)
      }
    }
    const value = Math.max(0, progress)
    const bar = Math.min(100, value)
    const shown = `${Math.round(value * 10) / 10}%`
    const completed = status === 'completed'
    row.fill.style.width = `${bar}%`
    row.track.setAttribute('aria-valuenow', String(bar))
    row.track.setAttribute('aria-valuetext', completed ? `${shown}, completed` : shown)
    row.percent.textContent = completed ? `${shown} · completed` : shown
    row.item.classList.toggle('completed', completed)
  }
}

/** system_alerts (no fixed payload): `data.severity` and `data.message` when there, JSON otherwise. */
function alerts (panel) {
  const list = panel.querySelector('.alerts')
  return (message) => {
    const data = message.data ?? {}
    const severity = typeof data.severity === 'string' ? data.severity : undefined
    const known = SEVERITIES.includes(severity) ? severity : 'unknown'
    const item = el('li', `alert severity-${known}`)
    const text = typeof data.message === 'string' ? data.message : compact(message.data)
    item.append(timeOf(message.timestamp), el('span', 'severity', severity ?? message.type), el('span', 'text', text))
    prepend(list, item)
  }
}

/** ai_analysis, memory_updates (no fixed payload): the latest events, type and data on one line. */
function recentEvents (panel) {
  const list = panel.querySelector('.events')
  return (message) => {
    const item = el('li', 'event')
    item.append(timeOf(message.timestamp), el('span', 'type', message.type), el('span', 'data mono', compact(message.data)))
    prepend(list, item)
  }
}

const renderers = {
  error_firewall: errorNotifications,
  db_pool_stats: poolChart,
  vector_search: searchProgress,
  system_alerts: alerts,
  ai_analysis: recentEvents,
  memory_updates: recentEvents
}

// ---- subscriptions: one toggle per panel ------------------------------------------------------

const active = new Set()

for (const panel of document.querySelectorAll('.panel')) {
  const channel = panel.dataset.channel
  const toggle = panel.querySelector('.toggle input')
  const note = panel.querySelector('.note')
  const handler = renderers[channel](panel)
  let subscription = null

  const show = (state) => {
    panel.dataset.subscription = state
    panel.classList.toggle('off', state !== 'subscribed')
  }
  const subscribe = () => {
    note.textContent = ''
    show('pending')
    client.subscribe(channel, handler).then((added) => {
      // Switched off meanwhile, or switched on twice: keep at most one subscription.
      if (!toggle.checked || subscription !== null) return added.unsubscribe()
      subscription = added
      active.add(channel)
      show('subscribed')
    }, (err) => {
      note.textContent = `Cannot subscribe: ${err.code ?? ''} ${err.message}`
      toggle.checked = false
      show('refused')
    })
  }
  toggle.addEventListener('change', () => {
    if (toggle.checked) return subscribe()
    subscription?.unsubscribe()
    subscription = null
    active.delete(channel)
    show('off')
  })
  subscribe()
}

// ---- the connection badge ---------------------------------------------------------------------

let connectedBefore = false
let resuming = new Set() // channels not yet resumed after a reconnect
let missed = false

function setBadge (state, text) {
  badge.dataset.state = state
  badge.textContent = text
}

client.on('state', (state) => {
  if (state === 'reconnecting') setBadge('reconnecting', 'reconnecting…')
  else if (state === 'closed') setBadge('closed', 'closed')
})
client.on('connected', ({ transport }) => {
  // Behind a proxy that refuses WebSocket the client falls back to Server-Sent Events: say so.
  const via = transport === 'sse' ? ' · over Server-Sent Events' : ''
  setBadge('connected', (connectedBefore ? 'reconnected' : 'connected') + via)
  resuming = connectedBefore ? new Set(active) : new Set()
  missed = false
  connectedBefore = true
})
client.on('recovered', ({ channel }) => {
  resuming.delete(channel)
  if (resuming.size === 0 && !missed) setBadge('resumed', 'resumed · nothing missed')
})
client.on('gap', ({ channel }) => {
  resuming.delete(channel)
  missed = true
  setBadge('connected', 'reconnected · events sent meanwhile may be missing')
})
client.on('error', (err) => { problem.textContent = `${err.code}: ${err.message}` })
