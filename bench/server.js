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
// `options` (S6): extra plugin options, such as { dashboard: true } or { metrics: true }, or
// { presenceOn: true } (presence on the channel `all`), or { latestOn: true } (`all` declared
// delivery: 'latest': conflation, S5).
async function startPlugin (options = {}, build = process.env.BENCH_PLUGIN || '../dist/lib/index.js') {
  const Fastify = require('fastify')
  // The built plugin (npm run build). BENCH_PLUGIN may name another build of it, for profiling.
  const notifications = require(build)
  const app = Fastify()
  // Heartbeats off in every contender (socket.io: pingInterval 1 h): several servers share core 0
  // in a round, and an idle one's ping sweep over 10 000 sockets must not land in another's burst.
  // `presenceOn` (S6, S4 with presence): `all` tracks its members (every socket, each its own
  // client id); no joinLeave, whose join frames would be counted as deliveries.
  const { presenceOn = false, latestOn = false, ...rest } = options
  const channels = presenceOn || latestOn
    ? Object.fromEntries([['all', presenceOn ? { presence: true } : { delivery: 'latest' }], ...['half', ...groupNames].map((name) => [name, {}])])
    : ['all', 'half', ...groupNames]
  await app.register(notifications, { channels, heartbeatInterval: 0, ...(presenceOn && { presence: { grace: 0 } }), ...rest })
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
    stats: () => app.notifications.stats(),
    close: () => app.close()
  }
}

/**
 * The limit's send path: frame encoded once, the same buffer written to every TCP socket, each
 * socket corked on its first write of the tick and all uncorked in one nextTick.
 */
function limitWriter (registry) {
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
  return {
    /** A new socket: on its channels (from its URL) until it closes, its TCP socket written to directly. */
    add (ws, url) {
      const { clientId, channels } = subscriptionsOf(url)
      const entry = { socket: ws._socket, corked: false }
      registry.add(entry, clientId, channels)
      ws.on('close', () => registry.remove(entry))
      ws.on('error', () => registry.remove(entry))
      ws.send('{"type":"ready"}')
    },
    publish (channel, data) {
      delivered += writeAll(registry.get(channel), encode(JSON.stringify(envelope(channel, data))))
    },
    sendTo (clientId, data) {
      delivered += writeAll(registry.get(`@${clientId}`), encode(JSON.stringify({ type: 'bench', data, timestamp: new Date().toISOString() })))
    },
    async settle () { const n = delivered; delivered = 0; return n }
  }
}

// 2. The limit in Node: raw ws and limitWriter.
async function startLimit () {
  const server = http.createServer()
  const wss = new WebSocketServer({ server, perMessageDeflate: false, clientTracking: false })
  const registry = new Registry()
  const writer = limitWriter(registry)
  wss.on('connection', (ws, req) => writer.add(ws, req.url))
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: server.address().port,
    ...writer,
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
  const io = new Server(server, { transports: ['websocket'], perMessageDeflate: false, httpCompression: false, serveClient: false, pingInterval: 3_600_000 })
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

// 2b. (Development, not in the default run: --contenders=ws-limit-fastify.) The limit's loop on
// sockets opened by @fastify/websocket, to tell what the plugin costs from what the Fastify
// server around it costs.
async function startLimitFastify () {
  const Fastify = require('fastify')
  const app = Fastify()
  await app.register(require('@fastify/websocket'), { options: { perMessageDeflate: false } })
  const registry = new Registry()
  const writer = limitWriter(registry)
  app.get('/ws', { websocket: true }, (ws, req) => writer.add(ws, req.url))
  await app.listen({ port: 0, host: '127.0.0.1' })
  return {
    port: app.server.address().port,
    ...writer,
    subscribers: (channel) => registry.get(channel).size,
    connections: () => registry.get('all').size,
    close: () => app.close()
  }
}

const starters = {
  'fastify-ws-notify': startPlugin,
  // The plugin's Server-Sent Events transport: the same fan-out to streams at /ws/sse.
  'fastify-ws-notify-sse': (options) => startPlugin({ sse: true, ...options }),
  // (Development, only when named: A/B of two builds, paired in time.) BENCH_PLUGIN_BASE names
  // another build of the plugin, such as one of an earlier commit.
  'fastify-ws-notify@base': (options) => startPlugin(options, process.env.BENCH_PLUGIN_BASE),
  'ws-limit': startLimit,
  'ws-limit-fastify': startLimitFastify,
  'old-way': startOldWay,
  'socket.io': startSocketIo
}

function padFor (size) {
  const base = JSON.stringify(envelope('all', { s: nowMicros(), pad: '' })).length
  return 'x'.repeat(Math.max(0, size - base))
}

// Three passes (with turns between, for finalizers) before reading memory; one before a burst.
async function collectGarbage (passes = 3) {
  for (let i = 0; i < passes; i++) {
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

// Development: BENCH_PROFILE=dir writes one CPU profile per burst (from the first publish to the
// clients' confirmation), named after the contender and the burst, for `node bench/profile.js`.
const profiler = process.env.BENCH_PROFILE ? new (require('node:inspector').Session)() : null
let contenderName = ''
const post = (method, params) => new Promise((resolve, reject) =>
  profiler.post(method, params, (err, result) => err ? reject(err) : resolve(result)))
if (profiler !== null) profiler.connect()

/**
 * Development: starts what BENCH_PROFILE (a V8 CPU profile) and BENCH_PERF=dir (Linux perf,
 * kernel time included) record of one measurement, named `name`; stopRecording writes them.
 */
async function startRecording (name) {
  if (profiler !== null) {
    await post('Profiler.enable')
    await post('Profiler.setSamplingInterval', { interval: 100 })
    await post('Profiler.start')
  }
  const perf = process.env.BENCH_PERF
    ? require('node:child_process').spawn('perf', ['record', '-q', '-F', '4000', '-g', '-p', String(process.pid), '-o', require('node:path').join(process.env.BENCH_PERF, `${name}.perf`)], { stdio: 'ignore' })
    : null
  if (perf !== null) await sleep(300)
  return { name, perf }
}

async function stopRecording ({ name, perf }) {
  if (perf !== null) {
    perf.kill('SIGINT')
    await new Promise((resolve) => perf.once('exit', resolve))
  }
  if (profiler !== null) {
    const { profile } = await post('Profiler.stop')
    require('node:fs').writeFileSync(require('node:path').join(process.env.BENCH_PROFILE, `${name}.${process.pid}.cpuprofile`), JSON.stringify(profile))
  }
}

const handlers = {
  async start ({ contender, options }) {
    if (options !== undefined && contender !== 'fastify-ws-notify') throw new Error(`${contender} takes no plugin options`)
    subject = await starters[contender](options)
    contenderName = contender
    return { port: subject.port }
  },
  async memory () {
    await collectGarbage()
    const timers = process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length
    return { ...memory(), timers }
  },
  /** Development (BENCH_SNAPSHOT): a heap snapshot of the idle server. */
  async snapshot ({ dir }) {
    await collectGarbage()
    return { file: require('node:v8').writeHeapSnapshot(require('node:path').join(dir, `${contenderName}.${process.pid}.heapsnapshot`)) }
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
    await collectGarbage(1)
    const recording = await startRecording(`${contenderName}.${kind}.${targets.length}x${perTick}x${size}`)
    window = { cpu: process.cpuUsage(), t0: nowMicros(), recording }
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
    await stopRecording(window.recording)
    return { cpuMicros: cpu.user + cpu.system, wallMicros: nowMicros() - window.t0 }
  },
  /**
   * Publishes to `channel` at a fixed rate for durationMs; event-loop delay and memory peaks. The
   * first `warmup` notifications carry s: 0, which the load process does not time (S2: like the
   * floor's, a window's fan-outs follow one of warm-up, at the window's own pace).
   */
  async paced ({ channel, rate, durationMs, size, collect = true, warmup = 0 }) {
    const pad = padFor(size)
    // A forced full collection leaves work behind (concurrent sweeping, on the one core the server
    // is pinned to; a young generation to grow again): the first fan-out after it was the slowest
    // of S2's, by up to 35 ms, and more so the larger the heap. So a measurement that follows its
    // own warm-up (collect: false) runs without a second one: the warm-up's fan-out absorbed it.
    if (collect) await collectGarbage(1)
    const recording = await startRecording(`${contenderName}.paced.${channel}.${rate}x${size}`)
    const eld = monitorEventLoopDelay({ resolution: 5 })
    const before = memory()
    const peak = { ...before }
    const period = 1000 / rate
    const started = performance.now()
    const cpu = process.cpuUsage()
    eld.enable()
    let sent = 0
    let lastSample = 0
    while (performance.now() - started < durationMs) {
      subject.publish(channel, { s: sent < warmup ? 0 : nowMicros(), pad })
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
    const used = process.cpuUsage(cpu)
    await stopRecording(recording)
    return {
      sent,
      deliveries,
      cpuNsPerDelivery: deliveries > 0 ? (used.user + used.system) * 1000 / deliveries : null,
      eventLoopDelayMs: { p50: eld.percentile(50) / 1e6, p99: eld.percentile(99) / 1e6, max: eld.max / 1e6 },
      memoryBefore: before,
      memoryPeak: peak,
      connections: subject.connections()
    }
  },
  /** The plugin's stats (S5's conflation row); null for the other contenders. */
  async stats () {
    return subject.stats?.() ?? null
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
