// Every registration option: defaults, valid values, and each invalid value refused at
// register/ready with FST_WS_NOTIFY_INVALID_OPTION naming the option and what it accepts.
import { test, type Test } from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import { Type } from '@sinclair/typebox'
import notifications from '../lib/index'
import { buildConfig } from '../lib/config/options'
import { build, connect, fetchStats, within, tcpSocketOf, Client } from './helper'

async function registrationError (options: unknown): Promise<Error & { code?: string }> {
  const app = Fastify()
  try {
    await app.register(notifications, options as never)
    await app.ready()
  } catch (err) {
    return err as Error & { code?: string }
  } finally {
    await app.close()
  }
  throw new Error(`registration succeeded with ${JSON.stringify(options)}`)
}

const invalid: Array<[string, unknown, RegExp]> = [
  ['channels missing', {}, /channels is required: a list of names or a map of channel declarations/],
  ['channels a number', { channels: 5 }, /channels must be a list of names or a map of channel declarations; got number 5/],
  ['channels null', { channels: null }, /channels must be a list of names or a map of channel declarations; got null/],
  ['channels empty list', { channels: [] }, /channels must declare at least one channel/],
  ['channels empty map', { channels: {} }, /channels must declare at least one channel/],
  ['channel name not a string', { channels: [1] }, /channels: every channel name must be a string of 1-255 characters; got number 1/],
  ['channel name empty', { channels: [''] }, /channels: every channel name must be a string of 1-255 characters/],
  ['channel name too long', { channels: ['x'.repeat(256)] }, /channels: every channel name must be a string of 1-255/],
  ['channel listed twice', { channels: ['a', 'a'] }, /channels: "a" is listed twice/],
  ['channel declaration not an object', { channels: { a: 'x' } }, /channels\.a must be an object such as \{ events: \{ \[type\]: TSchema \} \}; got string "x"/],
  ['channel declaration an array', { channels: { a: [] } }, /channels\.a must be an object .*got array/],
  ['events not a map', { channels: { a: { events: 3 } } }, /channels\.a\.events must be a map from event type to TypeBox schema; got number 3/],
  ['events null', { channels: { a: { events: null } } }, /channels\.a\.events must be a map .*got null/],
  ['event schema not TypeBox', { channels: { a: { events: { e: { type: 'object' } } } } }, /channels\.a\.events\.e must be a TypeBox schema/],
  ['unknown option', { channels: ['a'], chanels: [] }, /unknown option "chanels"; accepted: channels, path, stats/],
  ['path without slash', { channels: ['a'], path: 'ws' }, /path must start with "\/", contain no spaces, "\?" or "#", and not end with "\/"; got string "ws"/],
  ['path with trailing slash', { channels: ['a'], path: '/ws/' }, /path must start with "\/"/],
  ['path with a space', { channels: ['a'], path: '/w s' }, /path must start with/],
  ['path not a string', { channels: ['a'], path: 7 }, /path must start with .*got number 7/],
  ['stats a number', { channels: ['a'], stats: 1 }, /stats must be true, false or \{ url, onRequest, preHandler \}; got number 1/],
  ['stats an array', { channels: ['a'], stats: [] }, /stats must be true, false or .*got array/],
  ['stats.url relative', { channels: ['a'], stats: { url: 'stats' } }, /stats\.url must be a path starting with "\/"; got string "stats"/],
  ['stats.url not a string', { channels: ['a'], stats: { url: 3 } }, /stats\.url must be a path starting with "\/"; got number 3/],
  ['stats.onRequest not a function', { channels: ['a'], stats: { onRequest: 'x' } }, /stats\.onRequest must be a hook function or a list of them; got string "x"/],
  ['stats.preHandler list with a non-function', { channels: ['a'], stats: { preHandler: [() => {}, 1] } }, /stats\.preHandler must be a hook function or a list of them; got array/],
  ['slowConsumer unknown', { channels: ['a'], slowConsumer: 'block' }, /slowConsumer must be "close" or "drop"; got string "block"/]
]
for (const name of ['heartbeatInterval', 'idleTimeout', 'closeTimeout']) {
  invalid.push([`${name} negative`, { channels: ['a'], [name]: -1 }, new RegExp(`${name} must be an integer >= 0; got number -1`)])
  invalid.push([`${name} fractional`, { channels: ['a'], [name]: 1.5 }, new RegExp(`${name} must be an integer >= 0; got number 1.5`)])
  invalid.push([`${name} a string`, { channels: ['a'], [name]: '10' }, new RegExp(`${name} must be an integer >= 0; got string "10"`)])
}
for (const name of ['maxPayload', 'maxMessageSize', 'maxBufferedBytes']) {
  invalid.push([`${name} zero`, { channels: ['a'], [name]: 0 }, new RegExp(`${name} must be an integer >= 1; got number 0`)])
  invalid.push([`${name} infinite`, { channels: ['a'], [name]: Infinity }, new RegExp(`${name} must be an integer >= 1; got number Infinity`)])
  invalid.push([`${name} an object`, { channels: ['a'], [name]: {} }, new RegExp(`${name} must be an integer >= 1; got object`)])
}

test('each invalid option is refused at registration with a message naming it', async (t) => {
  for (const [label, options, message] of invalid) {
    const err = await registrationError(options)
    t.equal(err.code, 'FST_WS_NOTIFY_INVALID_OPTION', `${label}: code`)
    t.match(err.message, message, `${label}: message`)
    t.ok(err instanceof TypeError, `${label}: a TypeError`)
  }
})

test('options that are not an object are refused', async (t) => {
  for (const input of [undefined, null, 'channels', 3]) {
    t.throws(() => buildConfig(input as never), {
      code: 'FST_WS_NOTIFY_INVALID_OPTION',
      message: /options must be an object with at least \{ channels \}/
    })
  }
})

test('defaults are filled once into a frozen config', async (t) => {
  const config = buildConfig({ channels: ['a'] })
  t.ok(Object.isFrozen(config))
  t.equal(config.path, '/ws')
  t.same(config.stats, { url: '/ws/stats' })
  t.equal(config.heartbeatInterval, 30_000)
  t.equal(config.idleTimeout, 300_000)
  t.equal(config.maxPayload, 65_536)
  t.equal(config.maxMessageSize, 1_048_576)
  t.equal(config.closeTimeout, 2000)
  t.equal(config.maxBufferedBytes, 1_048_576)
  t.equal(config.slowConsumer, 'close')
  t.match([...config.channels.values()], [{ name: 'a', events: null }])

  const full = buildConfig({
    channels: { a: {}, b: { events: { e: Type.Object({}) } } },
    path: '/events',
    stats: { url: '/metrics/ws' },
    heartbeatInterval: 0,
    idleTimeout: 0,
    maxPayload: 10,
    maxMessageSize: 20,
    closeTimeout: 0,
    maxBufferedBytes: 30,
    slowConsumer: 'drop'
  })
  t.equal(full.path, '/events')
  t.same(full.stats, { url: '/metrics/ws' })
  t.same([full.heartbeatInterval, full.idleTimeout, full.maxPayload, full.maxMessageSize, full.closeTimeout, full.maxBufferedBytes, full.slowConsumer],
    [0, 0, 10, 20, 0, 30, 'drop'])
  t.equal(full.channels.get('a')?.events, null, 'a channel declared without events accepts anything')
  t.same([...(full.channels.get('b')?.events?.keys() ?? [])], ['e'])
  t.same(buildConfig({ channels: ['a'], path: '/' }).stats, { url: '/stats' }, 'path "/" puts stats at /stats')
  t.equal(buildConfig({ channels: ['a'], stats: false }).stats, false)
  t.same(buildConfig({ channels: ['a'], stats: true }).stats, { url: '/ws/stats' })
})

test('path moves both the socket route and the stats route', async (t) => {
  const { url, http } = await build(t, { path: '/events' })
  const client = new Client(`${url}/events`)
  t.teardown(() => client.ws.terminate())
  await client.opened
  const [connected] = await client.waitFor(1)
  t.equal(connected.type, 'connected')
  t.equal((await fetchStats(http, '/events/stats')).total_clients, 1)
  t.equal((await fetch(`${http}/ws/stats`)).status, 404)
  const old = new Client(`${url}/ws`)
  t.teardown(() => old.ws.terminate())
  await t.rejects(old.opened, /HTTP 404/)
})

test('stats: a custom url, and hooks that can refuse with 401', async (t) => {
  const { http } = await build(t, {
    stats: {
      url: '/internal/ws-stats',
      onRequest: async (request, reply) => {
        if (request.headers.authorization !== 'Bearer good') await reply.code(401).send({ error: 'Unauthorized' })
      },
      preHandler: [async (request, reply) => {
        if (request.headers['x-deny'] === '1') await reply.code(403).send({ error: 'Forbidden' })
      }]
    }
  })
  const refused = await fetch(`${http}/internal/ws-stats`)
  t.equal(refused.status, 401)
  t.same(await refused.json(), { error: 'Unauthorized' })
  const denied = await fetch(`${http}/internal/ws-stats`, { headers: { authorization: 'Bearer good', 'x-deny': '1' } })
  t.equal(denied.status, 403)
  const allowed = await fetch(`${http}/internal/ws-stats`, { headers: { authorization: 'Bearer good' } })
  t.equal(allowed.status, 200)
  t.equal(((await allowed.json()) as { total_clients: number }).total_clients, 0)
  t.equal((await fetch(`${http}/ws/stats`)).status, 404, 'the default url is not served as well')
})

test('stats: false removes the route', async (t) => {
  const { app, http, url } = await build(t, { stats: false })
  t.equal((await fetch(`${http}/ws/stats`)).status, 404)
  await connect(t, url)
  t.equal(app.notifications.stats().total_clients, 1, 'the figures stay available in code')
})

test('maxPayload: a larger inbound frame closes that socket with 1009; others are unaffected', async (t) => {
  const { url } = await build(t, { maxPayload: 1024 })
  const big = await connect(t, url)
  const other = await connect(t, url)
  const fits = await big.request({ action: 'ping', id: 'x'.repeat(10), pad: 'p'.repeat(900) })
  t.equal(fits.type, 'pong', 'a frame under the limit is accepted')
  big.ws.send(JSON.stringify({ action: 'ping', pad: 'p'.repeat(2000) }))
  const { code } = await within(big.closed, 'the 1009 close')
  t.equal(code, 1009)
  t.equal((await other.request({ action: 'ping', id: 1 })).type, 'pong')
})

test('maxMessageSize: notify with a larger envelope rejects FST_WS_NOTIFY_MESSAGE_TOO_LARGE', async (t) => {
  const { app, url } = await build(t, { maxMessageSize: 200 })
  const client = await connect(t, url)
  await client.request({ action: 'subscribe', channel: 'alpha' })
  await t.rejects(app.notify('alpha', 'big', { text: 'x'.repeat(300) }), {
    code: 'FST_WS_NOTIFY_MESSAGE_TOO_LARGE',
    message: /Message of \d+ bytes exceeds maxMessageSize \(200 bytes\)/
  })
  await t.rejects(app.notifications.sendTo('someone', 'big', 'x'.repeat(300)), { code: 'FST_WS_NOTIFY_MESSAGE_TOO_LARGE' })
  // Multi-byte characters: 60 characters may be 180 bytes; the byte size decides, not the length.
  await t.rejects(app.notify('alpha', 'big', '€'.repeat(60)), { code: 'FST_WS_NOTIFY_MESSAGE_TOO_LARGE' })
  t.equal(await app.notify('alpha', 'small', '€'.repeat(20)), 1, 'multi-byte text under the limit is sent')
  t.equal(await app.notify('alpha', 'small', { text: 'ok' }), 1)
  const frames = await client.waitFor(4)
  t.same(frames.slice(2).map((f) => f.type), ['small', 'small'], 'the refused ones were never sent')
  t.equal(app.notifications.stats().notifications_published, 2)

  const { app: defaults } = await build(t)
  await t.rejects(defaults.notify('alpha', 'big', 'x'.repeat(1024 * 1024)), { code: 'FST_WS_NOTIFY_MESSAGE_TOO_LARGE' }, 'default limit is 1 MiB')
  t.equal(await defaults.notify('alpha', 'big', 'x'.repeat(1024 * 1024 - 200)), 0)
})

test('path "/" serves sockets at / and stats at /stats', async (t) => {
  const { url, http } = await build(t, { path: '/' })
  const client = new Client(`${url}/`)
  t.teardown(() => client.ws.terminate())
  await client.opened
  t.equal((await client.waitFor(1))[0].type, 'connected')
  t.equal((await fetchStats(http, '/stats')).total_clients, 1)
})

// A peer that stops reading: its TCP socket is paused, so the server's buffer for it grows past
// maxBufferedBytes. Each notification is awaited until the healthy peer has read it, so only the
// paused one is ever over the bound.
async function flood (t: Test, slowConsumer: 'close' | 'drop'): Promise<{ app: FastifyInstance, http: string, slow: Client, healthy: Client, sent: number }> {
  const { app, url, http } = await build(t, { slowConsumer, maxBufferedBytes: 64 * 1024, closeTimeout: 5000 })
  const slow = await connect(t, url)
  const healthy = await connect(t, url)
  await slow.request({ action: 'subscribe', channel: 'alpha' })
  await healthy.request({ action: 'subscribe', channel: 'alpha' })
  tcpSocketOf(slow).pause()
  const chunk = 'x'.repeat(256 * 1024)
  let sent = 0
  // Loopback buffers hold a few MiB; 400 x 256 KiB = 100 MiB is far past any of them.
  // 'close' drops one message (then the peer is gone); 'drop' goes on until three were dropped.
  const enough = slowConsumer === 'close' ? 1 : 3
  while (sent < 400 && app.notifications.stats().messages_dropped < enough) {
    await app.notify('alpha', 'chunk', { seq: sent, chunk })
    sent++
    await healthy.waitFor(2 + sent)
  }
  t.ok(sent < 400, `the paused peer went over maxBufferedBytes after ${sent} messages`)
  return { app, http, slow, healthy, sent }
}

test('slowConsumer "close": a peer that stops reading is closed; others get everything', async (t) => {
  const { app, http, slow, healthy, sent } = await flood(t, 'close')
  const stats = await fetchStats(http)
  t.equal(stats.slow_consumers_closed, 1)
  t.ok(stats.messages_dropped >= 1, 'the message it could not take counts as dropped')
  t.equal(stats.total_clients, 1, 'removed from stats at once')
  t.same(stats.channel_stats, { alpha: 1 })
  t.same(healthy.frames.slice(2).map((f) => f.data.seq), [...Array(sent).keys()], 'the healthy peer got every message in order')
  tcpSocketOf(slow).resume()
  const { code, reason } = await within(slow.closed, 'the slow peer to see its close')
  t.equal(code, 1013, 'it reads 1013 once it reads again')
  t.equal(reason, 'slow consumer')
  t.equal(app.notifications.stats().slow_consumers_closed, 1)
})

test('slowConsumer "drop": a peer that stops reading stays, its messages are dropped', async (t) => {
  const { app, slow, healthy, sent } = await flood(t, 'drop')
  const stats = app.notifications.stats()
  t.equal(stats.slow_consumers_closed, 0)
  t.ok(stats.messages_dropped >= 3)
  t.equal(stats.total_clients, 2, 'the slow peer is still connected')
  t.same(stats.channel_stats, { alpha: 2 })
  t.equal(healthy.frames.length, 2 + sent, 'the healthy peer got everything')
  t.equal(stats.total_messages_sent, sent * 2 - stats.messages_dropped, 'every message is either sent or dropped')
  tcpSocketOf(slow).resume()
  // Once drained it is written to again.
  await within(slow.waitFor(2 + sent - stats.messages_dropped), 'the slow peer to drain')
  await app.notify('alpha', 'after', { ok: true })
  const frames = await slow.waitFor(3 + sent - stats.messages_dropped)
  t.equal(frames[frames.length - 1].type, 'after', 'after draining, the slow peer receives again')
})
