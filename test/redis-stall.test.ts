// Issue 18.4: Redis stalls longer than publishTimeout (CLIENT PAUSE on a redis-server of this
// test's own, on a free port). A notify() that timed out was written to Redis, so its outcome is
// unknown: it rejects with FST_WS_NOTIFY_BROKER_TIMEOUT (saying it may still be delivered), is
// not delivered locally, and when Redis answers it is delivered once, normally. No subscriber
// ever receives a message twice, on the publishing instance or any other.
import { test } from 'tap'
import { Redis } from 'ioredis'
import { createPublisher } from '../lib/cluster/external-publisher'
import { connect, sleep, waitUntil, type Client } from './helper'
import { REDIS_SKIP, buildCluster, freePort, kill, notificationsOf, publishMarker, startRedis, testPrefix } from './redis-helper'

test('issue 18.4: a stall beyond publishTimeout rejects with BROKER_TIMEOUT and delivers each message at most once', { skip: REDIS_SKIP }, async (t) => {
  const port = await freePort()
  const server = await startRedis(port)
  t.teardown(async () => { await kill(server) })
  const url = `redis://127.0.0.1:${port}`
  const prefix = testPrefix(t, url)
  const channels = { plain: {}, kept: { history: { size: 100 } } }
  const cluster = await buildCluster(t, 2, { channels }, { url, prefix, publishTimeout: 200 })
  const clients: Client[] = []
  for (const { url: instance } of cluster) {
    for (let i = 0; i < 2; i++) {
      const client = await connect(t, instance)
      await client.request({ action: 'subscribe', channel: 'plain' })
      await client.request({ action: 'subscribe', channel: 'kept' })
      clients.push(client)
    }
  }
  const publisher = createPublisher({ redis: url, channels, keyPrefix: prefix, publishTimeout: 200 })
  t.teardown(() => publisher.close())
  await publisher.notify('plain', 'warmup', {})

  const pauser = new Redis(url)
  t.teardown(() => pauser.disconnect())
  // Bounded: Redis answers again by itself after 1 200 ms.
  await pauser.call('CLIENT', 'PAUSE', '1200', 'ALL')
  const outcomes = await Promise.allSettled([
    ...Array.from({ length: 4 }, async (_, n) => await cluster[0].app.notify('plain', 'stalled', { n })),
    ...Array.from({ length: 4 }, async (_, n) => await cluster[0].app.notify('kept', 'stalled', { n })),
    publisher.notify('plain', 'stalled', { n: 'worker' })
  ])
  for (const outcome of outcomes) {
    t.match(outcome, { status: 'rejected', reason: { code: 'FST_WS_NOTIFY_BROKER_TIMEOUT', message: /may still be delivered/ } },
      'a stalled publish rejects as unknown, not as "not delivered"')
  }

  await sleep(1400) // the pause is over
  // One more message on each channel from the other instance: delivery goes on.
  await cluster[1].app.notify('plain', 'after', {})
  await cluster[1].app.notify('kept', 'after', {})
  // Markers from every connection that published while Redis stalled: each comes after what that
  // connection wrote before it, so once a client has them, no copy of a stalled message is on its way.
  const markers = [
    await publishMarker(cluster[0].app, 'plain'),
    await publishMarker(cluster[0].app, 'kept'),
    await publishMarker(publisher, 'plain')
  ]
  for (const client of clients) {
    await waitUntil(() => markers.every((isMarker) => client.frames.some(isMarker)), 'every marker')
  }
  clients.forEach((client, i) => {
    for (const channel of ['plain', 'kept']) {
      const stalled = notificationsOf(client, channel).filter((frame) => frame.type === 'stalled').map((frame) => String(frame.data.n))
      const counts = new Map<string, number>()
      for (const n of stalled) counts.set(n, (counts.get(n) ?? 0) + 1)
      t.ok([...counts.values()].every((count) => count === 1), `client ${i} (instance ${i < 2 ? 'a' : 'b'}), ${channel}: no message twice (${stalled.join(',')})`)
      t.ok(notificationsOf(client, channel).some((frame) => frame.type === 'after'), `client ${i}, ${channel}: delivery goes on`)
    }
    const offsets = notificationsOf(client, 'kept').map((frame) => frame.offset as number)
    t.same(offsets, [...new Set(offsets)].sort((x, y) => x - y), `client ${i}: kept offsets once each, in order`)
  })
  for (const { app } of cluster.slice(0, 1)) t.ok(app.notifications.stats().broker_errors >= 8, 'timeouts are counted')
})
