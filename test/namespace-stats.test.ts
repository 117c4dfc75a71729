// Issue 18.6: namespace channels (user:alice) name identities, so every side route counts them
// under their declared pattern (user:*): stats (local and ?scope=cluster), stats(), metrics and the
// dashboard never show a concrete namespace channel. Declared plain channels keep PROTOCOL.md's meaning.
import { test } from 'tap'
import { Redis } from 'ioredis'
import { build, connect, fetchStats, waitUntil } from './helper'
import { REDIS_SKIP, REDIS_URL, buildCluster, testPrefix } from './redis-helper'
import type { NotificationsOptions } from '../types/index'

const channels = { alpha: {}, 'user:*': {}, 'room:*': {} }
const authenticate: NotificationsOptions['authenticate'] = async (request) => String(request.headers['x-user'] ?? 'anon')
const as = (id: string) => ({ headers: { 'x-user': id } })
const IDENTITIES = ['alice', 'bob', 'carol']

test('stats: user:… channels are one user:* entry, summed; plain channels as before', async (t) => {
  const { app, url, http } = await build(t, {
    channels,
    authenticate,
    // room:* is open to everyone here, so two identities share one room channel.
    authorize: async (identity, channel) => !channel.startsWith('user:') || channel === `user:${String(identity)}`,
    metrics: true,
    dashboard: true
  })
  const sockets = []
  for (const id of IDENTITIES) {
    const client = await connect(t, url, '', as(id))
    await client.request({ action: 'subscribe', channel: `user:${id}` })
    sockets.push(client)
  }
  await sockets[0].request({ action: 'subscribe', channel: 'alpha' })
  await sockets[0].request({ action: 'subscribe', channel: 'room:carol-party' })
  await sockets[1].request({ action: 'subscribe', channel: 'room:carol-party' })

  const body = await (await fetch(`${http}/ws/stats`)).text()
  for (const id of IDENTITIES) t.notOk(body.includes(id), `no identity in /ws/stats (${id})`)
  const stats = JSON.parse(body)
  t.same(stats.channel_stats, { 'user:*': 3, alpha: 1, 'room:*': 2 }, 'subscribers summed per pattern')
  t.same([...stats.active_channels].sort(), ['alpha', 'room:*', 'user:*'], 'each pattern listed once')
  t.equal(stats.total_channels, 3, 'a pattern counts as one channel')

  const cluster = await fetchStats(http, '/ws/stats?scope=cluster')
  const clusterBody = JSON.stringify(cluster)
  for (const id of IDENTITIES) t.notOk(clusterBody.includes(id), `no identity in ?scope=cluster (${id})`)
  t.same(cluster.cluster.channel_stats, { 'user:*': 3, alpha: 1, 'room:*': 2 })
  t.equal(cluster.cluster.total_channels, 3)

  const own = app.notifications.stats()
  t.same(own.channel_stats, stats.channel_stats, 'stats() shows the same aggregated figures')

  const metrics = await (await fetch(`${http}/ws/metrics`)).text()
  for (const id of IDENTITIES) t.notOk(metrics.includes(id), `no identity in /ws/metrics (${id})`)
  t.match(metrics, /\nws_notify_channels_active 3\n/, 'channels_active = total_channels (a pattern counts once)')
  t.match(metrics, /\nws_notify_subscribers\{channel="user:\*"\} 3\n/)

  const page = await (await fetch(`${http}/ws/dashboard`)).text()
  for (const id of IDENTITIES) t.notOk(page.includes(id), `no identity in the dashboard page (${id})`)

  // The last subscriber of the last user:… channel leaving takes user:* out at once.
  for (const client of sockets) {
    client.close()
    await client.closed
  }
  const after = await fetchStats(http)
  t.same(after.channel_stats, {})
  t.same(after.active_channels, [])
  t.equal(after.total_channels, 0)
})

test('a plain channel declared next to a pattern it would match keeps its own entry', async (t) => {
  const { url, http } = await build(t, { channels: { 'user:admin': {}, 'user:*': {} }, authenticate })
  const admin = await connect(t, url, '', as('admin'))
  // user:admin is declared as a plain channel: open to everyone, listed by its own name.
  const other = await connect(t, url, '', as('zed'))
  await admin.request({ action: 'subscribe', channel: 'user:admin' })
  await other.request({ action: 'subscribe', channel: 'user:admin' })
  await other.request({ action: 'subscribe', channel: 'user:zed' })
  const stats = await fetchStats(http)
  t.same(stats.channel_stats, { 'user:admin': 2, 'user:*': 1 })
  t.equal(stats.total_channels, 2)
})

test('cluster: the snapshots written to Redis and their sums list user:* only', { skip: REDIS_SKIP }, async (t) => {
  const prefix = testPrefix(t)
  const cluster = await buildCluster(t, 2, { channels, authenticate }, { prefix, statsInterval: 100 })
  for (const [i, id] of ['alice', 'bob'].entries()) {
    const client = await connect(t, cluster[i].url, '', as(id))
    await client.request({ action: 'subscribe', channel: `user:${id}` })
  }
  await waitUntil(async () => (await fetchStats(cluster[0].http, '/ws/stats?scope=cluster')).cluster.total_clients === 2,
    'both instances reported')
  const body = await (await fetch(`${cluster[0].http}/ws/stats?scope=cluster`)).text()
  t.notOk(body.includes('alice') || body.includes('bob'), 'no identity in the cluster figures')
  t.same(JSON.parse(body).cluster.channel_stats, { 'user:*': 2 })
  const redis = new Redis(REDIS_URL)
  t.teardown(() => redis.disconnect())
  const keys = await redis.keys(`${prefix}stats:*`)
  t.equal(keys.length, 2, 'one snapshot per instance')
  const stored = (await redis.mget(keys)).join('\n')
  t.notOk(stored.includes('alice') || stored.includes('bob'), 'no identity in the snapshots written to Redis')
})
