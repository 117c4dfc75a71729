// The Redis adapter against a real Redis: three instances on 127.0.0.1 ports sharing it. Every
// notification from any instance reaches every subscriber once, in one order per channel; sendTo
// crosses instances; cluster stats; options; only the clients it opened are closed.
import { test } from 'tap'
import { Redis } from 'ioredis'
import Fastify from 'fastify'
import { Type } from '@sinclair/typebox'
import notifications from '../lib/index'
import { redisAdapter } from '../lib/cluster/redis-adapter'
import { createPublisher } from '../lib/cluster/external-publisher'
import { build, connect, fetchStats, waitUntil, type Client, type Frame } from './helper'
import { REDIS_SKIP, REDIS_URL, buildCluster, notificationsOf, quiet, subscribed, testPrefix } from './redis-helper'

const skip = REDIS_SKIP

test('every notification from any instance reaches every subscriber once, in one order per channel', { skip }, async (t) => {
  const cluster = await buildCluster(t, 3, { channels: { alpha: {}, kept: { history: { size: 1000 } } } })
  const clients: Client[] = []
  for (const { url } of cluster) {
    for (let i = 0; i < 2; i++) {
      const client = await connect(t, url)
      await client.request({ action: 'subscribe', channel: 'alpha' })
      await client.request({ action: 'subscribe', channel: 'kept' })
      clients.push(client)
    }
  }
  // Published concurrently from all three instances: Redis decides one order, every socket sees it.
  const counts = await Promise.all(Array.from({ length: 60 }, async (_, n) => {
    const { app } = cluster[n % 3]
    return await Promise.all([app.notify('alpha', 'tick', { n }), app.notify('kept', 'tick', { n })])
  }))
  t.ok(counts.every(([alpha, kept]) => alpha === 2 && kept === 2), 'notify resolves with the sockets written on its own instance')
  for (const client of clients) await client.waitFor(1 + 2 + 120)
  // Nothing more (no second copy) is on its way: markers from every instance came after it all.
  const apps = cluster.map(({ app }) => app)
  await quiet(apps, 'alpha', clients)
  await quiet(apps, 'kept', clients)
  t.ok(clients.every((client) => client.frames.length === 1 + 2 + 120), 'nothing beyond the 120 messages arrived')
  const order = (client: Client, channel: string): number[] => notificationsOf(client, channel).map((frame) => frame.data.n)
  for (const channel of ['alpha', 'kept']) {
    const reference = order(clients[0], channel)
    t.same([...reference].sort((a, b) => a - b), Array.from({ length: 60 }, (_, n) => n), `${channel}: each message once`)
    t.ok(clients.every((client) => JSON.stringify(order(client, channel)) === JSON.stringify(reference)), `${channel}: same order everywhere`)
  }
  t.same(notificationsOf(clients[3], 'kept').map((frame) => frame.offset), Array.from({ length: 60 }, (_, n) => n + 1),
    'offsets are one sequence for the cluster')
  t.notOk('offset' in notificationsOf(clients[0], 'alpha')[0], 'no offset without history')
})

test('sendTo reaches every socket of a client id on every instance', { skip }, async (t) => {
  const [a, b, c] = await buildCluster(t, 3)
  const onB = await connect(t, b.url, '?client_id=bob')
  const onC = await connect(t, c.url, '?client_id=bob')
  const other = await connect(t, c.url, '?client_id=alice')
  t.equal(await a.app.notifications.sendTo('bob', 'hello', { x: 1 }), 0, 'no socket of bob on the publishing instance')
  for (const client of [onB, onC]) t.match((await client.waitFor(2))[1], { type: 'hello', data: { x: 1 } })
  t.equal(await b.app.notifications.sendTo('bob', 'again', null), 1, 'the local count on b')
  await onC.waitFor(3)
  // A message of b's to alice comes after whatever b published before it: if it is her first, she got nothing.
  await b.app.notifications.sendTo('alice', 'marker', {})
  t.match((await other.waitFor(2))[1], { type: 'marker' }, 'alice got nothing before it')
})

test('subscribed carries the same epoch and offset on every instance; latest crosses instances', { skip }, async (t) => {
  const cluster = await buildCluster(t, 3, { channels: { state: { history: { size: 5 }, latest: true } } })
  await cluster[0].app.notify('state', 'pool', { used: 1 })
  await cluster[1].app.notify('state', 'pool', { used: 2 })
  const replies: Frame[] = []
  for (const { url } of cluster) {
    const { client, reply } = await subscribed(t, url, 'state')
    t.match((await client.waitFor(3))[2], { type: 'pool', data: { used: 2 }, offset: 2 }, 'the latest message, from another instance')
    replies.push(reply)
  }
  t.match(replies[0], { epoch: /^[\w-]{8,}$/, offset: 2 })
  t.ok(replies.every((reply) => reply.epoch === replies[0].epoch && reply.offset === 2))
})

test('cluster stats sum the live instances next to this instance\'s own figures', { skip }, async (t) => {
  const cluster = await buildCluster(t, 3, {}, { statsInterval: 100 })
  await subscribed(t, cluster[0].url, 'alpha')
  await subscribed(t, cluster[1].url, 'alpha')
  await subscribed(t, cluster[2].url, 'beta')
  await cluster[2].app.notify('alpha', 'tick', {})
  // Figures of the other instances are at most one interval old: wait for a report after the last change.
  await waitUntil(async () => {
    const { cluster: sums } = await fetchStats(cluster[0].http, '/ws/stats?scope=cluster')
    return sums.total_messages_sent === 2 && sums.total_clients === 3 && sums.notifications_published === 1
  }, 'every instance reported its figures')
  const stats = await fetchStats(cluster[0].http, '/ws/stats?scope=cluster')
  t.match(stats, { total_clients: 1, channel_stats: { alpha: 1 }, broker_errors: 0 }, 'own figures')
  t.match(stats.cluster, { instances: 3, total_clients: 3, total_channels: 2, channel_stats: { alpha: 2, beta: 1 }, notifications_published: 1 })
  t.notOk('cluster' in await fetchStats(cluster[0].http), 'no cluster figures unless asked')
  t.equal((await fetch(`${cluster[0].http}/ws/stats?scope=galaxy`)).status, 400, 'an unknown scope is refused')

  await cluster[2].app.close()
  const after = await fetchStats(cluster[0].http, '/ws/stats?scope=cluster')
  t.equal(after.cluster.instances, 2, 'a closed instance leaves at once')
})

test('without an adapter, the cluster is this instance alone', async (t) => {
  const { http, url } = await build(t)
  await subscribed(t, url, 'alpha')
  const stats = await fetchStats(http, '/ws/stats?scope=cluster')
  t.match(stats.cluster, { instances: 1, total_clients: 1, channel_stats: { alpha: 1 } })
})

test('the adapter closes only the clients it opened', { skip }, async (t) => {
  const prefix = testPrefix(t)
  const redis = new Redis(REDIS_URL)
  t.teardown(() => redis.disconnect())
  const app = Fastify()
  await app.register(notifications, { channels: ['alpha'], adapter: redisAdapter({ redis, keyPrefix: prefix }) })
  const before = (await redis.client('LIST') as string).split('\n').length
  await app.close()
  t.equal(redis.status, 'ready', 'the user\'s client stays open')
  t.equal(await redis.ping(), 'PONG')
  await waitUntil(async () => (await redis.client('LIST') as string).split('\n').length === before - 1,
    'the adapter\'s own subscriber connection is gone')
  t.equal(redis.listenerCount('error'), 0, 'its error listener is removed from the user\'s client')
})

test('options are checked, naming the option', async (t) => {
  t.throws(() => redisAdapter({} as never), { code: 'FST_WS_NOTIFY_INVALID_OPTION', message: /redis must be an ioredis client .* got undefined/ })
  t.throws(() => redisAdapter({ redis: 'http://x' }), { message: /redis:\/\/ URL; got string "http:\/\/x"/ })
  t.throws(() => redisAdapter({ redis: REDIS_URL, keyPrefix: '' }), { message: /keyPrefix must be a non-empty string/ })
  t.throws(() => redisAdapter({ redis: REDIS_URL, publishTimeout: 0 }), { message: /publishTimeout must be an integer >= 1; got number 0/ })
  t.throws(() => redisAdapter({ redis: REDIS_URL, statsInterval: 5 }), { message: /statsInterval must be an integer >= 100/ })
  const app = Fastify()
  t.teardown(() => app.close())
  await t.rejects(async () => await app.register(notifications, { channels: ['a'], adapter: 5 as never }).ready(),
    { code: 'FST_WS_NOTIFY_INVALID_OPTION', message: /adapter must be an adapter such as redisAdapter\(\{ redis \}\); got number 5/ })
})

test('registration fails with BROKER_UNAVAILABLE when Redis cannot be reached in time', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  // Port 1 on 127.0.0.1: nothing listens there.
  await t.rejects(async () => await app.register(notifications, { channels: ['a'], adapter: redisAdapter({ redis: 'redis://127.0.0.1:1', connectTimeout: 300 }) }).ready(),
    { code: 'FST_WS_NOTIFY_BROKER_UNAVAILABLE', message: /not connected after 300 ms/ })
})

test('issue 18.8: with default options, Redis down at start fails with BROKER_UNAVAILABLE, not the plugin timeout', async (t) => {
  // Port 1 on 127.0.0.1: nothing listens there. Fastify's default pluginTimeout (10 000 ms).
  const app = Fastify()
  t.teardown(() => app.close())
  await t.rejects(async () => await app.register(notifications, { channels: ['a'], adapter: redisAdapter({ redis: 'redis://127.0.0.1:1' }) }).ready(),
    { code: 'FST_WS_NOTIFY_BROKER_UNAVAILABLE', message: /redis:\/\/127\.0\.0\.1:1.*not connected after 5000 ms/ })
  // A shorter pluginTimeout shortens the default connectTimeout with it; a password never shows.
  const quick = Fastify({ pluginTimeout: 1000 })
  t.teardown(() => quick.close())
  await t.rejects(async () => await quick.register(notifications, { channels: ['a'], adapter: redisAdapter({ redis: 'redis://user:secret@127.0.0.1:1/0' }) }).ready(),
    { code: 'FST_WS_NOTIFY_BROKER_UNAVAILABLE', message: /^(?!.*secret).*redis:\/\/user:\*\*\*@127\.0\.0\.1:1\/0.*not connected after 500 ms/ })
})

test('createPublisher: the same typed, validated notify from outside Fastify reaches every instance', { skip }, async (t) => {
  const channels = {
    orders: { events: { created: Type.Object({ id: Type.String() }) }, history: { size: 10 } },
    plain: {}
  }
  const prefix = testPrefix(t)
  const cluster = await buildCluster(t, 2, { channels }, { prefix })
  const clients = [(await subscribed(t, cluster[0].url, 'orders')).client, (await subscribed(t, cluster[1].url, 'orders')).client]
  const publisher = createPublisher({ redis: REDIS_URL, channels, keyPrefix: prefix })
  t.teardown(() => publisher.close())
  t.equal(await publisher.notify('orders', 'created', { id: 'o-1' }), 2, 'resolves with the instances reached')
  await publisher.notify('orders', 'created', { id: 'o-2' })
  for (const client of clients) {
    await client.waitFor(4)
    t.same(notificationsOf(client, 'orders').map((frame) => [frame.data.id, frame.offset]), [['o-1', 1], ['o-2', 2]])
  }
  await t.rejects(publisher.notify('nope' as never, 'created', { id: 'x' }), { code: 'FST_WS_NOTIFY_UNKNOWN_CHANNEL' })
  await t.rejects(publisher.notify('orders', 'created', { id: 5 } as never), { code: 'FST_WS_NOTIFY_INVALID_PAYLOAD' })
  t.throws(() => createPublisher({ redis: 7 as never, channels }), { code: 'FST_WS_NOTIFY_INVALID_OPTION', message: /createPublisher: redis must be/ })
  t.throws(() => createPublisher({ redis: REDIS_URL, channels: 3 as never }), { message: /channels must be a list of names or a map/ })
  await publisher.close()
  await t.rejects(publisher.notify('orders', 'created', { id: 'late' }), { code: 'FST_WS_NOTIFY_CLOSED' })
})

test('while Redis cannot be reached, notify rejects with BROKER_UNAVAILABLE; local delivery of channels without history goes on', { skip }, async (t) => {
  const prefix = testPrefix(t)
  const redis = new Redis(REDIS_URL)
  redis.on('error', () => {})
  t.teardown(() => redis.disconnect())
  const { app, url } = await build(t, {
    channels: { plain: {}, kept: { history: { size: 10 } } },
    adapter: redisAdapter({ redis, keyPrefix: prefix })
  })
  const client = await connect(t, url, '?client_id=carol')
  await client.request({ action: 'subscribe', channel: 'plain' })
  await client.request({ action: 'subscribe', channel: 'kept' })
  redis.disconnect() // the publishing connection is gone; the adapter's subscription is not
  await t.rejects(app.notify('plain', 'tick', { n: 1 }), { code: 'FST_WS_NOTIFY_BROKER_UNAVAILABLE', statusCode: 503, delivered: 1 })
  await t.rejects(app.notifications.sendTo('carol', 'direct', {}), { code: 'FST_WS_NOTIFY_BROKER_UNAVAILABLE', delivered: 1 })
  await t.rejects(app.notify('kept', 'tick', { n: 2 }), { code: 'FST_WS_NOTIFY_BROKER_UNAVAILABLE', delivered: 0 },
    'a history message is not delivered: only Redis gives offsets')
  const frames = await client.waitFor(5)
  t.same(frames.slice(3).map((frame) => frame.type), ['tick', 'direct'])
  t.equal(app.notifications.stats().broker_errors, 3, 'each failure is counted')

  await waitUntil(() => redis.status === 'end', 'the user\'s client is closed')
  await redis.connect()
  t.equal(await app.notify('kept', 'tick', { n: 3 }), 1, 'delivery resumes once Redis is reachable')
  t.match((await client.waitFor(6))[5], { data: { n: 3 }, offset: 1 })
})
