'use strict'
// Benchmark driver: `npm run bench` (full, under 5 min) or `npm run bench -- --quick` (CI, under
// 60 s). Each session spawns one server under test (bench/server.js, core 0) and one load process
// (bench/clients.js, core 1); every scenario runs every contender in turn, three rounds; medians
// and ratios go to bench/results.json and the table in bench/README.md (bench/report.js).
// Exit code: 1 when a contender errors or delivers a wrong count; missed targets only report.
const { spawn, execFileSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { render, targets } = require('./report')

const quick = process.argv.includes('--quick')
// --only=s1 (development): one scenario, printed, nothing written.
const only = (process.argv.find((a) => a.startsWith('--only=')) || '').slice(7)
const PLUGIN = 'fastify-ws-notify'
const CONTENDERS = [PLUGIN, 'ws-limit', 'old-way', 'socket.io']
// Three rounds; --quick runs one (CI checks the bench still runs and counts right).
const ROUNDS = quick ? 1 : 3

// Scenario sizes. --quick keeps every scenario and contender, with fewer sockets and frames.
const SIZES = quick
  ? { s1: [500], deliveries: 10_000, s2: 500, s2Ms: 500, s5: 50, s5Ms: [400, 800], s5Rate: 400, s6: 500, s6Ms: 500, s6Bursts: 1 }
  : { s1: [1000, 10_000], deliveries: 60_000, s2: 5000, s2Ms: 1500, s5: 200, s5Ms: [600, 1500], s5Rate: 400, s6: 10_000, s6Ms: 1000, s6Bursts: 3 }
const PAYLOADS = [100, 1024]
const BURSTS = [1, 20]
const S5_PAYLOAD = 8192

function hasTaskset () {
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' })
    return os.cpus().length >= 2
  } catch {
    return false
  }
}
const pinned = hasTaskset()

/** A child with a small RPC over IPC; pinned to `core` where taskset exists; fd limit raised. */
function child (script, args, core) {
  const node = [process.execPath, ...args, path.join(__dirname, script)].map((a) => `'${a}'`).join(' ')
  const pin = pinned ? `taskset -c ${core} ` : ''
  const proc = spawn('bash', ['-c', `ulimit -n 65536 2>/dev/null || true; exec ${pin}${node}`], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc']
  })
  let seq = 0
  const waiting = new Map()
  const exited = new Promise((resolve) => proc.once('exit', (code, signal) => {
    for (const { reject } of waiting.values()) reject(new Error(`${script} exited (${signal || code})`))
    resolve()
  }))
  proc.on('message', (message) => {
    const call = waiting.get(message.id)
    waiting.delete(message.id)
    if (message.ok) call.resolve(message.result)
    else call.reject(new Error(`${script}: ${message.error}`))
  })
  return {
    call (cmd, body = {}) {
      const id = ++seq
      return new Promise((resolve, reject) => {
        waiting.set(id, { resolve, reject })
        proc.send({ ...body, cmd, id })
      })
    },
    async stop () {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL')
      await exited
    }
  }
}

/** One server and one client process for one contender, `n` sockets connected and subscribed. */
// `options`: plugin options (S6); `dashboard`: one more socket on `all`, connected as the dashboard page.
async function session (contender, { n, groups = false, staller = false, options, dashboard = false }, body) {
  const server = child('server.js', ['--expose-gc'], 0)
  const clients = child('clients.js', [], 1)
  try {
    const { port } = await server.call('start', { contender, options })
    const empty = await server.call('memory')
    const c0 = Date.now()
    await clients.call('connect', { port, contender, n, channels: { groups }, staller, dashboard })
    if (process.env.BENCH_DEBUG) log(`${contender}: ${n} sockets connected in ${Date.now() - c0} ms`)
    const expect = { all: n + (staller ? 1 : 0) + (dashboard ? 1 : 0) }
    if (groups) for (let g = 0; g < 10; g++) expect[`g${g}`] = n / 10
    const { counts } = await server.call('count', { channels: Object.keys(expect) })
    for (const [channel, count] of Object.entries(expect)) {
      if (counts[channel] !== count) throw new Error(`${contender}: ${counts[channel]} subscribers on ${channel}, expected ${count}`)
    }
    return await body({ server, clients, empty, port })
  } finally {
    await Promise.all([server.stop(), clients.stop()])
  }
}

/** Publishes a burst, waits for every frame at the clients, and reads the server's CPU. */
async function measureBurst ({ server, clients }, { kind = 'channel', targets, perTick, ticks, size, expected, perClient }) {
  await clients.call('reset')
  const published = await server.call('burst', { kind, targets, perTick, ticks, size })
  const got = await clients.call('await', { total: expected, perClient, timeoutMs: 20_000 })
  const { cpuMicros, wallMicros } = await server.call('end')
  if (process.env.BENCH_DEBUG) log(`burst ${targets.length} x ${perTick} x ${ticks}, ${size} B: ${(wallMicros / 1000).toFixed(0)} ms wall, ${(cpuMicros / 1000).toFixed(0)} ms cpu`)
  if (published.deliveries !== expected) throw new Error(`server counted ${published.deliveries} deliveries, expected ${expected}`)
  return {
    nsPerDelivery: (cpuMicros * 1000) / expected,
    deliveriesPerSecond: expected / ((got.lastAt - published.t0) / 1e6)
  }
}

function median (values) {
  const sorted = values.filter((v) => typeof v === 'number').sort((a, b) => a - b)
  if (sorted.length === 0) return null
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

/** rows: {key: {contender: [sample objects]}} -> {key: {contender: {metric: median}}} */
function medians (samplesByKey) {
  const out = {}
  for (const [key, byContender] of Object.entries(samplesByKey)) {
    out[key] = {}
    for (const [contender, samples] of Object.entries(byContender)) {
      const metrics = {}
      for (const metric of Object.keys(samples[0])) metrics[metric] = median(samples.map((s) => s[metric]))
      out[key][contender] = metrics
    }
  }
  return out
}

function push (store, key, contender, sample) {
  store[key] ??= {}
  store[key][contender] ??= []
  store[key][contender].push(sample)
}

const t0 = Date.now()
const log = (...args) => console.log(`bench: [${((Date.now() - t0) / 1000).toFixed(1)} s]`, ...args)

/**
 * S1 at each size; the sessions of the largest size also hold S3 (sendTo, 10 small channels) and
 * S4 (idle memory, measured first): every socket is on `all`, one of 10 groups and its own id.
 */
async function s1s3s4 () {
  const s1 = {}
  const s3 = {}
  const s4 = {}
  const largest = SIZES.s1[SIZES.s1.length - 1]
  for (const n of SIZES.s1) {
    const ids = Array.from({ length: n }, (_, i) => `c${i}`)
    const groups = Array.from({ length: 10 }, (_, g) => `g${g}`)
    for (let round = 1; round <= ROUNDS; round++) {
      for (const contender of CONTENDERS) {
        await session(contender, { n, groups: true }, async (ctx) => {
          if (n === largest) {
            const idle = await ctx.server.call('memory')
            push(s4, `n=${n}`, contender, {
              rssPerConnection: (idle.rss - ctx.empty.rss) / n,
              heapPerConnection: (idle.heapUsed - ctx.empty.heapUsed) / n,
              externalPerConnection: (idle.external - ctx.empty.external) / n,
              timers: idle.timers
            })
          }
          for (const perTick of BURSTS) {
            for (const size of PAYLOADS) {
              const ticks = Math.max(1, Math.round(SIZES.deliveries / n / perTick))
              const expected = n * perTick * ticks
              const result = await measureBurst(ctx, { targets: ['all'], perTick, ticks, size, expected, perClient: perTick * ticks })
              push(s1, `n=${n} perTick=${perTick} payload=${size}`, contender, result)
            }
          }
          if (n === largest) {
            const ticks = Math.max(1, Math.round(SIZES.deliveries / n))
            push(s3, `sendTo to each of ${n}`, contender, await measureBurst(ctx, { kind: 'client', targets: ids, perTick: 1, ticks, size: 100, expected: n * ticks, perClient: ticks }))
            push(s3, 'notify each of 10 channels', contender, await measureBurst(ctx, { targets: groups, perTick: 1, ticks, size: 100, expected: n * ticks, perClient: ticks }))
          }
        })
        log(`S1${n === largest ? '/S3/S4' : ''} n=${n} round ${round} ${contender} done`)
      }
    }
  }
  return { s1: medians(s1), s3: medians(s3), s4: medians(s4) }
}

/** Fixed-rate publishing; latency of every frame read by the sampled clients. */
async function paced (ctx, { rate, durationMs, size, n }) {
  await ctx.clients.call('reset', { record: true })
  const server = await ctx.server.call('paced', { channel: 'all', rate, durationMs, size })
  const got = await ctx.clients.call('await', { total: server.sent * n, timeoutMs: 20_000 })
  return { server, latencyMs: got.latencyMs }
}

async function s2 (rate) {
  const n = SIZES.s2
  const samples = {}
  for (let round = 1; round <= ROUNDS; round++) {
    for (const contender of CONTENDERS) {
      await session(contender, { n }, async (ctx) => {
        await paced(ctx, { rate, durationMs: 300, size: 100, n }) // warm-up, not counted
        const { server, latencyMs } = await paced(ctx, { rate, durationMs: SIZES.s2Ms, size: 100, n })
        push(samples, `n=${n}`, contender, {
          p50Ms: latencyMs.p50,
          p99Ms: latencyMs.p99,
          maxMs: latencyMs.max,
          loopDelayP99Ms: server.eventLoopDelayMs.p99,
          loopDelayMaxMs: server.eventLoopDelayMs.max
        })
      })
      log(`S2 n=${n} round ${round} ${contender} done`)
    }
  }
  return medians(samples)
}

async function s5 () {
  const n = SIZES.s5
  const samples = {}
  const [calmMs, stallMs] = SIZES.s5Ms
  for (let round = 1; round <= ROUNDS; round++) {
    for (const contender of CONTENDERS) {
      await session(contender, { n, staller: true }, async (ctx) => {
        await paced(ctx, { rate: SIZES.s5Rate, durationMs: 300, size: S5_PAYLOAD, n }) // warm-up, not counted
        const calm = await paced(ctx, { rate: SIZES.s5Rate, durationMs: calmMs, size: S5_PAYLOAD, n })
        await ctx.clients.call('stall')
        const stalled = await paced(ctx, { rate: SIZES.s5Rate, durationMs: stallMs, size: S5_PAYLOAD, n })
        const memory = (key) => (stalled.server.memoryPeak[key] - calm.server.memoryBefore[key]) / 2 ** 20
        push(samples, `n=${n}`, contender, {
          p99CalmMs: calm.latencyMs.p99,
          p99StalledMs: stalled.latencyMs.p99,
          rssGrowthMiB: memory('rss'),
          buffersGrowthMiB: memory('external'),
          stallerOpenAtEnd: stalled.server.connections === n + 1 ? 1 : 0
        })
      })
      log(`S5 n=${n} round ${round} ${contender} done`)
    }
  }
  return medians(samples)
}

// S6: the plugin's S1 fan-out plain, with one dashboard open, and with metrics scraped.
const OBSERVED = [
  { variant: 'plain', options: undefined, dashboard: false, poll: null },
  { variant: 'dashboard', options: { dashboard: true }, dashboard: true, poll: '/ws/stats' },
  { variant: 'metrics', options: { metrics: true }, dashboard: false, poll: '/ws/metrics' }
]

/**
 * Each burst publishes back to back for s6Ms (not a fixed count), so the once-a-second reads fall
 * inside the CPU window: the poller restarts with each burst, its first read at the burst's start
 * (one read per 1000 ms burst: the page's own rate; 500 ms in --quick: twice it). A session's
 * sample is the median of its s6Bursts bursts; the variants' order rotates from round to round.
 */
async function s6 () {
  const n = SIZES.s6
  const samples = {}
  const burst = async (ctx, { variant, subscribers, poll, perTick }) => {
    await ctx.clients.call('reset')
    if (poll !== null) await ctx.clients.call('poll', { port: ctx.port, path: poll })
    const published = await ctx.server.call('burst', { kind: 'channel', targets: ['all'], perTick, size: 100, durationMs: SIZES.s6Ms })
    const expected = subscribers * perTick * published.ticks
    const got = await ctx.clients.call('await', { total: expected, perClient: perTick * published.ticks, timeoutMs: 20_000 })
    const { cpuMicros } = await ctx.server.call('end')
    if (poll !== null) await ctx.clients.call('poll', { path: null })
    if (published.deliveries !== expected) throw new Error(`S6 ${variant}: server counted ${published.deliveries} deliveries, expected ${expected}`)
    return { nsPerDelivery: (cpuMicros * 1000) / expected, deliveriesPerSecond: expected / ((got.lastAt - published.t0) / 1e6) }
  }
  for (let round = 1; round <= ROUNDS; round++) {
    for (let v = 0; v < OBSERVED.length; v++) {
      const { variant, options, dashboard, poll } = OBSERVED[(v + round - 1) % OBSERVED.length]
      await session(PLUGIN, { n, options, dashboard }, async (ctx) => {
        const subscribers = n + (dashboard ? 1 : 0)
        for (const perTick of BURSTS) {
          const bursts = []
          for (let b = 0; b < SIZES.s6Bursts; b++) bursts.push(await burst(ctx, { variant, subscribers, poll, perTick }))
          push(samples, `n=${n} perTick=${perTick} payload=100`, variant, medians({ s: { b: bursts } }).s.b)
        }
        await ctx.clients.call('reset') // fails the run on any error of the page's reads
      })
      log(`S6 n=${n} round ${round} ${variant} done`)
    }
  }
  // Medians over rounds, plus every round's plain figure for the spread.
  const out = {}
  for (const [key, byVariant] of Object.entries(medians(samples))) {
    out[key] = {}
    for (const { variant } of OBSERVED) out[key][variant] = byVariant[variant]
    out[key].plain.rounds = samples[key].plain.map((s) => s.nsPerDelivery)
  }
  return out
}

function versions () {
  const version = (name) => require(`${name}/package.json`).version
  return {
    node: process.version,
    'fastify-ws-notify': require('../package.json').version,
    fastify: version('fastify'),
    '@fastify/websocket': version('@fastify/websocket'),
    ws: version('ws'),
    'socket.io': version('socket.io')
  }
}

async function main () {
  const started = Date.now()
  log(`${quick ? 'quick' : 'full'} run, ${ROUNDS} rounds, ${pinned ? 'server on core 0, clients on core 1' : 'not pinned (no taskset or one core)'}`)
  const results = {
    date: new Date().toISOString(),
    mode: quick ? 'quick' : 'full',
    machine: { cpu: os.cpus()[0].model, cores: os.cpus().length, memoryGiB: Math.round(os.totalmem() / 2 ** 30), os: `${os.type()} ${os.release()}`, pinned },
    versions: versions(),
    rounds: ROUNDS,
    sizes: SIZES,
    scenarios: {}
  }
  if (only === 's5') return console.log(JSON.stringify(await s5(), null, 1))
  if (only === 's6') {
    results.scenarios.s6 = await s6()
    console.log(JSON.stringify(results.scenarios.s6, null, 1))
    for (const t of targets(results)) console.log(`${t.ok ? 'met   ' : 'MISSED'} ${t.name}: ${t.value}`)
    return
  }
  const { s1, s3, s4 } = await s1s3s4()
  results.scenarios.s1 = s1
  // S2's rate: half of the slowest contender's measured maximum at 1 notification per tick.
  const largest = `n=${SIZES.s1[SIZES.s1.length - 1]} perTick=1 payload=100`
  const slowest = Math.min(...Object.values(results.scenarios.s1[largest]).map((m) => m.deliveriesPerSecond))
  const rate = Math.max(1, Math.floor(slowest / 2 / SIZES.s2))
  results.s2Rate = rate
  results.scenarios.s2 = await s2(rate)
  results.scenarios.s3 = s3
  results.scenarios.s4 = s4
  results.scenarios.s5 = await s5()
  results.scenarios.s6 = await s6()
  results.durationSeconds = Math.round((Date.now() - started) / 1000)
  // A quick run (CI) must not dirty the tree: its results go to the temp directory.
  const file = quick ? path.join(os.tmpdir(), 'fastify-ws-notify-bench.quick.json') : path.join(__dirname, 'results.json')
  fs.writeFileSync(file, JSON.stringify(results, null, 2) + '\n')
  const report = render(results)
  console.log(report.summary)
  if (!quick) report.write()
  log(`done in ${results.durationSeconds} s; results in ${file}`)
}

main().catch((err) => {
  console.error('bench: FAILED:', err.stack || err)
  process.exit(1)
})
