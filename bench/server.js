'use strict'
// The server under test: one contender per process, driven by bench/run.js over IPC. It
// publishes, and measures its own CPU (process.cpuUsage), memory and event-loop delay; the load
// clients (bench/clients.js) run in another process on another core and count what arrives.
const http = require('node:http')
const { setImmediate: nextLoop, setTimeout: sleep } = require('node:timers/promises')
const { monitorEventLoopDelay } = require('node:perf_hooks')
const { WebSocketServer, WebSocket } = require('ws')

const GROUPS = 10
const groupNames = Array.from({ length: GROUPS }, (_, i) => `g${i}`)

/** Monotonic microseconds, comparable across processes (CLOCK_MONOTONIC). */
function nowMicros () {
  const [s, ns] = process.hrtime()
  return s * 1e6 + Math.floor(ns / 1e3)
}

function envelope (channel, data) {
  return { type: 'bench', channel, data, timestamp: new Date().toISOString() }
}

function subscriptionsOf (url) {
  const query = new URL(url, 'http://127.0.0.1').searchParams
  return { clientId: query.get('client_id'), channels: (query.get('channels') || '').split(',').filter(Boolean) }
}

class Registry {
  constructor () {
    this.channels = new Map()
    this.clients = new Map()
  }

  add (entry, clientId, channels) {
    for (const name of [...channels, `@${clientId}`]) {
      let set = this.channels.get(name)
      if (set === undefined) this.channels.set(name, (set = new Set()))
      set.add(entry)
    }
    entry.names = [...channels, `@${clientId}`]
  }

  remove (entry) {
    for (const name of entry.names || []) this.channels.get(name)?.delete(entry)
  }

  get (name) {
    return this.channels.get(name) || new Set()
  }
}

// 1. The plugin, through app.notify / app.notifications.sendTo.
// `options` (S6): extra plugin options, such as { dashboard: true } or { metrics: true }.
async function startPlugin (options = {}) {
  const Fastify = require('fastify')
  // The built plugin (npm run build). BENCH_PLUGIN may name another build of it, for profiling.
  const notifications = require(process.env.BENCH_PLUGIN || '../dist/lib/index.js')
  const app = Fastify()
  await app.register(notifications, { channels: ['all', ...groupNames], ...options })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const pending = []
  return {
    port: app.server.address().port,
    publish (channel, data) {
      pending.push(app.notify(channel, 'bench', data))
    },
    sendTo (clientId, data) {
      pending.push(app.notifications.sendTo(clientId, 'bench', data))
    },
    // Deliveries as the plugin counts them (stats), and any rejected notify.
    async settle () {
      const results = await Promise.all(pending.splice(0))
      return results.reduce((sum, n) => sum + n, 0)
    },
    subscribers: (channel) => app.notifications.stats().channel_stats[channel] || 0,
    connections: () => app.notifications.stats().total_clients,
    close: () => app.close()
  }
}

// 2. The limit in Node: raw ws, frame encoded once, the same buffer written to every TCP socket,
// each socket corked on its first write of the tick and all uncorked in one nextTick.
async function startLimit () {
  const server = http.createServer()
  const wss = new WebSocketServer({ server, perMessageDeflate: false, clientTracking: false })
  const registry = new Registry()
  let corked = []
  const uncorkAll = () => {
    const list = corked
    corked = []
    for (let i = 0; i < list.length; i++) {
      list[i].corked = false
      list[i].socket.uncork()
    }
  }
  const writeAll = (set, frame) => {
    for (const entry of set) {
      if (!entry.corked) {
        entry.corked = true
        entry.socket.cork()
        if (corked.push(entry) === 1) process.nextTick(uncorkAll)
      }
      entry.socket.write(frame)
    }
    return set.size
  }
  const encode = (json) => Buffer.concat(WebSocket.Sender.frame(Buffer.from(json), { fin: true, opcode: 1, mask: false, readOnly: false, rsv1: false }))
  let delivered = 0
  wss.on('connection', (ws, req) => {
    const { clientId, channels } = subscriptionsOf(req.url)
    const entry = { socket: ws._socket, corked: false }
    registry.add(entry, clientId, channels)
    ws.on('close', () => registry.remove(entry))
    ws.on('error', () => registry.remove(entry))
    ws.send('{"type":"ready"}')
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: server.address().port,
    publish (channel, data) {
      delivered += writeAll(registry.get(channel), encode(JSON.stringify(envelope(channel, data))))
    },
    sendTo (clientId, data) {
      delivered += writeAll(registry.get(`@${clientId}`), encode(JSON.stringify({ type: 'bench', data, timestamp: new Date().toISOString() })))
    },
    async settle () { const n = delivered; delivered = 0; return n },
    subscribers: (channel) => registry.get(channel).size,
    connections: () => registry.get('all').size,
    close: () => new Promise((resolve) => server.close(resolve))
  }
}

// 3. The old way: @fastify/websocket, JSON.stringify per subscriber, then ws.send.
async function startOldWay () {
  const Fastify = require('fastify')
  const app = Fastify()
  await app.register(require('@fastify/websocket'), { options: { perMessageDeflate: false } })
  const registry = new Registry()
  let delivered = 0
  app.get('/ws', { websocket: true }, (socket, req) => {
    const { clientId, channels } = subscriptionsOf(req.url)
    const entry = { socket }
    registry.add(entry, clientId, channels)
    socket.on('close', () => registry.remove(entry))
    socket.on('error', () => registry.remove(entry))
    socket.send('{"type":"ready"}')
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const sendEach = (set, message) => {
    for (const entry of set) {
      if (entry.socket.readyState !== WebSocket.OPEN) continue
      entry.socket.send(JSON.stringify(message))
      delivered++
    }
  }
  return {
    port: app.server.address().port,
    publish (channel, data) { sendEach(registry.get(channel), envelope(channel, data)) },
    sendTo (clientId, data) { sendEach(registry.get(`@${clientId}`), { type: 'bench', data, timestamp: new Date().toISOString() }) },
    async settle () { const n = delivered; delivered = 0; return n },
    subscribers: (channel) => registry.get(channel).size,
    connections: () => registry.get('all').size,
    close: () => app.close()
  }
}

// 4. socket.io room broadcast, websocket transport only, no compression.
async function startSocketIo () {
  const { Server } = require('socket.io')
  const server = http.createServer()
  const io = new Server(server, { transports: ['websocket'], perMessageDeflate: false, httpCompression: false, serveClient: false })
  io.on('connection', (socket) => {
    const { client_id: clientId, channels } = socket.handshake.query
    socket.join([...String(channels).split(',').filter(Boolean), `@${clientId}`])
    socket.emit('ready')
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const rooms = io.of('/').adapter.rooms
  let delivered = 0
  return {
    port: server.address().port,
    publish (channel, data) {
      io.to(channel).emit('bench', envelope(channel, data))
      delivered += rooms.get(channel)?.size || 0
    },
    sendTo (clientId, data) {
      io.to(`@${clientId}`).emit('bench', { type: 'bench', data, timestamp: new Date().toISOString() })
      delivered += rooms.get(`@${clientId}`)?.size || 0
    },
    async settle () { const n = delivered; delivered = 0; return n },
    subscribers: (channel) => rooms.get(channel)?.size || 0,
    connections: () => io.of('/').sockets.size,
    close: () => new Promise((resolve) => { io.close(() => resolve()) })
  }
}

const starters = { 'fastify-ws-notify': startPlugin, 'ws-limit': startLimit, 'old-way': startOldWay, 'socket.io': startSocketIo }

function padFor (size) {
  const base = JSON.stringify(envelope('all', { s: nowMicros(), pad: '' })).length
  return 'x'.repeat(Math.max(0, size - base))
}

async function collectGarbage () {
  for (let i = 0; i < 3; i++) {
    global.gc()
    await nextLoop()
  }
}

function memory () {
  const m = process.memoryUsage()
  return { rss: m.rss, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers }
}

let subject = null
let window = null

const handlers = {
  async start ({ contender, options }) {
    if (options !== undefined && contender !== 'fastify-ws-notify') throw new Error(`${contender} takes no plugin options`)
    subject = await starters[contender](options)
    return { port: subject.port }
  },
  async memory () {
    await collectGarbage()
    const timers = process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length
    return { ...memory(), timers }
  },
  async count ({ channels }) {
    const counts = {}
    for (const channel of channels) counts[channel] = subject.subscribers(channel)
    return { counts, connections: subject.connections() }
  },
  /**
   * Publishes `ticks` event-loop turns of `perTick` notifications to each target, one turn after
   * another (setImmediate between, so I/O runs), and starts the CPU window. With `durationMs`
   * (S6), turns go on until that much time has passed instead, so that once-a-second readers
   * land inside the window; `ticks` in the answer says how many ran.
   */
  async burst ({ kind, targets, perTick, ticks, size, durationMs }) {
    const pad = padFor(size)
    await collectGarbage()
    window = { cpu: process.cpuUsage(), t0: nowMicros() }
    const deadline = durationMs === undefined ? Infinity : performance.now() + durationMs
    const turns = durationMs === undefined ? ticks : Infinity
    let t = 0
    for (; t < turns && performance.now() < deadline; t++) {
      for (let k = 0; k < perTick; k++) {
        for (let i = 0; i < targets.length; i++) {
          if (kind === 'client') subject.sendTo(targets[i], { s: nowMicros(), pad })
          else subject.publish(targets[i], { s: nowMicros(), pad })
        }
      }
      await nextLoop()
    }
    const deliveries = await subject.settle()
    return { deliveries, ticks: t, t0: window.t0 }
  },
  /** Ends the CPU window opened by burst, once the clients have everything. */
  async end () {
    const cpu = process.cpuUsage(window.cpu)
    return { cpuMicros: cpu.user + cpu.system, wallMicros: nowMicros() - window.t0 }
  },
  /** Publishes to `channel` at a fixed rate for durationMs; event-loop delay and memory peaks. */
  async paced ({ channel, rate, durationMs, size }) {
    const pad = padFor(size)
    const eld = monitorEventLoopDelay({ resolution: 5 })
    const before = memory()
    const peak = { ...before }
    const period = 1000 / rate
    const started = performance.now()
    eld.enable()
    let sent = 0
    let lastSample = 0
    while (performance.now() - started < durationMs) {
      subject.publish(channel, { s: nowMicros(), pad })
      sent++
      if (performance.now() - lastSample > 50) {
        lastSample = performance.now()
        const m = memory()
        for (const key of Object.keys(peak)) peak[key] = Math.max(peak[key], m[key])
      }
      const wait = started + sent * period - performance.now()
      await sleep(Math.max(0, wait))
    }
    eld.disable()
    const deliveries = await subject.settle()
    return {
      sent,
      deliveries,
      eventLoopDelayMs: { p50: eld.percentile(50) / 1e6, p99: eld.percentile(99) / 1e6, max: eld.max / 1e6 },
      memoryBefore: before,
      memoryPeak: peak,
      connections: subject.connections()
    }
  },
  async close () {
    await subject.close()
    return {}
  }
}

process.on('message', async (message) => {
  try {
    const result = await handlers[message.cmd](message)
    process.send({ id: message.id, ok: true, result })
  } catch (err) {
    process.send({ id: message.id, ok: false, error: err.stack || String(err) })
  }
})
process.on('disconnect', () => process.exit(0))
