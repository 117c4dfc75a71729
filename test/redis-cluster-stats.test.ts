// Issue 12: `GET /ws/stats?scope=cluster` asks the live instances at read time, so a client that
// connected to another instance is counted at once, not one statsInterval later; an instance
// that does not answer within statsTimeout is named in `unanswered` and counted from its last
// report.
import { test } from 'tap'
import { Redis } from 'ioredis'
import { connect, fetchStats, tcpSocketOf, waitUntil } from './helper'
import { REDIS_SKIP, REDIS_URL, buildCluster, subscribed, testPrefix } from './redis-helper'

const skip = REDIS_SKIP

test('issue 12: every instance counts a client of another instance at once', { skip }, async (t) => {
  // statsInterval far beyond the test: only an answer given at read time can be this fresh.
  const [a, b] = await buildCluster(t, 2, {}, { statsInterval: 60_000 })
  await subscribed(t, a.url, 'alpha')
  await subscribed(t, b.url, 'beta')
  for (const [name, instance] of [['a', a], ['b', b]] as const) {
    const { cluster } = await fetchStats(instance.http, '/ws/stats?scope=cluster')
    t.match(cluster, { instances: 2, total_clients: 2, total_channels: 2, channel_stats: { alpha: 1, beta: 1 }, unanswered: [] },
      `instance ${name} counts both clients`)
  }
  await a.app.notify('beta', 'tick', {})
  const { cluster } = await fetchStats(a.http, '/ws/stats?scope=cluster')
  t.match(cluster, { total_messages_sent: 1, notifications_published: 1 }, 'a delivery on b is counted by a at once')

  // A peer of b breaks the protocol (an unmasked frame): a's cluster figures count it too.
  const peer = await connect(t, b.url)
  tcpSocketOf(peer).write(Buffer.from([0x81, 0x01, 0x41]))
  await peer.closed
  await waitUntil(() => b.app.notifications.stats().protocol_errors === 1, 'b counts the violation')
  const after = await fetchStats(a.http, '/ws/stats?scope=cluster')
  t.equal(after.cluster.protocol_errors, 1, 'protocol_errors is summed over the cluster')
})

test('issue 12: an instance that does not answer is named, and counted from its last report', { skip }, async (t) => {
  const prefix = testPrefix(t)
  const [a] = await buildCluster(t, 1, {}, { prefix, statsInterval: 60_000, statsTimeout: 200 })
  await subscribed(t, a.url, 'alpha')
  // A listed instance that is not running (crashed before its entry expired), with a last report.
  const redis = new Redis(REDIS_URL)
  t.teardown(() => redis.disconnect())
  const ghost = { total_clients: 5, total_messages_sent: 7, total_connections_ever: 5, channel_stats: { alpha: 5 } }
  await redis.multi().set(`${prefix}stats:ghost`, JSON.stringify(ghost), 'PX', 60_000)
    .zadd(`${prefix}instances`, Date.now() + 60_000, 'ghost').exec()
  const started = Date.now()
  const { cluster } = await fetchStats(a.http, '/ws/stats?scope=cluster')
  t.ok(Date.now() - started < 3000, 'the read is bounded by statsTimeout')
  t.match(cluster, { instances: 2, total_clients: 6, channel_stats: { alpha: 6 }, unanswered: ['ghost'] })
})
