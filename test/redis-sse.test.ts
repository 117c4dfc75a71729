// Server-Sent Events across instances (issue 14): with the Redis adapter a notification published
// on one instance reaches streams on another, sendTo reaches a client's streams wherever they
// are, and a stream that reconnects to another instance resumes from the cluster-wide history
// with Last-Event-ID (the epoch and offsets are the cluster's, not one instance's).
import { test } from 'tap'
import { waitUntil } from './helper'
import { REDIS_SKIP, buildCluster } from './redis-helper'
import { openSse } from './sse-helper'

const skip = REDIS_SKIP

test('a stream on one instance receives what another publishes, and resumes on a third', { skip }, async (t) => {
  const [a, b, c] = await buildCluster(t, 3, { sse: true, channels: { alpha: { history: { size: 50 } }, beta: {} } })
  const stream = await openSse(t, `${b.http}/ws/sse?channel=alpha&channel=beta&client_id=sam`)
  await stream.waitFor(3)
  t.equal(await a.app.notify('alpha', 'n', { n: 1 }), 0, 'no subscriber on the publishing instance')
  await a.app.notify('beta', 'b', { b: 1 })
  await stream.waitFor(5)
  t.match(stream.events.slice(3).map((e) => e.data), [{ channel: 'alpha', offset: 1, data: { n: 1 } }, { channel: 'beta', data: { b: 1 } }])
  const id = stream.events[3].id as string
  t.match(id, /^[\w-]+:1$/, 'one history channel: epoch:offset')
  await a.app.notifications.sendTo('sam', 'direct', { to: 'sam' })
  await stream.waitFor(6)
  t.match(stream.events[5], { event: 'direct', data: { data: { to: 'sam' } } })
  stream.close()
  await waitUntil(() => b.app.notifications.stats().sse_clients === 0, 'the stream left b')

  await a.app.notify('alpha', 'n', { n: 2 })
  await a.app.notify('alpha', 'n', { n: 3 })
  // c's mirror of the history holds what a published.
  await waitUntil(() => c.app.notifications.stats().history_messages >= 3, 'c mirrored the history')
  const resumed = await openSse(t, `${c.http}/ws/sse?channel=alpha`, { 'last-event-id': id })
  await waitUntil(() => resumed.events.length >= 4, 'the replay on c')
  t.match(resumed.events[1].data, { type: 'subscribed', recovered: true, offset: 3 })
  t.same(resumed.events.slice(2).map((e) => e.data.data.n), [2, 3], 'what was missed, from the cluster\'s history')
})
