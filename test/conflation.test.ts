// Conflation (issue 15, part 1): on a `delivery: 'latest'` channel, a subscriber that stops
// reading is not queued every update: once its socket is behind, the newest message per
// `conflateBy` key is held for it, and written when it reads again. It is not closed as a slow
// consumer, every other subscriber still gets every message, and stats count what was conflated.
import { test, type Test } from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import WebSocket from 'ws'
import type { Socket } from 'node:net'
import notifications from '../lib/index'
import { waitUntil, within } from './helper'
import { watchHeld } from './conflation-helper'

const MESSAGE_BYTES = 64 * 1024
/** Enough to fill any loopback kernel buffer many times over, if the slow socket never got behind. */
const MAX_ROUNDS = 400
const PAD = 'x'.repeat(MESSAGE_BYTES)
const KEYS = ['q1', 'q2']

interface Update { query_id: string, seq: number }

/** A real client that keeps each update's key and seq, not its payload. */
class Reader {
  readonly ws: WebSocket
  readonly updates: Update[] = []
  readonly control: Array<Record<string, unknown>> = []
  readonly opened: Promise<void>

  constructor (url: string, query = '') {
    this.ws = new WebSocket(`${url}/ws${query}`)
    this.ws.on('error', () => {})
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve())
      this.ws.once('error', reject)
    })
    this.ws.on('message', (raw) => {
      const frame = JSON.parse(raw.toString()) as { type: string, data?: Update }
      if (frame.type === 'progress') this.updates.push({ query_id: (frame.data as Update).query_id, seq: (frame.data as Update).seq })
      else this.control.push(frame)
    })
  }

  /** The TCP socket under the ws client: pausing it makes a peer that stops reading. */
  get tcp (): Socket {
    return (this.ws as unknown as { _socket: Socket })._socket
  }

  async subscribe (channel: string): Promise<void> {
    this.ws.send(JSON.stringify({ action: 'subscribe', channel }))
    await waitUntil(() => this.control.some((frame) => frame.type === 'subscribed'), 'subscribed')
  }

  last (key: string): number | undefined {
    return this.updates.filter((update) => update.query_id === key).at(-1)?.seq
  }
}

async function setup (t: Test): Promise<{ app: FastifyInstance, url: string }> {
  const app = Fastify()
  await app.register(notifications, {
    channels: { search_progress: { delivery: 'latest', conflateBy: 'query_id' } },
    heartbeatInterval: 0,
    closeTimeout: 25_000
  })
  const address = await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(async () => { await app.close() })
  return { app, url: address.replace('http', 'ws') }
}

test('a paused reader on a latest channel gets only the newest update per key, is not closed; others get everything', async (t) => {
  const { app, url } = await setup(t)
  const slow = new Reader(url)
  const healthy = [new Reader(url), new Reader(url)]
  t.teardown(() => { for (const reader of [slow, ...healthy]) reader.ws.terminate() })
  for (const reader of [slow, ...healthy]) {
    await reader.opened
    await reader.subscribe('search_progress')
  }
  const port = slow.tcp.localPort
  const slowServerSide = [...app.websocketServer.clients].find((ws) => (ws as unknown as { _socket: Socket })._socket.remotePort === port)
  if (slowServerSide === undefined) throw new Error('no server side for the slow client')
  const slowTcp = (slowServerSide as unknown as { _socket: Socket })._socket
  slow.tcp.pause()

  let seq = 0
  const publish = async (): Promise<void> => {
    // One update per key, then the healthy readers catch up: only the paused one is ever behind.
    for (const key of KEYS) await app.notify('search_progress', 'progress', { query_id: key, seq: seq++, pad: PAD })
    for (const reader of healthy) await waitUntil(() => reader.updates.length === seq, 'a healthy reader to catch up', 15_000)
  }
  // Until the paused socket is behind (the kernel's buffers full), then well past it.
  let rounds = 0
  while (!slowTcp.writableNeedDrain && rounds < MAX_ROUNDS) {
    await publish()
    rounds++
  }
  t.ok(slowTcp.writableNeedDrain, `the paused socket fell behind after ${rounds} rounds`)
  for (let i = 0; i < 50; i++) await publish()
  const lastOf = (key: string): number => seq - KEYS.length + KEYS.indexOf(key)

  const stats = app.notifications.stats()
  t.ok(stats.messages_conflated >= 90, `${stats.messages_conflated} updates were conflated for the paused reader`)
  t.equal(stats.slow_consumers_closed, 0, 'it was not closed as a slow consumer')
  t.equal(stats.messages_dropped, 0, 'and nothing was dropped')
  t.equal(stats.total_clients, 3, 'it is still connected')
  t.ok(slowTcp.writableLength < 8 * MESSAGE_BYTES, `its queue stayed bounded (${slowTcp.writableLength} bytes), not ${50 * KEYS.length} updates`)
  for (const [i, reader] of healthy.entries()) {
    t.same(reader.updates.map((update) => update.seq), [...Array(seq).keys()], `healthy reader ${i} got every update, in order`)
  }

  slow.tcp.resume()
  for (const key of KEYS) await waitUntil(() => slow.last(key) === lastOf(key), `the paused reader to get the newest ${key}`, 15_000)
  t.equal(slowServerSide.readyState, WebSocket.OPEN, 'its socket is open')
  for (const key of KEYS) {
    const seqs = slow.updates.filter((update) => update.query_id === key).map((update) => update.seq)
    t.ok(seqs.every((value, i) => i === 0 || value > seqs[i - 1]), `its ${key} updates arrived in order`)
  }
  // Everything it got before falling behind, then one (the newest) per key.
  t.equal(slow.updates.length, seq - stats.messages_conflated, 'it got every update but the conflated ones')
  const after = app.notifications.stats()
  t.equal(after.total_messages_sent, seq * 3 - after.messages_conflated, 'sent counts every update written, the held ones once released')

  // It reads again: later updates reach it directly, nothing more is conflated.
  await publish()
  for (const key of KEYS) await waitUntil(() => slow.last(key) === lastOf(key), `the reader to get the next ${key}`)
  t.equal(app.notifications.stats().messages_conflated, stats.messages_conflated, 'a reader that keeps up is not conflated')
})

test('what is held for a socket that is behind is one message per key: 1 000 updates over 3 keys, at most 3 held', async (t) => {
  const held = watchHeld(t)
  const { app, url } = await setup(t)
  const slow = new Reader(url)
  t.teardown(() => slow.ws.terminate())
  await slow.opened
  await slow.subscribe('search_progress')
  slow.tcp.pause()
  const keys = ['q1', 'q2', 'q3']
  // A turn of the event loop after each update: its frame is handed to the socket before the next.
  const publish = async (seq: number): Promise<void> => {
    await app.notify('search_progress', 'progress', { query_id: keys[seq % keys.length], seq, pad: PAD })
    await new Promise((resolve) => setImmediate(resolve))
  }
  let seq = 0
  for (; app.notifications.stats().messages_conflated === 0 && seq < MAX_ROUNDS; seq++) await publish(seq)
  t.ok(app.notifications.stats().messages_conflated > 0, `the paused socket fell behind after ${seq} updates`)
  for (const end = seq + 1000; seq < end; seq++) await publish(seq)

  const [side] = held.peak.keys()
  t.equal(held.peak.size, 1, 'conflation held for the one paused socket')
  t.ok((held.peak.get(side) ?? 0) <= keys.length, `at most one message per key held at once (${held.peak.get(side) ?? 0})`)
  t.equal(held.now(side), keys.length, 'one per key held now')
  const stats = app.notifications.stats()
  t.equal(stats.total_messages_sent + stats.messages_conflated + held.now(side), seq,
    'each update was written, replaced (messages_conflated) or is held: none lost or counted twice')
  t.equal(stats.slow_consumers_closed, 0, 'never counted as a slow consumer')
})

test('messages_conflated is in /ws/stats and /ws/metrics', async (t) => {
  const app = Fastify()
  await app.register(notifications, { channels: { p: { delivery: 'latest' } }, metrics: true })
  t.teardown(async () => { await app.close() })
  const stats = await app.inject('/ws/stats')
  t.equal(stats.json().messages_conflated, 0, 'stats: messages_conflated')
  const metrics = await app.inject('/ws/metrics')
  t.match(metrics.body, /ws_notify_messages_conflated_total 0/, 'metrics: messages_conflated_total')
})

test('delivery and conflateBy are validated at registration', async (t) => {
  const cases: Array<[unknown, RegExp]> = [
    [{ delivery: 'some' }, /channels\.c\.delivery must be "all" or "latest"; got string "some"/],
    [{ delivery: 'latest', conflateBy: 5 }, /channels\.c\.conflateBy must be the name of a data field .*got number 5/],
    [{ delivery: 'latest', conflateBy: '' }, /channels\.c\.conflateBy must be the name of a data field/],
    [{ conflateBy: 'query_id' }, /channels\.c\.conflateBy needs delivery: "latest"/],
    [{ delivery: 'all', conflateBy: 'query_id' }, /channels\.c\.conflateBy needs delivery: "latest"/]
  ]
  for (const [declaration, message] of cases) {
    const app = Fastify()
    await t.rejects(async () => await app.register(notifications, { channels: { c: declaration as object } }).ready(), { code: 'FST_WS_NOTIFY_INVALID_OPTION', message })
    await app.close()
  }
  const app = Fastify()
  await app.register(notifications, { channels: { c: { delivery: 'latest', conflateBy: 'query_id' }, d: { delivery: 'all' } } })
  await app.ready()
  t.pass('delivery "latest" with conflateBy, and "all", are accepted')
  await app.close()
})

test('a reader that leaves while updates are held for it is removed cleanly, never counted as a slow consumer', async (t) => {
  const { app, url } = await setup(t)
  const slow = new Reader(url)
  await slow.opened
  await slow.subscribe('search_progress')
  slow.tcp.pause()
  const serverSide = [...app.websocketServer.clients][0] as unknown as { _socket: Socket }
  let seq = 0
  for (let i = 0; i < MAX_ROUNDS && app.notifications.stats().messages_conflated === 0; i++) {
    await app.notify('search_progress', 'progress', { query_id: 'q1', seq: seq++, pad: PAD })
    await new Promise((resolve) => setImmediate(resolve))
  }
  t.ok(app.notifications.stats().messages_conflated > 0, 'updates were conflated for the paused reader')
  t.ok(serverSide._socket.writableNeedDrain, 'its socket is behind')
  slow.ws.terminate()
  await within(new Promise((resolve) => slow.ws.once('close', resolve)), 'the reader to close')
  await waitUntil(() => app.notifications.stats().total_clients === 0, 'the server to see it gone')
  t.equal(app.notifications.stats().slow_consumers_closed, 0, 'never counted as a slow consumer')
})

test('on namespaces the most specific declaration decides: user:admin:1 of an "all" user:admin:* is never conflated under a latest user:*', async (t) => {
  const app = Fastify()
  await app.register(notifications, {
    channels: { 'user:*': { delivery: 'latest' }, 'user:admin:*': {} },
    authenticate: async (request) => (request.query as { user?: string }).user ?? null,
    heartbeatInterval: 0,
    maxBufferedBytes: 64 * 1024 * 1024
  })
  const address = await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(async () => { await app.close() })
  const url = address.replace('http', 'ws')
  // Identity 1 owns user:admin:1 (namespace user:admin:*); identity 7 owns user:7 (user:*).
  const admin = new Reader(url, '?user=1')
  const user = new Reader(url, '?user=7')
  t.teardown(() => { admin.ws.terminate(); user.ws.terminate() })
  await admin.opened
  await user.opened
  await admin.subscribe('user:admin:1')
  await user.subscribe('user:7')
  admin.tcp.pause()
  user.tcp.pause()
  const serverTcp = (reader: Reader): Socket => {
    const port = reader.tcp.localPort
    const side = [...app.websocketServer.clients].find((ws) => (ws as unknown as { _socket: Socket })._socket.remotePort === port)
    if (side === undefined) throw new Error('no server side')
    return (side as unknown as { _socket: Socket })._socket
  }
  const adminTcp = serverTcp(admin)
  const userTcp = serverTcp(user)
  let seq = 0
  for (let i = 0; i < MAX_ROUNDS && !(adminTcp.writableNeedDrain && userTcp.writableNeedDrain); i++) {
    await app.notify('user:admin:1', 'progress', { seq, pad: PAD })
    await app.notify('user:7', 'progress', { seq: seq++, pad: PAD })
    await new Promise((resolve) => setImmediate(resolve))
  }
  t.ok(adminTcp.writableNeedDrain && userTcp.writableNeedDrain, `both paused sockets fell behind after ${seq} rounds`)
  const queuedBefore = adminTcp.writableLength
  const conflatedBefore = app.notifications.stats().messages_conflated
  for (let i = 0; i < 20; i++) {
    await app.notify('user:admin:1', 'progress', { seq, pad: PAD })
    await app.notify('user:7', 'progress', { seq: seq++, pad: PAD })
  }
  await new Promise((resolve) => setImmediate(resolve)) // the tick's frames are handed to the sockets
  t.ok(adminTcp.writableLength >= queuedBefore + 20 * MESSAGE_BYTES, `user:admin:1 ("all") queued every update (${queuedBefore} -> ${adminTcp.writableLength} bytes)`)
  t.ok(app.notifications.stats().messages_conflated >= conflatedBefore + 19, 'user:7 (latest) was conflated')
  t.ok(userTcp.writableLength < queuedBefore + 2 * MESSAGE_BYTES, 'and its queue did not grow by 20 updates')
})
