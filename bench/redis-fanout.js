'use strict'
// Cross-instance fan-out through Redis: fastify-ws-notify with its Redis adapter against socket.io
// with @socket.io/redis-adapter, in the same run, with the same subscribers and payloads.
//
//   node bench/redis-fanout.js [--quick]      (after `npm run build`; Redis at 127.0.0.1:6379)
//
// A server process (core 0 where taskset exists) runs two instances of the contender, A and B,
// sharing Redis. The load process (this one) opens every subscriber on B; A publishes. Each
// notification carries its send time, so the load process measures delivery latency
// (performance.timeOrigin + now() is one clock across processes) and the time until the last
// delivery. Results: bench/redis-results.json (every run appended) and the table in bench/REDIS.md.
const { spawn } = require('node:child_process')
const { hasTaskset } = require('./pin')
const fs = require('node:fs')
const path = require('node:path')
const os = require('node:os')
const { randomUUID } = require('node:crypto')

const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379'
const now = () => performance.timeOrigin + performance.now()

/** Deletes the keys a run left in Redis (history streams, stats). */
async function deleteKeys (prefix) {
  const { Redis } = require('ioredis')
  const redis = new Redis(REDIS_URL)
  redis.on('error', () => {})
  let cursor = '0'
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
    if (keys.length > 0) await redis.del(...keys)
    cursor = next
  } while (cursor !== '0')
  redis.disconnect()
}

// ---- server side --------------------------------------------------------------------------------

async function startNotify (prefix, history) {
  const Fastify = require('fastify')
  const { notifications, redisAdapter } = require('../dist/lib/index.js')
  const channels = { bench: history ? { history: { size: 10_000 } } : {} }
  const apps = []
  for (let i = 0; i < 2; i++) {
    const app = Fastify()
    await app.register(notifications, {
      channels, adapter: redisAdapter({ redis: REDIS_URL, keyPrefix: prefix }), heartbeatInterval: 0, maxBufferedBytes: 64 * 1024 * 1024
    })
    await app.listen({ port: 0, host: '127.0.0.1' })
    apps.push(app)
  }
  return {
    port: apps[1].server.address().port,
    publish: (data) => apps[0].notify('bench', 'tick', data),
    close: async () => {
      for (const app of apps) await app.close()
      await deleteKeys(prefix)
    }
  }
}

async function startSocketIo (prefix) {
  const http = require('node:http')
  const { Server } = require('socket.io')
  const { createAdapter } = require('@socket.io/redis-adapter')
  const { Redis } = require('ioredis')
  const clients = []
  const servers = []
  for (let i = 0; i < 2; i++) {
    const pub = new Redis(REDIS_URL)
    const sub = pub.duplicate()
    for (const client of [pub, sub]) client.on('error', () => {})
    clients.push(pub, sub)
    const server = http.createServer()
    const io = new Server(server, {
      transports: ['websocket'],
      perMessageDeflate: false,
      httpCompression: false,
      serveClient: false,
      adapter: createAdapter(pub, sub, { key: `${prefix}socket.io` })
    })
    io.on('connection', (socket) => {
      socket.join('bench')
      socket.emit('ready')
    })
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
    servers.push({ server, io })
  }
  return {
    port: servers[1].server.address().port,
    publish: (data) => {
      // The same envelope our plugin sends.
      servers[0].io.to('bench').emit('bench', { type: 'tick', channel: 'bench', data, timestamp: new Date().toISOString() })
    },
    close: async () => {
      for (const { io } of servers) await new Promise((resolve) => io.close(() => resolve()))
      for (const client of clients) client.disconnect()
    }
  }
}

async function serverMain () {
  const [contender, prefix] = process.argv.slice(3)
  const target = contender === 'socket.io'
    ? await startSocketIo(prefix)
    : await startNotify(prefix, contender === 'fastify-ws-notify+history')
  process.on('message', async (message) => {
    if (message.cmd === 'publish') {
      const { count, pad, rate } = message
      const pending = []
      // Burst: as fast as the publisher goes, yielding every 50 so Redis replies are read.
      // Paced: `rate` per second, in one batch every 20 ms.
      const batch = rate === 0 ? 50 : Math.max(1, Math.round(rate / 50))
      for (let n = 0; n < count; n++) {
        const result = target.publish({ n, t: now(), pad })
        if (result !== undefined) pending.push(result)
        if (n % batch === batch - 1) {
          await new Promise((resolve) => rate === 0 ? setImmediate(resolve) : setTimeout(resolve, 20))
        }
      }
      await Promise.all(pending)
      process.send({ cmd: 'published' })
    } else if (message.cmd === 'close') {
      await target.close()
      process.exit(0)
    }
  })
  process.send({ cmd: 'ready', port: target.port })
}

// ---- load side ------------------------------------------------------------------------------------

function spawnServer (contender, prefix) {
  const args = [__filename, '--server', contender, prefix]
  const proc = hasTaskset()
    ? spawn('taskset', ['-c', '0', process.execPath, ...args], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    : spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const next = (cmd) => new Promise((resolve, reject) => {
    const onMessage = (message) => { if (message.cmd === cmd) { proc.off('message', onMessage); resolve(message) } }
    proc.on('message', onMessage)
    proc.once('exit', (code) => reject(new Error(`server exited with ${code}`)))
  })
  return { proc, next }
}

/** Opens one subscriber on B; resolves once it is subscribed. `onTick(data)` per notification. */
function subscriber (contender, port, onTick) {
  const WebSocket = require('ws')
  const socketIo = contender === 'socket.io'
  const url = socketIo ? `ws://127.0.0.1:${port}/socket.io/?EIO=4&transport=websocket` : `ws://127.0.0.1:${port}/ws`
  const ws = new WebSocket(url, { perMessageDeflate: false })
  return new Promise((resolve, reject) => {
    ws.on('error', reject)
    ws.on('message', (raw) => {
      const text = raw.toString()
      if (socketIo) {
        // engine.io v4: 0 open, 2 ping, 40 connected, 42 event.
        if (text.startsWith('42["bench"')) onTick(JSON.parse(text.slice(2))[1].data)
        else if (text === '42["ready"]') resolve(ws)
        else if (text === '2') ws.send('3')
        else if (text[0] === '0') ws.send('40')
        return
      }
      const frame = JSON.parse(text)
      if (frame.type === 'tick') onTick(frame.data)
      else if (frame.type === 'connected') ws.send(JSON.stringify({ action: 'subscribe', channel: 'bench' }))
      else if (frame.type === 'subscribed') resolve(ws)
    })
  })
}

function percentile (sorted, p) {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]
}

async function runOne (contender, subscribers, { name, count, payload, rate }) {
  const prefix = `bench:${randomUUID()}:`
  const server = spawnServer(contender, prefix)
  const { port } = await server.next('ready')
  let delivered = 0
  let last = 0
  const latencies = []
  const onTick = (data) => {
    const t = now()
    delivered++
    last = t
    if (delivered % 10 === 0) latencies.push(t - data.t)
  }
  const sockets = []
  for (let i = 0; i < subscribers; i++) sockets.push(await subscriber(contender, port, onTick))
  const expected = subscribers * count
  const start = now()
  server.proc.send({ cmd: 'publish', count, rate, pad: 'x'.repeat(payload) })
  await server.next('published')
  const deadline = Date.now() + 60_000
  const allDelivered = () => delivered >= expected
  while (!allDelivered() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5))
  const seconds = (last - start) / 1000
  for (const ws of sockets) ws.terminate()
  server.proc.send({ cmd: 'close' })
  await new Promise((resolve) => server.proc.once('exit', resolve))
  latencies.sort((a, b) => a - b)
  return {
    scenario: name,
    contender,
    payload_bytes: payload,
    subscribers,
    notifications: count,
    deliveries: delivered,
    expected,
    seconds: Math.round(seconds * 1000) / 1000,
    deliveries_per_second: Math.round(delivered / seconds),
    latency_ms_p50: Math.round(percentile(latencies, 0.5) * 100) / 100,
    latency_ms_p99: Math.round(percentile(latencies, 0.99) * 100) / 100
  }
}

function median (runs, key) {
  const values = runs.map((run) => run[key]).sort((a, b) => a - b)
  return values[Math.floor(values.length / 2)]
}

const CONTENDERS = ['fastify-ws-notify', 'fastify-ws-notify+history', 'socket.io']

async function loadMain () {
  const quick = process.argv.includes('--quick')
  const subscribers = quick ? 100 : 500
  const burst = quick ? 500 : 2000
  const rounds = quick ? 1 : 3
  // Bursts measure throughput (latency there is mostly queueing); the paced run, below every
  // contender's capacity, measures latency.
  const scenarios = [
    { name: 'burst', count: burst, payload: 100, rate: 0 },
    { name: 'burst', count: burst, payload: 1024, rate: 0 },
    { name: 'paced 50/s', count: quick ? 50 : 200, payload: 100, rate: 50 }
  ]
  const results = []
  let failed = false
  for (const scenario of scenarios) {
    for (const contender of CONTENDERS) {
      const runs = []
      for (let round = 0; round < rounds; round++) runs.push(await runOne(contender, subscribers, scenario))
      const row = { ...runs[0] }
      for (const key of ['seconds', 'deliveries_per_second', 'latency_ms_p50', 'latency_ms_p99']) row[key] = median(runs, key)
      row.deliveries = Math.min(...runs.map((run) => run.deliveries))
      if (row.deliveries !== row.expected) failed = true
      results.push(row)
      console.log(JSON.stringify(row))
    }
  }
  const record = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: os.cpus().length,
    cpu: os.cpus()[0]?.model,
    quick,
    rounds,
    results
  }
  const file = path.join(__dirname, 'redis-results.json')
  const history = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : []
  history.push(record)
  fs.writeFileSync(file, JSON.stringify(history, null, 2) + '\n')
  writeReport(record)
  if (failed) {
    console.error('a contender delivered a wrong count')
    process.exitCode = 1
  }
}

/** Replaces the results section of bench/REDIS.md with this run's table. */
function writeReport (record) {
  const file = path.join(__dirname, 'REDIS.md')
  const text = fs.readFileSync(file, 'utf8')
  const begin = '<!-- results:begin -->'
  const end = '<!-- results:end -->'
  const rows = record.results.map((r) =>
    `| ${r.scenario} | ${r.contender} | ${r.payload_bytes} | ${r.deliveries}/${r.expected} | ${r.deliveries_per_second.toLocaleString('en-US')} | ${r.latency_ms_p50} | ${r.latency_ms_p99} |`)
  const table = [
    begin,
    `Run of ${record.date}: Node ${record.node}, ${record.cpus} × ${record.cpu}; ${record.results[0].subscribers} subscribers on B; ` +
      `a burst publishes ${record.results[0].notifications} notifications on A; median of ${record.rounds} round(s)${record.quick ? ' (--quick)' : ''}.`,
    '',
    '| scenario | contender | payload (bytes) | delivered | deliveries/s | p50 latency (ms) | p99 latency (ms) |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: |',
    ...rows,
    end
  ].join('\n')
  const start = text.indexOf(begin)
  const stop = text.indexOf(end)
  fs.writeFileSync(file, start === -1 || stop === -1 ? `${text}\n${table}\n` : text.slice(0, start) + table + text.slice(stop + end.length))
}

if (process.argv[2] === '--server') {
  serverMain().catch((err) => { console.error(err); process.exit(1) })
} else {
  loadMain().catch((err) => { console.error(err); process.exit(1) })
}
