// Slow consumers: one client stops reading (its TCP socket is paused, so the kernel buffers fill and
// the server's own queue for it grows) while the server notifies 50 MiB in 64 KiB messages. The
// server's queue for that socket never exceeds maxBufferedBytes (default 1 MiB) plus one message,
// process memory stays bounded, every other client receives every message in order, and the slow
// one is closed with 1013 ('close', the default) or skipped and counted ('drop').
import { test, type Test } from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import WebSocket from 'ws'
import type { Socket } from 'node:net'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import notifications from '../lib/index'
import type { NotificationStats } from '../types/index'
import { sleep, waitUntil, within } from './helper'

const MiB = 1024 * 1024
/** The plugin's default maxBufferedBytes: the tests below do not set it. */
const MAX_BUFFERED_BYTES = MiB
const MESSAGE_BYTES = 64 * 1024
const TOTAL_BYTES = 50 * MiB
const MESSAGES = TOTAL_BYTES / MESSAGE_BYTES
/**
 * Messages per batch: 8 x 64 KiB stays under maxBufferedBytes, and the next batch waits until the
 * healthy clients have read this one, so only the paused client is ever over the bound.
 */
const BATCH = 8
/**
 * A batch is notified within one event-loop turn: a burst of the application's own, written whole
 * (docs/delivery.md, the bound). So the queue may end one burst past the bound, and does when the
 * kernel took part of an earlier write: the native fan-out leaves only the rest in the stream,
 * where Node's own write path counts a partly written chunk whole until it completes.
 */
const BURST_BYTES = BATCH * (MESSAGE_BYTES + 256)
const HEALTHY = 3
/** The close frame (code and 'slow consumer') queued behind the last message written. */
const CLOSE_FRAME_BYTES = 64
const CHUNK = 'x'.repeat(MESSAGE_BYTES)

// tap starts tests without --expose-gc; this is how jest's leak detector gets gc() at run time.
// Retained memory is read after a collection, so garbage not yet collected cannot hide a leak.
setFlagsFromString('--expose-gc')
const collectGarbage = runInNewContext('gc') as () => void

/**
 * ArrayBuffer memory still held after collections. V8 frees the memory of dead array buffers on
 * a background thread after a collection: read at once, under load, the figure still counted up
 * to 17 MiB of the flood's garbage (1.1 MiB 20 ms later). So: the least of five collections,
 * 20 ms apart. What is really held (a queue that grew without bound) shows in every one of them.
 */
async function heldArrayBuffers (): Promise<number> {
  let least = Infinity
  for (let pass = 0; pass < 5; pass++) {
    if (pass > 0) await sleep(20)
    collectGarbage()
    least = Math.min(least, process.memoryUsage().arrayBuffers)
  }
  return least
}

/**
 * A real client that keeps only what the test checks (each message's seq, control frames), not
 * the 64 KiB payloads: the test process must not hold 50 MiB per client itself.
 */
class Reader {
  readonly ws: WebSocket
  readonly seqs: number[] = []
  readonly control: Array<Record<string, unknown>> = []
  /** Messages whose payload did not arrive intact. */
  corrupt = 0
  readonly opened: Promise<void>
  readonly closed: Promise<{ code: number, reason: string }>

  constructor (url: string) {
    this.ws = new WebSocket(`${url}/ws`)
    this.ws.on('error', () => {})
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve())
      this.ws.once('error', reject)
    })
    this.closed = new Promise((resolve) => this.ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })))
    this.ws.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as { type: string, data?: { seq: number, chunk?: string } }
      if (frame.type === 'chunk' || frame.type === 'after') {
        const { seq, chunk } = frame.data as { seq: number, chunk?: string }
        if (frame.type === 'chunk' && chunk !== CHUNK) this.corrupt++
        this.seqs.push(seq)
      } else {
        this.control.push(frame)
      }
    })
  }

  /** The TCP socket under the ws client (ws internals): pausing it makes a peer that stops reading. */
  get tcp (): Socket {
    return (this.ws as unknown as { _socket: Socket })._socket
  }

  async waitForSeqs (count: number, what: string, timeout = 15_000): Promise<void> {
    await waitUntil(() => this.seqs.length >= count, what, timeout)
  }

  async subscribe (channel: string): Promise<void> {
    this.ws.send(JSON.stringify({ action: 'subscribe', channel }))
    await waitUntil(() => this.control.some((frame) => frame.type === 'subscribed'), 'subscribed')
  }
}

/** Strictly increasing: in order, no duplicates. */
function increasing (seqs: readonly number[]): boolean {
  return seqs.every((seq, i) => i === 0 || seq > seqs[i - 1])
}

interface Setup {
  app: FastifyInstance
  healthy: Reader[]
  slow: Reader
  /** The server side of the slow client's socket. */
  slowServerSide: WebSocket
}

async function setup (t: Test, slowConsumer: 'close' | 'drop'): Promise<Setup> {
  const app = Fastify()
  // closeTimeout well past the flood, so the closed slow client still reads its 1013 once it
  // resumes; heartbeat off, so no ping or idle close plays a part.
  await app.register(notifications, { channels: ['alpha'], slowConsumer, closeTimeout: 25_000, heartbeatInterval: 0 })
  const address = await app.listen({ port: 0, host: '127.0.0.1' })
  const url = address.replace('http', 'ws')
  const slow = new Reader(url)
  const healthy = Array.from({ length: HEALTHY }, () => new Reader(url))
  // Clients first, then the app: a paused client must not hold app.close() for closeTimeout.
  t.teardown(async () => {
    for (const reader of [slow, ...healthy]) reader.ws.terminate()
    await app.close()
  })
  for (const reader of [slow, ...healthy]) {
    await reader.opened
    await reader.subscribe('alpha')
  }
  const port = slow.tcp.localPort
  const slowServerSide = [...app.websocketServer.clients]
    .find((ws) => (ws as unknown as { _socket: Socket })._socket.remotePort === port)
  if (slowServerSide === undefined) throw new Error('no server side for the slow client')
  return { app, healthy, slow, slowServerSide }
}

interface Flood {
  /** Largest bufferedAmount of the slow client's server side, read right after each write. */
  maxSlowBuffered: number
  /** Buffers still held after a collection at the end of the flood, less those held before it. */
  retainedBuffers: number
  /** Largest growth over the flood of process memory figures, in bytes. */
  rssGrowth: number
  heapGrowth: number
  arrayBuffersGrowth: number
  /** Stats read in the tick the slow client was closed (close policy only). */
  atClose: NotificationStats | null
}

/** Notifies MESSAGES x 64 KiB to 'alpha', paced by the healthy readers, with the slow one paused. */
async function flood ({ app, healthy, slowServerSide }: Setup): Promise<Flood> {
  const baselineBuffers = await heldArrayBuffers()
  const baseline = process.memoryUsage()
  const result: Flood = { maxSlowBuffered: 0, retainedBuffers: 0, rssGrowth: 0, heapGrowth: 0, arrayBuffersGrowth: 0, atClose: null }
  for (let first = 0; first < MESSAGES; first += BATCH) {
    const sends: Array<Promise<number>> = []
    for (let seq = first; seq < first + BATCH; seq++) {
      // The memory adapter delivers within this call: the bytes are now queued, not yet flushed.
      sends.push(app.notify('alpha', 'chunk', { seq, chunk: CHUNK }))
      result.maxSlowBuffered = Math.max(result.maxSlowBuffered, slowServerSide.bufferedAmount)
      if (result.atClose === null && app.notifications.stats().slow_consumers_closed > 0) result.atClose = app.notifications.stats()
    }
    await Promise.all(sends)
    for (const reader of healthy) await reader.waitForSeqs(first + BATCH, `a healthy client to read message ${first + BATCH - 1}`)
    const memory = process.memoryUsage()
    result.rssGrowth = Math.max(result.rssGrowth, memory.rss - baseline.rss)
    result.heapGrowth = Math.max(result.heapGrowth, memory.heapUsed - baseline.heapUsed)
    result.arrayBuffersGrowth = Math.max(result.arrayBuffersGrowth, memory.arrayBuffers - baseline.arrayBuffers)
  }
  // The slow client is still paused: whatever the server queued for it is still held.
  result.retainedBuffers = await heldArrayBuffers() - baselineBuffers
  return result
}

/**
 * Bounds on the whole process (server and clients). Unbounded, the paused socket alone would
 * hold some 45 MiB of frames (50 MiB less what the kernel buffers take). The peaks include garbage
 * not yet collected, hence their generous margins; what is retained after a collection is tight.
 */
function checkMemory (t: Test, result: Flood): void {
  const mib = (bytes: number): string => (bytes / MiB).toFixed(1)
  t.ok(result.retainedBuffers < 8 * MiB, `buffers held after the flood, paused client included: ${mib(result.retainedBuffers)} MiB (< 8)`)
  t.ok(result.arrayBuffersGrowth < 40 * MiB, `buffers grew at most ${mib(result.arrayBuffersGrowth)} MiB (< 40) while 50 MiB were sent`)
  t.ok(result.heapGrowth < 64 * MiB, `heap grew at most ${mib(result.heapGrowth)} MiB (< 64)`)
  t.ok(result.rssGrowth < 128 * MiB, `RSS grew at most ${mib(result.rssGrowth)} MiB (< 128)`)
}

function checkHealthy (t: Test, healthy: Reader[], count: number): void {
  for (const [i, reader] of healthy.entries()) {
    t.same(reader.seqs, [...Array(count).keys()], `healthy client ${i} received every message, in order`)
    t.equal(reader.corrupt, 0, `healthy client ${i}: every payload intact`)
    t.ok(reader.control.every((frame) => frame.type === 'connected' || frame.type === 'subscribed'), `healthy client ${i}: no error`)
  }
}

test('slowConsumer "close" (default): a paused client is closed with 1013; memory stays bounded; others get all 50 MiB', async (t) => {
  const setupResult = await setup(t, 'close')
  const { app, healthy, slow, slowServerSide } = setupResult
  slow.tcp.pause()
  const result = await flood(setupResult)

  t.ok(result.maxSlowBuffered <= MAX_BUFFERED_BYTES + BURST_BYTES + CLOSE_FRAME_BYTES,
    `the paused socket's queue peaked at ${result.maxSlowBuffered} bytes (maxBufferedBytes plus one burst at most)`)
  t.ok(result.maxSlowBuffered > MAX_BUFFERED_BYTES, 'and did reach the bound: the slow path was taken')
  checkMemory(t, result)
  checkHealthy(t, healthy, MESSAGES)

  t.ok(result.atClose !== null, 'the slow client was closed during the flood')
  t.equal(result.atClose?.total_clients, HEALTHY, 'removed from stats in the tick it was closed')
  t.same(result.atClose?.channel_stats, { alpha: HEALTHY }, 'and from its channel')
  const stats = app.notifications.stats()
  t.equal(stats.slow_consumers_closed, 1, 'counted once')
  t.equal(stats.messages_dropped, 1, 'the one message it could not take is counted as dropped')
  t.equal(stats.total_clients, HEALTHY, 'the healthy clients are all still connected')
  t.not(slowServerSide.readyState, WebSocket.OPEN, 'its server side is closing')

  slow.tcp.resume()
  const { code, reason } = await within(slow.closed, 'the slow client to read its close', 20_000)
  t.equal(code, 1013, 'once it reads again it sees 1013 (try again later)')
  t.equal(reason, 'slow consumer', 'with the reason')
  const written = slow.seqs.length
  t.same(slow.seqs, [...Array(written).keys()], 'what it was sent before the close arrived whole and in order')
  t.ok(written < MESSAGES, `it was written ${written} of ${MESSAGES} messages`)
  t.equal(stats.total_messages_sent, MESSAGES * HEALTHY + written, 'every message was either written or counted as dropped')
})

test('slowConsumer "drop": a paused client stays, its messages are skipped and counted; it receives again once it reads', async (t) => {
  const setupResult = await setup(t, 'drop')
  const { app, healthy, slow, slowServerSide } = setupResult
  slow.tcp.pause()
  const result = await flood(setupResult)

  t.ok(result.maxSlowBuffered <= MAX_BUFFERED_BYTES + BURST_BYTES,
    `the paused socket's queue peaked at ${result.maxSlowBuffered} bytes (maxBufferedBytes plus one burst at most)`)
  t.ok(result.maxSlowBuffered > MAX_BUFFERED_BYTES, 'and did reach the bound: the slow path was taken')
  checkMemory(t, result)
  checkHealthy(t, healthy, MESSAGES)

  const stats = app.notifications.stats()
  t.equal(stats.slow_consumers_closed, 0, 'nobody was closed')
  t.equal(stats.total_clients, HEALTHY + 1, 'the slow client is still connected')
  t.same(stats.channel_stats, { alpha: HEALTHY + 1 }, 'and still subscribed')
  t.ok(stats.messages_dropped > MESSAGES / 2, `${stats.messages_dropped} messages were skipped for it`)
  t.equal(stats.total_messages_sent, MESSAGES * (HEALTHY + 1) - stats.messages_dropped, 'every message was either written or counted as dropped')
  t.equal(slowServerSide.readyState, WebSocket.OPEN, 'its server side is open')

  slow.tcp.resume()
  const kept = MESSAGES - stats.messages_dropped
  await slow.waitForSeqs(kept, 'the slow client to read what was queued for it')
  t.ok(increasing(slow.seqs), 'what it was written arrived in order')
  t.equal(slow.corrupt, 0, 'with every payload intact')
  await waitUntil(() => slowServerSide.bufferedAmount === 0, 'its queue to drain')

  // Later messages reach it again, and nobody else lost anything.
  const AFTER = 5
  for (let seq = MESSAGES; seq < MESSAGES + AFTER; seq++) {
    t.equal(await app.notify('alpha', 'after', { seq }), HEALTHY + 1, `later message ${seq} is written to every client`)
  }
  await slow.waitForSeqs(kept + AFTER, 'the slow client to receive the later messages')
  t.same(slow.seqs.slice(kept), [...Array(AFTER).keys()].map((i) => MESSAGES + i), 'it receives every later message, in order')
  for (const reader of healthy) await reader.waitForSeqs(MESSAGES + AFTER, 'a healthy client to receive the later messages')
  checkHealthy(t, healthy, MESSAGES + AFTER)
  t.equal(app.notifications.stats().messages_dropped, stats.messages_dropped, 'nothing more was dropped')
})

// Regression: writes of one tick are handed to the socket together when the tick ends, so they
// all sit in its queue at once. A burst larger than maxBufferedBytes sent in one tick is the
// application's own, not a backlog the peer failed to read: a reader that keeps up must not be
// closed for it.
test('a burst larger than maxBufferedBytes in one tick reaches a reader that keeps up', async (t) => {
  const app = Fastify()
  await app.register(notifications, { channels: ['burst'], maxBufferedBytes: MiB })
  t.teardown(() => app.close())
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`)
  t.teardown(() => ws.terminate())
  let received = 0
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)))
  await new Promise<void>((resolve) => ws.on('message', (data) => {
    const frame = JSON.parse(data.toString()) as { type: string }
    if (frame.type === 'subscribed') resolve()
    if (frame.type === 'connected') ws.send(JSON.stringify({ action: 'subscribe', channel: 'burst' }))
    if (frame.type === 'chunk') received++
  }))

  const burst = 40 // 40 x 64 KiB = 2.5 MiB in one tick: 2.5 times the bound
  const sent = await Promise.all(Array.from({ length: burst }, (_, seq) => app.notify('burst', 'chunk', { seq, chunk: CHUNK })))
  t.same(sent, Array(burst).fill(1), 'every message of the burst was written')
  await waitUntil(() => received === burst, 'the whole burst arrives', 10_000)
  t.equal(received, burst, 'the reader got the whole burst')
  const stats = app.notifications.stats()
  t.equal(stats.slow_consumers_closed, 0)
  t.equal(stats.messages_dropped, 0)
  t.equal(ws.readyState, WebSocket.OPEN)
  ws.close()
  t.equal(await closed, 1005)
})
