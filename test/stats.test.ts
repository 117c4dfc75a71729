// GET /ws/stats: every key of PROTOCOL.md with its exact meaning plus ours, before and after
// disconnects; a channel disappears the moment its last subscriber leaves, however it leaves.
import { test, type Test } from 'tap'
import { build, connect, fetchStats, tcpSocketOf, waitUntil, type Client, type Frame } from './helper'

const KEYS = [
  'total_clients', 'total_channels', 'total_messages_sent', 'total_connections_ever', 'channel_stats', 'active_channels',
  'uptime_seconds', 'notifications_published', 'bytes_sent', 'messages_dropped', 'slow_consumers_closed'
]

test('every key, with its meaning, before and after disconnects', async (t) => {
  const { app, url, http } = await build(t)
  const empty = await fetch(`${http}/ws/stats`)
  t.equal(empty.status, 200)
  t.match(empty.headers.get('content-type'), /application\/json/)
  const zero = await empty.json() as Frame
  // More keys may be added (PROTOCOL.md); these are always there.
  for (const key of KEYS) t.ok(key in zero, `key ${key}`)
  t.match(zero, {
    total_clients: 0,
    total_channels: 0,
    total_messages_sent: 0,
    total_connections_ever: 0,
    channel_stats: {},
    active_channels: [],
    uptime_seconds: zero.uptime_seconds,
    notifications_published: 0,
    bytes_sent: 0,
    messages_dropped: 0,
    slow_consumers_closed: 0
  })
  t.ok(zero.uptime_seconds >= 0 && zero.uptime_seconds < 60)

  const a = await connect(t, url, '?client_id=secret-alice')
  const b = await connect(t, url, '?client_id=secret-bob')
  await connect(t, url, '?client_id=secret-carol')
  await a.request({ action: 'subscribe', channel: 'alpha' })
  await b.request({ action: 'subscribe', channel: 'alpha' })
  await b.request({ action: 'subscribe', channel: 'beta' })
  await a.request({ action: 'ping' })
  const sizeAlpha = Buffer.byteLength(JSON.stringify({ type: 'n', channel: 'alpha', data: { i: 1 }, timestamp: new Date().toISOString() }))
  t.equal(await app.notify('alpha', 'n', { i: 1 }), 2)
  t.equal(await app.notify('gamma', 'n', { i: 1 }), 0)
  t.equal(await app.notifications.sendTo('secret-carol', 'd', null), 1)
  const sizeDirect = Buffer.byteLength(JSON.stringify({ type: 'd', data: null, timestamp: new Date().toISOString() }))

  const body = await (await fetch(`${http}/ws/stats`)).text()
  for (const id of ['secret-alice', 'secret-bob', 'secret-carol']) t.notOk(body.includes(id), `no client id in the body (${id})`)
  const stats = JSON.parse(body)
  t.equal(stats.total_clients, 3, 'sockets open now')
  t.equal(stats.total_channels, 2, 'channels with a subscriber')
  t.same(stats.channel_stats, { alpha: 2, beta: 1 })
  t.same([...stats.active_channels].sort(), ['alpha', 'beta'])
  t.equal(stats.total_messages_sent, 3, 'one notification to 2 sockets counts 2, plus one direct; replies do not count')
  t.equal(stats.total_connections_ever, 3)
  t.equal(stats.notifications_published, 3, 'every notify and sendTo call, even one that reached nobody')
  t.equal(stats.bytes_sent, 2 * sizeAlpha + sizeDirect, 'payload bytes of every message written')
  t.equal(stats.messages_dropped, 0)
  t.equal(stats.slow_consumers_closed, 0)
  t.same({ ...app.notifications.stats(), uptime_seconds: 0 }, { ...stats, uptime_seconds: 0 }, 'stats() gives the same figures')

  b.close()
  await b.closed
  await waitUntil(() => app.notifications.stats().total_clients === 2, 'b is gone')
  const after = await fetchStats(http)
  t.same(after.channel_stats, { alpha: 1 })
  t.same(after.active_channels, ['alpha'])
  t.equal(after.total_channels, 1)
  t.equal(after.total_connections_ever, 3, 'ever counts stay')
  t.equal(after.total_messages_sent, 3)
  await connect(t, url)
  t.equal((await fetchStats(http)).total_connections_ever, 4)
  t.equal((await fetchStats(http)).total_clients, 3)
})

async function subscribed (t: Test, url: string, channels: string[]): Promise<Client> {
  const client = await connect(t, url)
  for (const channel of channels) await client.request({ action: 'subscribe', channel })
  return client
}

test('a channel whose last subscriber leaves disappears at once, however it leaves', async (t) => {
  const { app, url, http } = await build(t)
  const shared = await subscribed(t, url, ['alpha'])
  const leaving = {
    unsubscribe: await subscribed(t, url, ['beta']),
    close: await subscribed(t, url, ['gamma'])
  }
  t.same((await fetchStats(http)).channel_stats, { alpha: 1, beta: 1, gamma: 1 })

  await leaving.unsubscribe.request({ action: 'unsubscribe', channel: 'beta' })
  let stats = await fetchStats(http)
  t.same(stats.channel_stats, { alpha: 1, gamma: 1 }, 'unsubscribe')
  t.same([...stats.active_channels].sort(), ['alpha', 'gamma'])
  t.equal(stats.total_channels, 2)

  leaving.close.close()
  await leaving.close.closed
  await waitUntil(async () => (await fetchStats(http)).total_clients === 2, 'the closed socket is gone')
  stats = await fetchStats(http)
  t.same(stats.channel_stats, { alpha: 1 }, 'clean close')
  t.same(stats.active_channels, ['alpha'])
  t.equal(stats.total_channels, 1)

  // Abrupt: the TCP connection is destroyed without a close frame.
  const destroyed = await subscribed(t, url, ['beta', 'gamma'])
  const terminated = await subscribed(t, url, ['gamma'])
  t.same((await fetchStats(http)).channel_stats, { alpha: 1, beta: 1, gamma: 2 })
  tcpSocketOf(destroyed).destroy()
  terminated.ws.terminate()
  await waitUntil(() => app.notifications.stats().total_clients === 2, 'the destroyed sockets are gone')
  stats = await fetchStats(http)
  t.same(stats.channel_stats, { alpha: 1 }, 'abrupt destroy and terminate')
  t.same(stats.active_channels, ['alpha'])
  t.equal(stats.total_channels, 1)

  await shared.request({ action: 'unsubscribe', channel: 'alpha' })
  stats = await fetchStats(http)
  t.same(stats.channel_stats, {})
  t.same(stats.active_channels, [])
  t.equal(stats.total_channels, 0)
})

test('channel names that are Object.prototype keys count like any other', async (t) => {
  const { http, url } = await build(t, { channels: ['__proto__', 'constructor', 'toString'] })
  const client = await connect(t, url)
  for (const channel of ['__proto__', 'constructor', 'toString']) {
    t.equal((await client.request({ action: 'subscribe', channel })).type, 'subscribed')
  }
  const body = await (await fetch(`${http}/ws/stats`)).text()
  t.match(body, /"channel_stats":\{"__proto__":1,"constructor":1,"toString":1\}/)
  t.equal((JSON.parse(body) as Frame).total_channels, 3)
})
