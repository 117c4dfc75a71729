// Churn: 20 000 connect/subscribe/abrupt-destroy cycles (50 at a time; half are `ws` clients ended
// with ws.terminate(), half raw TCP clients that upgrade by hand and destroy their socket), then every map of the hub is empty and the heap,
// after global.gc(), is within a few MB of where it started. tap runs tests without --expose-gc, so
// this file spawns itself in a child `node --expose-gc` (with tap's TypeScript loader) that runs the
// server and the clients and reports its figures over IPC; the assertions are made here.
import { spawn } from 'node:child_process'
import { connect as connectTcp, type AddressInfo } from 'node:net'
import { setImmediate as turn } from 'node:timers/promises'
import Fastify from 'fastify'
import WebSocket from 'ws'
import notifications from '../lib/index'
import type { NotificationStats } from '../types/index'

const CHILD_FLAG = 'FASTIFY_WS_NOTIFY_CHURN_CHILD'
const CYCLES = 20_000
const CONCURRENCY = 50
/** Cycles run before the second heap reading: modules, JIT code and pools reach their steady size. */
const WARMUP = 3_000
const CHANNELS = ['alpha', 'beta', 'gamma']
const SHARED_IDS = 100
const MiB = 1024 * 1024
/** Under tap's 120 s per file, so a stuck child fails with its output rather than a bare timeout. */
const CHILD_TIMEOUT = 100_000

interface ChurnReport {
  stats: NotificationStats
  /** Sockets left in the ws server and under each client id that was used. */
  wsServerClients: number
  socketsUnderSharedIds: number
  /** Sockets written by notifications after the churn, per channel: must be 0. */
  deliveredAfter: number[]
  notified: number
  heap: { start: number, warm: number, end: number }
  failures: string[]
  seconds: number
}

/** One cycle with a `ws` client: connect, subscribe, then ws.terminate(). */
function wsCycle (url: string, i: number, query: string, failures: string[]): Promise<void> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${url}/ws${query}`)
    let subscribed = false
    // An abrupt end may surface as a socket error on either side; it is expected here.
    ws.on('error', () => {})
    ws.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as { type: string, id?: number }
      if (frame.type === 'connected') {
        ws.send(JSON.stringify({ action: 'subscribe', channel: CHANNELS[i % CHANNELS.length], id: i }))
      } else if (frame.type === 'subscribed' && frame.id === i) {
        subscribed = true
        ws.terminate()
      } else if (frame.type !== 'churn') {
        failures.push(`cycle ${i}: unexpected ${data.toString()}`)
      }
    })
    ws.on('close', (code) => {
      if (!subscribed) failures.push(`cycle ${i}: closed (${code}) before subscribed`)
      resolve()
    })
  })
}

/** A client-to-server text frame: FIN, opcode 1, masked with a zero key (payload unchanged). */
function clientTextFrame (text: string): Buffer {
  const payload = Buffer.from(text)
  if (payload.length > 125) throw new Error('only short frames here')
  return Buffer.concat([Buffer.from([0x81, 0x80 | payload.length, 0, 0, 0, 0]), payload])
}

/**
 * One cycle with a raw TCP client (about half the CPU of a `ws` client, and the server cannot tell
 * them apart): upgrade by hand, subscribe, then destroy the socket without a close frame.
 */
function rawCycle (port: number, i: number, query: string, failures: string[]): Promise<void> {
  return new Promise((resolve) => {
    const socket = connectTcp(port, '127.0.0.1')
    let received = ''
    let state: 'upgrading' | 'subscribing' | 'subscribed' = 'upgrading'
    socket.on('error', () => {})
    socket.write(`GET /ws${query} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n')
    socket.on('data', (chunk: Buffer) => {
      // Server frames are unmasked: their JSON appears as is in the byte stream.
      received += chunk.toString('latin1')
      if (state === 'upgrading' && received.includes('{"type":"connected"')) {
        if (!received.startsWith('HTTP/1.1 101')) failures.push(`cycle ${i}: upgrade refused: ${received.slice(0, 80)}`)
        state = 'subscribing'
        socket.write(clientTextFrame(JSON.stringify({ action: 'subscribe', channel: CHANNELS[i % CHANNELS.length], id: i })))
      } else if (state === 'subscribing' && received.includes(`{"type":"subscribed","channel":"${CHANNELS[i % CHANNELS.length]}"`)) {
        state = 'subscribed'
        socket.destroy()
      }
    })
    socket.on('close', () => {
      if (state !== 'subscribed') failures.push(`cycle ${i}: closed before subscribed: ${JSON.stringify(received.slice(0, 300))}`)
      resolve()
    })
  })
}

/** Cycle i: every third under a shared client id; even ones use `ws`, odd ones a raw socket. */
function cycle (url: string, port: number, i: number, failures: string[]): Promise<void> {
  const query = i % 3 === 0 ? `?client_id=churn-${i % SHARED_IDS}` : ''
  return i % 2 === 0 ? wsCycle(url, i, query, failures) : rawCycle(port, i, query, failures)
}

/** The child: server and clients in one `node --expose-gc` process. */
async function runChild (): Promise<ChurnReport> {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc === undefined) throw new Error('run with --expose-gc')
  const started = Date.now()
  const app = Fastify()
  await app.register(notifications, { channels: CHANNELS })
  const address = await app.listen({ port: 0, host: '127.0.0.1' })
  const url = address.replace('http', 'ws')
  const port = (app.server.address() as AddressInfo).port
  const failures: string[] = []

  async function heapAfterGc (): Promise<number> {
    // Closes the server has not seen yet still hold their sockets: wait for them first.
    for (let waited = 0; app.notifications.stats().total_clients > 0 || app.websocketServer.clients.size > 0; waited++) {
      if (waited > 1000) throw new Error(`${app.notifications.stats().total_clients} sockets never left the hub`)
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    for (let i = 0; i < 4; i++) {
      gc?.()
      await turn()
    }
    return process.memoryUsage().heapUsed
  }

  let next = 0
  let notified = 0
  async function worker (end: number): Promise<void> {
    while (next < end) {
      const i = next++
      await cycle(url, port, i, failures)
      // Notifications while sockets come and go: fan-out must cope with sockets that vanish.
      if (i % 100 === 0) {
        notified++
        app.notify(CHANNELS[i % CHANNELS.length], 'churn', { i }).catch((err: Error) => failures.push(`notify: ${err.message}`))
      }
    }
  }
  async function churn (end: number): Promise<void> {
    await Promise.all(Array.from({ length: CONCURRENCY }, () => worker(end)))
  }

  const start = await heapAfterGc()
  await churn(WARMUP)
  const warm = await heapAfterGc()
  await churn(CYCLES)
  const end = await heapAfterGc()

  let socketsUnderSharedIds = 0
  for (let k = 0; k < SHARED_IDS; k++) socketsUnderSharedIds += app.notifications.disconnect(`churn-${k}`)
  const deliveredAfter: number[] = []
  for (const channel of CHANNELS) deliveredAfter.push(await app.notify(channel, 'after', {}))
  const report: ChurnReport = {
    stats: app.notifications.stats(),
    wsServerClients: app.websocketServer.clients.size,
    socketsUnderSharedIds,
    deliveredAfter,
    notified,
    heap: { start, warm, end },
    failures: failures.slice(0, 20),
    seconds: (Date.now() - started) / 1000
  }
  await app.close()
  return report
}

if (process.env[CHILD_FLAG] === '1') {
  runChild().then((report) => {
    process.send?.(report, () => process.disconnect())
  }, (err: unknown) => {
    console.error(err)
    process.exitCode = 1
    process.disconnect()
  })
} else {
  // Loaded dynamically so the child never starts a tap run of its own.
  import('tap').then(({ test }) => {
    test(`${CYCLES} connect/subscribe/abrupt-destroy cycles: every map empty, heap back where it started`, async (t) => {
      // tap's TypeScript loader, exactly as tap passed it to this process; tap's other hooks stay out.
      const loader = process.execArgv.filter((arg) => arg.includes('@tapjs/typescript'))
      const env: NodeJS.ProcessEnv = { ...process.env, [CHILD_FLAG]: '1' }
      delete env.NODE_OPTIONS
      const child = spawn(process.execPath, ['--expose-gc', ...loader, __filename], { env, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] })
      t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
      // Anything the child prints is kept for the failure message, out of the TAP stream.
      let output = ''
      for (const stream of [child.stdout, child.stderr]) stream?.on('data', (chunk: Buffer) => { output += chunk.toString() })
      const report = await new Promise<ChurnReport>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no report within ${CHILD_TIMEOUT} ms:\n${output}`)), CHILD_TIMEOUT)
        child.once('message', (message) => { clearTimeout(timer); resolve(message as ChurnReport) })
        child.once('exit', (code, signal) => { clearTimeout(timer); reject(new Error(`child exited (${code ?? signal}) without a report:\n${output}`)) })
      })
      t.comment(`churn: ${report.seconds} s; heap start ${(report.heap.start / MiB).toFixed(1)} MiB, ` +
        `after warm-up ${(report.heap.warm / MiB).toFixed(1)} MiB, end ${(report.heap.end / MiB).toFixed(1)} MiB`)

      t.same(report.failures, [], 'every cycle connected, subscribed and ended as planned')
      const { stats } = report
      t.equal(stats.total_connections_ever, CYCLES, 'every socket was accepted once')
      t.equal(stats.total_clients, 0, 'no socket is left')
      t.equal(stats.total_channels, 0, 'no channel has a subscriber')
      t.same(stats.channel_stats, {}, 'channel_stats is empty')
      t.same(stats.active_channels, [], 'active_channels is empty')
      t.equal(report.wsServerClients, 0, 'the ws server tracks no socket')
      t.equal(report.socketsUnderSharedIds, 0, 'no socket is left under any client id')
      t.same(report.deliveredAfter, [0, 0, 0], 'no subscriber is left on any channel')
      t.equal(stats.notifications_published, report.notified + CHANNELS.length, 'every notify during the churn was published')
      // A leak of 100 bytes per socket would be 2 MB over these cycles.
      t.ok(report.heap.end - report.heap.warm < 2 * MiB, `heap after warm-up grew ${((report.heap.end - report.heap.warm) / MiB).toFixed(2)} MiB (< 2)`)
      t.ok(report.heap.end - report.heap.start < 5 * MiB, `heap since start grew ${((report.heap.end - report.heap.start) / MiB).toFixed(2)} MiB (< 5)`)
    })
  })
}
