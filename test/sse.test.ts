// Server-Sent Events (issue 14): real HTTP streams against a server listening on 127.0.0.1. The
// same envelopes, greeting, checks, limits, resume, direct messages, slow-reader bound and
// shutdown as a WebSocket.
import { test } from 'tap'
import Fastify from 'fastify'
import net from 'node:net'
import { Writable } from 'node:stream'
import notifications from '../lib/index'
import { build, connect, fetchStats, waitUntil, within } from './helper'
import { openSse, SseReader } from './sse-helper'

const HISTORY = { alpha: { history: { size: 10 } }, beta: { history: { size: 10 } }, gamma: {} }

test('a stream greets, then carries each notification as an event named by its type, with the same JSON', async (t) => {
  const { app, http } = await build(t, { sse: true })
  const reader = await openSse(t, `${http}/ws/sse?channel=alpha&channel=beta&client_id=me`)
  const head = await reader.response
  t.match(head.headers['content-type'], /^text\/event-stream/)
  await reader.waitFor(3)
  t.match(reader.events[0], { event: 'connected', data: { type: 'connected', client_id: 'me', transport: 'sse', available_channels: ['alpha', 'beta', 'gamma'] } })
  t.match(reader.events.slice(1).map((e) => e.data), [{ type: 'subscribed', channel: 'alpha' }, { type: 'subscribed', channel: 'beta' }])
  t.equal(await app.notify('alpha', 'created', { n: 1 }), 1)
  await app.notify('gamma', 'other', { n: 2 })
  await app.notify('beta', 'line\nbreak', { n: 3 })
  await reader.waitFor(5)
  t.match(reader.events[3], { event: 'created', id: undefined, data: { type: 'created', channel: 'alpha', data: { n: 1 } } })
  t.match(reader.events[4], { event: 'message', data: { type: 'line\nbreak', channel: 'beta' } }, 'a type with a line break is sent as message')
  t.equal(reader.events.length, 5, 'gamma was not asked for')
  const stats = await fetchStats(http)
  t.match(stats, { total_clients: 1, sse_clients: 1, websocket_clients: 0, channel_stats: { alpha: 1, beta: 1 } })
  await connect(t, http.replace('http', 'ws'))
  t.match(await fetchStats(http), { total_clients: 2, sse_clients: 1, websocket_clients: 1 })
  reader.close()
  await waitUntil(() => app.notifications.stats().sse_clients === 0, 'the closed stream left the hub')
  t.same(app.notifications.stats().channel_stats, {})
})

test('without sse: true there is no stream route; sse must be a boolean', async (t) => {
  const { http } = await build(t)
  const response = await fetch(`${http}/ws/sse?channel=alpha`)
  t.equal(response.status, 404)
  const app = Fastify()
  t.teardown(() => app.close())
  await t.rejects(async () => { await app.register(notifications, { channels: ['alpha'], sse: 'yes' as never }) },
    { code: 'FST_WS_NOTIFY_INVALID_OPTION', message: /sse must be true or false; got string "yes"/ })
})

test('the metrics show the transport split', async (t) => {
  const { http, url } = await build(t, { sse: true, metrics: true })
  await openSse(t, `${http}/ws/sse?channel=alpha`)
  await connect(t, url)
  const metrics = await (await fetch(`${http}/ws/metrics`)).text()
  t.match(metrics, /^ws_notify_connections_by_transport\{transport="sse"\} 1$/m)
  t.match(metrics, /^ws_notify_connections_by_transport\{transport="websocket"\} 1$/m)
})

test('events=message sends every event as the default message event; heartbeats are comments, or ping events', async (t) => {
  const { app, http } = await build(t, { sse: true, heartbeatInterval: 20 })
  const plain = await openSse(t, `${http}/ws/sse?channel=alpha&events=message`)
  await plain.waitFor(2)
  await app.notify('alpha', 'created', { n: 1 })
  await plain.waitFor(3)
  t.same(plain.events.map((e) => e.event), ['message', 'message', 'message'])
  t.match(plain.events.map((e) => e.data.type), ['connected', 'subscribed', 'created'])
  t.match(plain.events[0].data, { heartbeat_interval: 20 })
  await plain.until((r) => r.comments.includes('ping'), 'a heartbeat comment')
  const pinged = await openSse(t, `${http}/ws/sse?channel=alpha&heartbeat=event`)
  await pinged.until((r) => r.events.some((e) => e.event === 'ping'), 'a ping event')
  t.equal(pinged.comments.length, 0, 'no comments when the heartbeat is an event')
})

test('history channels: each event carries its id, and Last-Event-ID resumes (or says recovered:false)', async (t) => {
  const { app, http } = await build(t, { sse: true, channels: HISTORY })
  const first = await openSse(t, `${http}/ws/sse?channel=alpha`)
  await first.waitFor(2)
  const subscribed = first.events[1]
  t.match(subscribed.id, /^[\w-]+:0$/, 'the subscribed event carries the position now')
  const epoch = (subscribed.id as string).split(':')[0]
  await app.notify('alpha', 'n', { n: 1 })
  await first.waitFor(3)
  t.equal(first.events[2].id, `${epoch}:1`)
  first.close()
  await waitUntil(() => app.notifications.stats().total_clients === 0, 'the stream left')
  await app.notify('alpha', 'n', { n: 2 })
  await app.notify('alpha', 'n', { n: 3 })

  const resumed = await openSse(t, `${http}/ws/sse?channel=alpha`, { 'last-event-id': `${epoch}:1` })
  await resumed.waitFor(4)
  t.match(resumed.events[1].data, { type: 'subscribed', channel: 'alpha', recovered: true, offset: 3 })
  t.same(resumed.events.slice(2).map((e) => e.data.data.n), [2, 3], 'what was missed, in order')
  t.equal(resumed.events[3].id, `${epoch}:3`)

  const viaQuery = await openSse(t, `${http}/ws/sse?channel=alpha&last_event_id=${epoch}%3A2`)
  await viaQuery.waitFor(3)
  t.same(viaQuery.events.slice(2).map((e) => e.data.data.n), [3], '?last_event_id= resumes too')

  const gap = await openSse(t, `${http}/ws/sse?channel=alpha`, { 'last-event-id': 'another-epoch:1' })
  await gap.waitFor(2)
  t.match(gap.events[1].data, { type: 'subscribed', recovered: false }, 'an unknown epoch is a gap, said plainly')
  const malformed = await openSse(t, `${http}/ws/sse?channel=alpha`, { 'last-event-id': 'nonsense' })
  await malformed.waitFor(2)
  t.match(malformed.events[1].data, { recovered: false })
})

test('several history channels: the id holds every channel\'s position, and resumes each', async (t) => {
  const { app, http } = await build(t, { sse: true, channels: HISTORY })
  const first = await openSse(t, `${http}/ws/sse?channel=alpha&channel=beta&channel=gamma`)
  await first.waitFor(4)
  await app.notify('alpha', 'n', { n: 1 })
  await app.notify('beta', 'n', { n: 2 })
  await app.notify('gamma', 'n', { n: 3 })
  await first.waitFor(7)
  t.equal(first.events[6].id, undefined, 'a channel without history sets no id')
  const id = first.events[5].id as string
  const positions = new URLSearchParams(id)
  t.match(positions.get('alpha'), /:1$/)
  t.match(positions.get('beta'), /:1$/)
  first.close()
  await waitUntil(() => app.notifications.stats().total_clients === 0, 'the stream left')
  await app.notify('alpha', 'n', { n: 4 })
  await app.notify('beta', 'n', { n: 5 })
  const resumed = await openSse(t, `${http}/ws/sse?channel=alpha&channel=beta`, { 'last-event-id': id })
  await resumed.waitFor(5)
  t.match(resumed.events.map((e) => e.data), [
    { type: 'connected' }, { type: 'subscribed', channel: 'alpha', recovered: true }, { data: { n: 4 } },
    { type: 'subscribed', channel: 'beta', recovered: true }, { data: { n: 5 } }
  ])
})

test('authenticate, authorize and channels are checked before the stream starts', async (t) => {
  const { http } = await build(t, {
    sse: true,
    authenticate: async (request) => (request.query as { token?: string }).token === 'good' ? 'alice' : null,
    authorize: async (_identity, channel) => channel !== 'beta'
  })
  t.equal((await new SseReader(`${http}/ws/sse?channel=alpha`).response).status, 401)
  const forbidden = await new SseReader(`${http}/ws/sse?channel=alpha&channel=beta&token=good`).response
  t.match(forbidden, { status: 403, body: { code: 'FORBIDDEN', message: 'Not allowed to subscribe to beta' } })
  const invalid = await new SseReader(`${http}/ws/sse?channel=nope&token=good`).response
  t.match(invalid, { status: 400, body: { code: 'INVALID_CHANNEL', available_channels: ['alpha', 'beta', 'gamma'] } })
  const badId = await new SseReader(`${http}/ws/sse?channel=alpha&client_id=${'x'.repeat(200)}`).response
  t.equal(badId.status, 400)
  const ok = await openSse(t, `${http}/ws/sse?channel=alpha&token=good&client_id=mallory`)
  await ok.waitFor(2)
  t.match(ok.events[0].data, { client_id: 'alice' }, 'the identity wins over a claimed client_id')
})

test('origin: a cross-origin stream is refused (403), logged as an SSE request', async (t) => {
  const lines: string[] = []
  const app = Fastify({ logger: { level: 'warn', stream: new Writable({ write (chunk, _encoding, done) { lines.push(chunk.toString()); done() } }) } })
  await app.register(notifications, { channels: ['alpha'], sse: true, allowedOrigins: ['https://ok.example'] })
  t.teardown(() => app.close())
  const address = await app.listen({ port: 0, host: '127.0.0.1' })
  t.equal((await new SseReader(`${address}/ws/sse?channel=alpha`, { origin: 'https://evil.example' }).response).status, 403)
  const allowed = await openSse(t, `${address}/ws/sse?channel=alpha`, { origin: 'https://ok.example' })
  t.equal((await allowed.response).status, 200)
  const refusal = lines.find((line) => line.includes('refused'))
  t.match(refusal, /refused a Server-Sent Events request from origin/)
  t.notMatch(refusal, /WebSocket upgrade/)
})

test('limits: connections (both transports), per client, subscriptions', async (t) => {
  const { http } = await build(t, { sse: true, maxConnections: 2, maxConnectionsPerClient: 1, maxSubscriptionsPerConnection: 2 })
  const tooMany = await new SseReader(`${http}/ws/sse?channel=alpha&channel=beta&channel=gamma`).response
  t.match(tooMany, { status: 400, body: { code: 'TOO_MANY_SUBSCRIPTIONS' } })
  await openSse(t, `${http}/ws/sse?channel=alpha&client_id=a`)
  t.match(await new SseReader(`${http}/ws/sse?channel=alpha&client_id=a`).response, { status: 503, body: { code: 'TOO_MANY_CONNECTIONS' } })
  await connect(t, http.replace('http', 'ws'), '?client_id=b')
  t.match(await new SseReader(`${http}/ws/sse?channel=alpha&client_id=c`).response, { status: 503 }, 'a WebSocket and a stream fill maxConnections')
})

test('sendTo reaches a client\'s streams and sockets; disconnect ends its streams with a close event', async (t) => {
  const { app, http, url } = await build(t, { sse: true })
  const stream = await openSse(t, `${http}/ws/sse?client_id=kim`)
  await stream.waitFor(1)
  const socket = await connect(t, url, '?client_id=kim')
  t.equal(await app.notifications.sendTo('kim', 'hello', { to: 'kim' }), 2)
  await stream.waitFor(2)
  await socket.waitFor(2)
  t.match(stream.events[1], { event: 'hello', data: { type: 'hello', data: { to: 'kim' } } })
  t.equal(app.notifications.disconnect('kim', 4001, 'kicked'), 2)
  await stream.waitFor(3)
  t.match(stream.events[2], { event: 'close', data: { type: 'close', code: 4001, reason: 'kicked' } })
  await within(stream.ended, 'the stream ended')
  t.equal((await socket.closed).code, 4001)
})

test('a stream that stops reading is closed as a slow consumer, bounded like a socket', async (t) => {
  const maxBufferedBytes = 64 * 1024
  const { app, http } = await build(t, { sse: true, channels: ['alpha'], maxBufferedBytes })
  const { port } = new URL(http)
  // A raw TCP reader that sends its request and never reads a byte.
  const paused = net.connect(Number(port), '127.0.0.1')
  t.teardown(() => paused.destroy())
  paused.on('error', () => {})
  paused.write('GET /ws/sse?channel=alpha HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')
  paused.pause()
  await waitUntil(() => app.notifications.stats().sse_clients === 1, 'the stream opened')
  const healthy = await openSse(t, `${http}/ws/sse?channel=alpha`)
  const chunk = 'x'.repeat(32 * 1024)
  let sent = 0
  // At most 64 MiB: far more than the kernel's buffers hold for a reader that never reads.
  while (app.notifications.stats().slow_consumers_closed === 0 && sent < 2048) {
    for (let i = 0; i < 8; i++) await app.notify('alpha', 'big', { chunk, seq: sent++ })
    await healthy.until((r) => r.events.length >= sent + 2, 'the healthy stream keeps up')
  }
  const stats = app.notifications.stats()
  t.equal(stats.slow_consumers_closed, 1, 'the paused stream was closed')
  t.equal(stats.sse_clients, 1, 'the healthy one is still open')
  t.same(healthy.events.slice(2).map((e) => e.data.data.seq), [...Array(sent).keys()], 'the healthy one got every message in order')
})

test('a stream that resumes many channels at once meets the bound: past it, it is closed as a slow consumer', async (t) => {
  const channels = { alpha: { history: { size: 10 } }, beta: { history: { size: 10 } }, gamma: { history: { size: 10 } } }
  const { app, http } = await build(t, { sse: true, channels, maxBufferedBytes: 1024 })
  const first = await openSse(t, `${http}/ws/sse?channel=alpha&channel=beta&channel=gamma`)
  await first.waitFor(4)
  const id = first.events[3].id as string
  first.close()
  await waitUntil(() => app.notifications.stats().total_clients === 0, 'the stream left')
  const text = 'x'.repeat(200)
  for (let i = 0; i < 10; i++) for (const channel of ['alpha', 'beta', 'gamma']) await app.notify(channel, 'n', { text, i })
  const resumed = await openSse(t, `${http}/ws/sse?channel=alpha&channel=beta&channel=gamma`, { 'last-event-id': id })
  await within(resumed.ended, 'the stream was ended')
  const replayed = resumed.events.filter((e) => e.event === 'n').length
  t.equal(replayed, 10, 'the first channel\'s replay, whole; nothing of the next ones')
  t.match(resumed.events.at(-1), { event: 'close', data: { code: 1013, reason: 'slow consumer' } })
  t.equal(app.notifications.stats().slow_consumers_closed, 1)
})

test('app.close() ends every stream promptly, with a close event (1001)', async (t) => {
  const app = Fastify()
  await app.register(notifications, { channels: ['alpha'], sse: true })
  const address = await app.listen({ port: 0, host: '127.0.0.1' })
  const readers = [new SseReader(`${address}/ws/sse?channel=alpha`), new SseReader(`${address}/ws/sse?channel=alpha`)]
  t.teardown(() => { for (const reader of readers) reader.close() })
  for (const reader of readers) await reader.waitFor(2)
  await within(app.close(), 'app.close()', 1500)
  for (const reader of readers) {
    await within(reader.ended, 'the stream ended')
    t.match(reader.events.at(-1), { event: 'close', data: { code: 1001, reason: 'server shutting down' } })
  }
  const refused = await fetch(`${address}/ws/sse?channel=alpha`).then((r) => r.status, () => 'refused')
  t.equal(refused, 'refused', 'the server is closed')
})
