// GET /ws/metrics: Prometheus text after known traffic, value by value, equal to /ws/stats; labels
// bounded to declared channels (a namespace counts once, client ids never appear); one registry per
// registration unless the user passes one; prom-client not even loaded when metrics are off.
import { test } from 'tap'
import Fastify from 'fastify'
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { Counter, Registry, register as globalRegistry } from 'prom-client'
import { build, connect, fetchStats } from './helper'
import notifications from '../lib/index'
import type { NotificationsOptions } from '../types/index'

const channels = { alpha: {}, beta: {}, 'user:*': {} }
const authenticate: NotificationsOptions['authenticate'] = async (request) => String(request.headers['x-user'] ?? 'anon')

/** `name{labels}` -> value, from Prometheus text format. */
function parse (text: string): Map<string, number> {
  const samples = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const at = line.lastIndexOf(' ')
    samples.set(line.slice(0, at), Number(line.slice(at + 1)))
  }
  return samples
}

async function scrape (http: string): Promise<{ text: string, samples: Map<string, number> }> {
  const response = await fetch(`${http}/ws/metrics`)
  if (response.status !== 200) throw new Error(`metrics answered HTTP ${response.status}`)
  const text = await response.text()
  return { text, samples: parse(text) }
}

test('after known traffic every value is the expected one, and equals /ws/stats', async (t) => {
  const { app, url, http } = await build(t, { channels, authenticate, metrics: true })
  const alice = await connect(t, url, '', { headers: { 'x-user': 'alice' } })
  const bob = await connect(t, url, '', { headers: { 'x-user': 'bob' } })
  await connect(t, url, '', { headers: { 'x-user': 'carol' } })
  await alice.request({ action: 'subscribe', channel: 'alpha' })
  await alice.request({ action: 'subscribe', channel: 'user:alice' })
  await bob.request({ action: 'subscribe', channel: 'alpha' })
  await bob.request({ action: 'subscribe', channel: 'beta' })

  // A payload that puts the alpha envelope between 256 and 512 bytes.
  const data = { text: 'x'.repeat(300) }
  const timestamp = new Date().toISOString()
  const alphaBytes = Buffer.byteLength(JSON.stringify({ type: 'n', channel: 'alpha', data, timestamp }))
  t.ok(alphaBytes > 256 && alphaBytes <= 512, 'payload size in the (256, 512] bucket')
  for (let i = 0; i < 3; i++) t.equal(await app.notify('alpha', 'n', data), 2)
  t.equal(await app.notify('beta', 'n', { i: 1 }), 1)
  t.equal(await app.notify('user:alice', 'n', { i: 1 }), 1)
  t.equal(await app.notifications.sendTo('carol', 'd', null), 1)

  const { text, samples } = await scrape(http)
  const stats = await fetchStats(http)
  for (const id of ['alice', 'bob', 'carol']) t.notOk(text.includes(id), `no client id or private channel in the body (${id})`)
  t.match(text, /# TYPE ws_notify_messages_sent_total counter/)
  t.match(text, /# TYPE ws_notify_fanout_duration_seconds histogram/)

  const expected: Record<string, number> = {
    ws_notify_connections: 3,
    ws_notify_channels_active: 3,
    ws_notify_connections_total: 3,
    ws_notify_messages_sent_total: 3 * 2 + 1 + 1 + 1,
    ws_notify_notifications_published_total: 6,
    ws_notify_messages_dropped_total: 0,
    ws_notify_slow_consumers_closed_total: 0,
    ws_notify_history_messages: 0,
    'ws_notify_subscribers{channel="alpha"}': 2,
    'ws_notify_subscribers{channel="beta"}': 1,
    'ws_notify_subscribers{channel="user:*"}': 1,
    'ws_notify_fanout_duration_seconds_count{kind="channel",channel="alpha"}': 3,
    'ws_notify_fanout_duration_seconds_count{kind="channel",channel="beta"}': 1,
    'ws_notify_fanout_duration_seconds_count{kind="channel",channel="user:*"}': 1,
    'ws_notify_fanout_duration_seconds_count{kind="direct"}': 1,
    'ws_notify_message_bytes_sum{kind="channel",channel="alpha"}': 3 * alphaBytes,
    'ws_notify_message_bytes_bucket{le="256",kind="channel",channel="alpha"}': 0,
    'ws_notify_message_bytes_bucket{le="512",kind="channel",channel="alpha"}': 3,
    'ws_notify_message_bytes_count{kind="direct"}': 1
  }
  for (const [key, value] of Object.entries(expected)) t.equal(samples.get(key), value, key)
  t.ok((samples.get('ws_notify_fanout_duration_seconds_sum{kind="channel",channel="alpha"}') ?? -1) >= 0, 'durations are observed')

  const pairs: Array<[string, keyof typeof stats]> = [
    ['ws_notify_connections', 'total_clients'], ['ws_notify_channels_active', 'total_channels'],
    ['ws_notify_messages_sent_total', 'total_messages_sent'], ['ws_notify_connections_total', 'total_connections_ever'],
    ['ws_notify_bytes_sent_total', 'bytes_sent'], ['ws_notify_notifications_published_total', 'notifications_published'],
    ['ws_notify_messages_dropped_total', 'messages_dropped'], ['ws_notify_slow_consumers_closed_total', 'slow_consumers_closed']
  ]
  for (const [metric, key] of pairs) t.equal(samples.get(metric), stats[key], `${metric} = stats.${key}`)
  const byteSum = [...samples].filter(([key]) => key.startsWith('ws_notify_message_bytes_sum')).reduce((sum, [, v]) => sum + v, 0)
  t.ok(byteSum > 0 && byteSum < stats.bytes_sent, 'bytes per message (once each) are fewer than bytes delivered (once per subscriber)')

  // Counters keep counting across scrapes; gauges follow the sockets.
  bob.close()
  await bob.closed
  await app.notify('alpha', 'n', data)
  const after = (await scrape(http)).samples
  t.equal(after.get('ws_notify_connections'), 2)
  t.equal(after.get('ws_notify_subscribers{channel="beta"}'), 0, 'a declared channel without subscribers reads 0')
  t.equal(after.get('ws_notify_messages_sent_total'), 10)
  t.equal(after.get('ws_notify_fanout_duration_seconds_count{kind="channel",channel="alpha"}'), 4)
})

test('two apps in one process: separate registries, never the global one', async (t) => {
  const one = await build(t, { metrics: true })
  const two = await build(t, { metrics: true })
  await connect(t, one.url)
  t.equal((await scrape(one.http)).samples.get('ws_notify_connections'), 1)
  t.equal((await scrape(two.http)).samples.get('ws_notify_connections'), 0)
  t.equal(globalRegistry.getSingleMetric('ws_notify_connections'), undefined, 'prom-client default registry untouched')
})

test('a registry passed in: served with the user\'s metrics, refused twice, released on close', async (t) => {
  const registry = new Registry()
  const mine = new Counter({ name: 'my_app_requests_total', help: 'mine', registers: [registry] })
  mine.inc(7)
  const { app, http } = await build(t, { metrics: { registry } })
  const { text, samples } = await scrape(http)
  t.equal(samples.get('my_app_requests_total'), 7, 'the user\'s own metrics are served too')
  t.match(text, /ws_notify_connections 0/)
  t.ok(registry.getSingleMetric('ws_notify_connections'), 'ours are in the user\'s registry')

  const second = Fastify()
  t.teardown(() => second.close())
  await t.rejects(async () => { await second.register(notifications, { channels: ['a'], metrics: { registry } }).ready() }, {
    code: 'FST_WS_NOTIFY_INVALID_OPTION',
    message: /metrics\.registry already holds "ws_notify_connections".*own registry/
  })
  t.ok(registry.getSingleMetric('ws_notify_connections'), 'a refused registration leaves the registry as it was')

  await app.close()
  t.equal(registry.getSingleMetric('ws_notify_connections'), undefined, 'ours are removed on close')
  t.ok(registry.getSingleMetric('my_app_requests_total'), 'the user\'s stay')
  const third = await build(t, { metrics: { registry } })
  t.equal((await scrape(third.http)).samples.get('ws_notify_connections'), 0, 'a new registration fits after close')
})

test('off by default; behind the stats route\'s hooks; served as is with stats: false', async (t) => {
  const off = await build(t)
  t.equal((await fetch(`${off.http}/ws/metrics`)).status, 404)
  const guarded = await build(t, {
    metrics: true,
    stats: {
      preHandler: async (request, reply) => {
        if (request.headers.authorization !== 'Bearer ops') await reply.code(403).send({ error: 'Forbidden' })
      }
    }
  })
  t.equal((await fetch(`${guarded.http}/ws/metrics`)).status, 403, 'the stats preHandler applies')
  const allowed = await fetch(`${guarded.http}/ws/metrics`, { headers: { authorization: 'Bearer ops' } })
  t.equal(allowed.status, 200)
  t.match(allowed.headers.get('content-type'), /^text\/plain; version=0\.0\.4/)
  const noStats = await build(t, { metrics: true, stats: false })
  t.equal((await fetch(`${noStats.http}/ws/metrics`)).status, 200)
  const root = await build(t, { metrics: true, path: '/' })
  t.equal((await fetch(`${root.http}/metrics`)).status, 200, "path '/' serves /metrics")
})

test('prom-client is loaded only when metrics are on', async (t) => {
  // A fresh process each: this test file itself has loaded prom-client.
  const probe = (metrics: boolean): Promise<string> => new Promise((resolve, reject) => {
    const script = `const app = require('fastify')(); app.register(require('./dist/lib/index.js'), { channels: ['a'], metrics: ${metrics} })
      .ready().then(() => { process.stdout.write(String(Object.keys(require.cache).some((k) => k.includes('/prom-client/')))); return app.close() })`
    execFile(process.execPath, ['-e', script], { cwd: join(__dirname, '..'), timeout: 20_000 }, (err, stdout) => err !== null ? reject(err) : resolve(stdout))
  })
  t.equal(await probe(false), 'false', 'metrics off: not loaded')
  t.equal(await probe(true), 'true', 'metrics on: loaded (the probe can tell)')
})

test('bad metrics options are refused, naming what is accepted', async (t) => {
  const cases: Array<[unknown, RegExp]> = [
    ['yes', /metrics must be true, false or \{ registry \}.*got string "yes"/],
    [{ registry: {} }, /metrics\.registry must be a prom-client Registry/],
    [{ registry: new Registry(), prefix: 'x' }, /metrics: unknown key "prefix"; accepted: registry/]
  ]
  for (const [metrics, message] of cases) {
    const app = Fastify()
    t.teardown(() => app.close())
    await t.rejects(async () => { await app.register(notifications, { channels: ['a'], metrics: metrics as boolean }).ready() }, {
      code: 'FST_WS_NOTIFY_INVALID_OPTION', message
    }, String(message))
  }
})
