// Issue 18: what a socket is sent in answer to its own frames (subscribed, unsubscribed, pong,
// error, and the replay of a resume) counts against maxBufferedBytes like a fan-out does. A client
// that stops reading (its TCP socket paused) and keeps sending resumes, pings or bad frames cannot
// make the server queue more than maxBufferedBytes plus one reply (with its replay) for it: it is
// closed with 1013 ('close'), or its replies are skipped and counted ('drop'). A resubscribe to a
// channel the socket already holds replays nothing.
import { test, type Test } from 'tap'
import type { WebSocket as ServerSocket } from 'ws'
import type { FastifyInstance } from 'fastify'
import { build, connect, sleep, tcpSocketOf, waitUntil, within, type Client } from './helper'
import type { NotificationsOptions } from '../types/index'

const KiB = 1024
const MiB = 1024 * KiB
const MAX_BUFFERED_BYTES = MiB
const KEPT = 300
const CHUNK = 'x'.repeat(16 * KiB)
/** One full replay of `kept`: KEPT messages of a little over 16 KiB each. */
const REPLAY_BYTES = KEPT * (CHUNK.length + 200)
/** The close frame and the headers of a few small replies. */
const SLACK = 4 * KiB

/** The server side of `client`'s socket. */
function serverSideOf (app: FastifyInstance, client: Client): ServerSocket {
  const port = tcpSocketOf(client).localPort
  const found = [...app.websocketServer.clients]
    .find((ws) => (ws as unknown as { _socket: { remotePort: number } })._socket.remotePort === port)
  if (found === undefined) throw new Error('no server side for the client')
  return found
}

/**
 * Samples the server side's queue every 5 ms until `done` holds or `timeout` passes (the old,
 * unbounded code never closes: the test then fails on the figures, not on a timeout).
 */
async function watchQueue (side: ServerSocket, done: () => boolean, timeout: number): Promise<{ peak: number, done: boolean }> {
  let peak = 0
  const deadline = Date.now() + timeout
  while (Date.now() < deadline) {
    peak = Math.max(peak, side.bufferedAmount)
    if (done()) return { peak, done: true }
    await sleep(5)
  }
  return { peak, done: done() }
}

interface Setup {
  app: FastifyInstance
  client: Client
  side: ServerSocket
  epoch: string
}

/**
 * A server whose `kept` holds KEPT messages (~4.9 MB), and one client subscribed to it (and to
 * `alpha` when `fill`), then paused; with `fill`, its kernel buffers are then filled (fillKernel).
 */
async function setup (t: Test, options: Partial<NotificationsOptions>, fill = false): Promise<Setup> {
  // closeTimeout past the test, so the paused client can still read its 1013 once it resumes;
  // no heartbeat and no rate limit, so nothing but the slow-consumer bound plays a part.
  const { app, url } = await build(t, {
    channels: { kept: { history: { size: KEPT } }, alpha: {} },
    closeTimeout: 20_000,
    heartbeatInterval: 0,
    rateLimit: false,
    ...options
  })
  for (let seq = 1; seq <= KEPT; seq++) await app.notify('kept', 'chunk', { seq, chunk: CHUNK })
  const client = await connect(t, url)
  const reply = await client.request({ action: 'subscribe', channel: 'kept' })
  t.match(reply, { type: 'subscribed', offset: KEPT })
  if (fill) await client.request({ action: 'subscribe', channel: 'alpha' })
  const side = serverSideOf(app, client)
  tcpSocketOf(client).pause()
  if (fill) await fillKernel(app, side, 'alpha')
  return { app, client, side, epoch: reply.epoch as string }
}

test('a paused client resending a resume on a channel it holds gets no replay again', async (t) => {
  const { app, client, side, epoch } = await setup(t, {}, true)
  // The kernel's buffers are full: what the server writes from now on shows in its queue.
  const before = side.bufferedAmount
  // Each one replayed the whole history again: 20 x 4.9 MB queued on one socket.
  for (let i = 0; i < 20; i++) client.ws.send(JSON.stringify({ action: 'subscribe', channel: 'kept', since: { epoch, offset: 0 }, id: i }))
  await waitUntil(() => side.bufferedAmount > before, 'the server to answer the first resubscribe')
  const { peak } = await watchQueue(side, () => false, 500)
  t.ok(peak - before < 8 * KiB, `the server queued ${peak - before} bytes for 20 resubscribes (< 8 KiB: replies only)`)
  t.equal(app.notifications.stats().slow_consumers_closed, 0, 'twenty small replies are no reason to close')
  tcpSocketOf(client).resume()
  await waitUntil(() => client.frames.some((frame) => frame.id === 19), 'the last reply', 15_000)
  const answers = client.frames.slice(3).filter((frame) => frame.type !== 'fill')
  t.same(answers.map((frame) => [frame.type, frame.id, frame.offset, frame.epoch, 'recovered' in frame]),
    Array.from({ length: 20 }, (_, i) => ['subscribed', i, KEPT, epoch, false]),
    'each is answered subscribed with the current position, no recovered, and nothing replayed')
  t.match(await client.request({ action: 'ping', id: 'last' }), { type: 'pong', id: 'last' }, 'no replayed message before the pong')
})

test('replays count against maxBufferedBytes: a paused client resuming over and over is closed with 1013', async (t) => {
  const { app, client, side, epoch } = await setup(t, {})
  // Unsubscribe then resume: each resume is a real one and replays the whole history.
  for (let i = 0; i < 12; i++) {
    client.ws.send(JSON.stringify({ action: 'unsubscribe', channel: 'kept' }))
    client.ws.send(JSON.stringify({ action: 'subscribe', channel: 'kept', since: { epoch, offset: 0 } }))
  }
  const { peak, done } = await watchQueue(side, () => app.notifications.stats().slow_consumers_closed > 0, 3000)
  t.ok(peak <= MAX_BUFFERED_BYTES + REPLAY_BYTES + SLACK,
    `the paused socket's queue peaked at ${(peak / MiB).toFixed(1)} MiB (maxBufferedBytes plus one replay at most: ` +
    `${((MAX_BUFFERED_BYTES + REPLAY_BYTES + SLACK) / MiB).toFixed(1)} MiB)`)
  t.ok(done, 'the slow consumer was closed')
  const stats = app.notifications.stats()
  t.equal(stats.slow_consumers_closed, 1, 'counted once')
  t.equal(stats.total_clients, 0, 'and removed at once')
  tcpSocketOf(client).resume()
  const { code, reason } = await within(client.closed, 'the client to read its close', 15_000)
  t.equal(code, 1013, 'once it reads again it sees 1013')
  t.equal(reason, 'slow consumer')
  const replayed = client.frames.filter((frame) => frame.type === 'chunk').length
  t.ok(replayed >= KEPT && replayed % KEPT === 0, `whole replays only: ${replayed / KEPT} of 12`)
  t.ok(replayed < 12 * KEPT, 'not every resume was replayed')
})

test('slowConsumer "drop": replies and replays past the bound are skipped and counted; the socket stays', async (t) => {
  const { app, client, side, epoch } = await setup(t, { slowConsumer: 'drop' })
  for (let i = 0; i < 12; i++) {
    client.ws.send(JSON.stringify({ action: 'unsubscribe', channel: 'kept', id: `u${i}` }))
    client.ws.send(JSON.stringify({ action: 'subscribe', channel: 'kept', since: { epoch, offset: 0 }, id: `s${i}` }))
  }
  const { peak } = await watchQueue(side, () => false, 1500)
  t.ok(peak <= MAX_BUFFERED_BYTES + REPLAY_BYTES + SLACK, `the paused socket's queue peaked at ${(peak / MiB).toFixed(1)} MiB`)
  const stats = app.notifications.stats()
  t.equal(stats.slow_consumers_closed, 0, 'nobody closed')
  t.equal(stats.total_clients, 1, 'the client is still connected')
  t.ok(stats.messages_dropped > KEPT, `${stats.messages_dropped} replies and replayed messages were skipped and counted`)

  tcpSocketOf(client).resume()
  // Answered once it reads again (a ping while its queue is still over the bound is dropped too).
  await waitUntil(() => side.bufferedAmount === 0, 'its queue to drain', 15_000)
  client.ws.send(JSON.stringify({ action: 'ping', id: 'after' }))
  await waitUntil(() => client.frames.some((frame) => frame.id === 'after'), 'the pong after everything queued', 15_000)
  const frames = client.frames.slice(2, -1)
  const replayed = frames.filter((frame) => frame.type === 'chunk')
  t.ok(replayed.length >= KEPT && replayed.length % KEPT === 0, `whole replays only: ${replayed.length / KEPT}`)
  // Each replay follows its own `subscribed` reply: a subscribe is answered whole or not at all.
  for (let i = 0; i < frames.length; i++) {
    if (frames[i].type !== 'subscribed') continue
    t.same(frames.slice(i + 1, i + 1 + KEPT).map((frame) => frame.data?.seq), Array.from({ length: KEPT }, (_, n) => n + 1),
      `the replay after the subscribed reply at ${i} is whole and in order`)
  }
  // Whether the last resume was answered or dropped, the socket agrees with what it was told.
  const joined = app.notifications.stats().channel_stats.kept === 1
  const answered = frames.some((frame) => frame.type === 'subscribed' && frame.id === 's11')
  t.equal(joined, answered, `the last subscribe was ${answered ? 'answered and joined' : 'dropped and did not join'}`)
  t.match(client.frames.at(-1), { type: 'pong', id: 'after' }, 'once it reads, it is answered again')
})

/**
 * Notifies 64 KiB messages on `channel` until the paused socket's kernel buffers are full and the
 * server's own queue for it starts to grow (by less than one message, under the bound): from then
 * on every byte written to it shows in that queue. Returns how many were sent.
 */
async function fillKernel (app: FastifyInstance, side: ServerSocket, channel: string): Promise<number> {
  const chunk = 'k'.repeat(64 * KiB)
  for (let sent = 1; sent <= 400; sent++) {
    await app.notify(channel, 'fill', { chunk })
    await sleep(2) // the frame is flushed and the kernel takes what it can
    if (side.bufferedAmount > 0) return sent
  }
  throw new Error('the kernel took 25 MiB: is the client really paused?')
}

// Many declared channels make each INVALID_CHANNEL error long (it lists available_channels).
const CHANNELS = Array.from({ length: 200 }, (_, i) => `a-channel-with-a-longish-name-${i}`)

test('error and pong replies count against maxBufferedBytes: a paused client sending bad frames is closed with 1013', async (t) => {
  const { app, url } = await build(t, { channels: [...CHANNELS, 'fill'], closeTimeout: 20_000, heartbeatInterval: 0, rateLimit: false })
  const client = await connect(t, url)
  await client.request({ action: 'subscribe', channel: 'fill' })
  const side = serverSideOf(app, client)
  tcpSocketOf(client).pause()
  await fillKernel(app, side, 'fill')
  const id = 'p'.repeat(64)
  // ~7 KiB of error and ~100 bytes of pong per pair, in batches of 50 pairs (some 360 KiB) 20 ms
  // apart: the kernel's buffers being full, the replies queue in the server, batch by batch.
  const closed = (): boolean => app.notifications.stats().slow_consumers_closed > 0
  let peak = 0
  for (let batch = 0; batch < 60 && !closed(); batch++) {
    for (let i = 0; i < 50; i++) {
      client.ws.send(JSON.stringify({ action: 'subscribe', channel: 'nope' }))
      client.ws.send(JSON.stringify({ action: 'ping', id }))
    }
    peak = Math.max(peak, (await watchQueue(side, closed, 20)).peak)
  }
  // Under load the server may still be reading the last batches.
  peak = Math.max(peak, (await watchQueue(side, closed, 10_000)).peak)
  peak = Math.max(peak, (await watchQueue(side, () => false, 100)).peak)
  t.ok(peak <= MAX_BUFFERED_BYTES + 16 * KiB, `the paused socket's queue peaked at ${(peak / MiB).toFixed(2)} MiB (maxBufferedBytes plus one reply)`)
  t.ok(peak > MAX_BUFFERED_BYTES / 2, 'and did come near the bound: the replies queued in the server')
  t.ok(closed(), 'the slow consumer was closed')
  t.equal(app.notifications.stats().total_clients, 0)
  tcpSocketOf(client).resume()
  const { code } = await within(client.closed, 'the client to read its close', 15_000)
  t.equal(code, 1013)
  t.ok(client.frames.slice(2).every((frame) => frame.type === 'fill' || frame.type === 'pong' || frame.code === 'INVALID_CHANNEL'),
    'only the replies it asked for')
})

test('slowConsumer "drop": pongs to a paused client are skipped and counted past the bound', async (t) => {
  const { app, url } = await build(t, { channels: ['fill'], slowConsumer: 'drop', heartbeatInterval: 0, rateLimit: false })
  const client = await connect(t, url)
  await client.request({ action: 'subscribe', channel: 'fill' })
  const side = serverSideOf(app, client)
  tcpSocketOf(client).pause()
  const fills = await fillKernel(app, side, 'fill')
  const id = 'p'.repeat(64)
  // ~110 bytes per pong: 20 000 pings ask for some 2.1 MiB, twice the bound.
  const PINGS = 20_000
  for (let i = 0; i < PINGS; i++) client.ws.send(`{"action":"ping","id":"${id}"}`)
  const dropping = (): boolean => app.notifications.stats().messages_dropped > 0
  let { peak, done } = await watchQueue(side, dropping, 20_000)
  peak = Math.max(peak, (await watchQueue(side, () => false, 300)).peak)
  t.ok(done, 'pongs were skipped')
  t.ok(peak <= MAX_BUFFERED_BYTES + 2 * KiB, `the paused socket's queue peaked at ${(peak / MiB).toFixed(2)} MiB (maxBufferedBytes plus one pong)`)
  t.ok(peak > MAX_BUFFERED_BYTES - 2 * KiB, 'and reached the bound')
  t.equal(app.notifications.stats().total_clients, 1, 'the client stays')
  tcpSocketOf(client).resume()
  await waitUntil(() => side.bufferedAmount === 0, 'its queue to drain', 15_000)
  // Answered after every earlier ping was: the count of those dropped is final when it arrives.
  client.ws.send(JSON.stringify({ action: 'ping', id: 'after' }))
  await waitUntil(() => client.frames.at(-1)?.id === 'after', 'the pong after everything queued', 15_000)
  const dropped = app.notifications.stats().messages_dropped
  const pongs = client.frames.filter((frame) => frame.type === 'pong').length - 1
  t.equal(pongs, PINGS - dropped, `every ping was answered or its pong counted as dropped (${dropped})`)
  t.equal(client.frames.filter((frame) => frame.type === 'fill').length, fills, 'and every notification arrived')
})
