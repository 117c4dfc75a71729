// Issue 19.8: broadcast() with the Redis adapter reaches every socket of every instance, from an
// instance or from a worker's createPublisher (a `b` payload on the direct pub/sub channel).
import { test } from 'tap'
import { createPublisher } from '../lib/cluster/external-publisher'
import { REDIS_SKIP as skip, REDIS_URL, buildCluster, testPrefix } from './redis-helper'
import { connect } from './helper'

test('broadcast reaches every socket of every instance, subscribed or not', { skip }, async (t) => {
  const prefix = testPrefix(t)
  const cluster = await buildCluster(t, 2, { channels: ['alpha'] }, { prefix })
  const first = await connect(t, cluster[0].url, '?client_id=a')
  await first.request({ action: 'subscribe', channel: 'alpha' })
  const second = await connect(t, cluster[1].url, '?client_id=b')
  const third = await connect(t, cluster[1].url, '?client_id=c')
  t.equal(await cluster[0].app.notifications.broadcast('maintenance', { at: '22:00' }), 1, 'sockets written on the publishing instance')
  for (const [client, count] of [[first, 3], [second, 2], [third, 2]] as const) {
    t.match((await client.waitFor(count))[count - 1], { type: 'maintenance', data: { at: '22:00' }, broadcast: true })
  }
  const publisher = createPublisher({ redis: REDIS_URL, channels: ['alpha'], keyPrefix: prefix })
  t.teardown(() => publisher.close())
  t.equal(await publisher.broadcast('deploy', { version: 2 }), 2, 'instances reached')
  for (const [client, count] of [[first, 4], [second, 3], [third, 3]] as const) {
    t.match((await client.waitFor(count))[count - 1], { type: 'deploy', data: { version: 2 }, broadcast: true })
  }
  // Direct messages share the broadcasts' pub/sub channel: one from each publisher, once here,
  // comes after any second copy of what that publisher broadcast before it.
  await cluster[0].app.notifications.sendTo('b', 'marker', { from: 'instance' })
  await publisher.sendTo('b', 'marker', { from: 'worker' })
  t.same((await second.waitFor(5)).slice(3).map((frame) => frame.data.from).sort(), ['instance', 'worker'])
  t.same(second.frames.slice(1, 3).map((frame) => frame.type), ['maintenance', 'deploy'], 'each broadcast arrived once')
})
