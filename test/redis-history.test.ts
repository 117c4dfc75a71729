// History and resume across instances sharing Redis: offsets are one sequence for the cluster, a
// client cut on one instance resumes on another without gap or duplicate while notifications are
// being published, an instance that starts later serves the history kept before it, and a lost
// history (Redis lost the keys) gives a new epoch: subscribers are closed so their resume learns
// `recovered: false`.
import { test } from 'tap'
import { connect, waitUntil } from './helper'
import { REDIS_SKIP, REDIS_URL, ResumingClient, buildCluster, deleteKeys, notificationsOf, publishMarker, quiet, subscribed, testPrefix } from './redis-helper'
import { CLOSE_HISTORY_RESET } from '../lib/cluster/redis-adapter'

const skip = REDIS_SKIP
const channels = { kept: { history: { size: 5000 } }, short: { history: { size: 5 } } }

test('a client cut on one instance resumes on another: all 1 000, once, in order, recovered', { skip }, async (t) => {
  const cluster = await buildCluster(t, 3, { channels })
  const client = new ResumingClient(t, cluster.map(({ url }) => url), 'kept')
  await client.start()
  await waitUntil(() => client.replies.length === 1, 'subscribed')
  let cut = false
  // Published from the two other instances while the client is cut from the first and resumes on the second.
  for (let n = 0; n < 1000; n += 10) {
    await Promise.all(Array.from({ length: 10 }, async (_, i) => await cluster[1 + ((n + i) % 2)].app.notify('kept', 'tick', { n: n + i })))
    if (!cut && client.received.length >= 300) {
      cut = true
      t.equal(cluster[0].app.notifications.stats().total_clients, 1)
      client.cut()
    }
  }
  t.ok(cut, 'the client was cut mid-stream')
  await waitUntil(() => client.received.length >= 1000, 'every message received', 10_000)
  // Nothing more (no second copy) is on its way: markers from both publishing instances came after it all.
  for (const { app } of cluster.slice(1)) await client.takeMarker(await publishMarker(app, 'kept'))
  t.same(client.received.map((frame) => frame.offset), Array.from({ length: 1000 }, (_, i) => i + 1), 'every offset once, in order')
  t.equal(new Set(client.received.map((frame) => frame.data.n)).size, 1000, 'every message once')
  t.match(client.replies[1], { recovered: true, epoch: client.replies[0].epoch })
  t.equal(cluster[1].app.notifications.stats().total_clients, 1, 'the resume happened on another instance')
})

test('a resume older than what Redis keeps: recovered false, nothing replayed', { skip }, async (t) => {
  const [a, b] = await buildCluster(t, 2, { channels })
  const { client, reply } = await subscribed(t, a.url, 'short')
  await a.app.notify('short', 'tick', { n: 1 })
  await client.waitFor(3)
  for (let n = 2; n <= 10; n++) await b.app.notify('short', 'tick', { n })
  const other = await connect(t, b.url)
  t.match(await other.request({ action: 'subscribe', channel: 'short', since: { offset: 1, epoch: reply.epoch } }),
    { recovered: false, epoch: reply.epoch, offset: 10 })
  const within = await connect(t, b.url)
  t.match(await within.request({ action: 'subscribe', channel: 'short', since: { offset: 6, epoch: reply.epoch } }), { recovered: true })
  t.same(notificationsOf(await within.waitFor(6) && within, 'short').map((frame) => frame.offset), [7, 8, 9, 10])
  await quiet([b.app], 'short', [other])
  t.equal(other.frames.length, 2, 'nothing replayed')
})

test('an instance started later serves the history kept in Redis before it started', { skip }, async (t) => {
  const prefix = testPrefix(t)
  const [a] = await buildCluster(t, 1, { channels }, { prefix })
  const { reply } = await subscribed(t, a.url, 'kept')
  for (let n = 1; n <= 5; n++) await a.app.notify('kept', 'tick', { n })
  const [late] = await buildCluster(t, 1, { channels }, { prefix })
  const client = await connect(t, late.url)
  t.match(await client.request({ action: 'subscribe', channel: 'kept', since: { offset: 2, epoch: reply.epoch } }),
    { recovered: true, epoch: reply.epoch, offset: 5 })
  await client.waitFor(5)
  t.same(notificationsOf(client, 'kept').map((frame) => frame.data.n), [3, 4, 5])
  t.equal(late.app.notifications.stats().history_messages, 5, 'the history was loaded at start')
})

test('history lost in Redis: a new epoch, subscribers closed with 1012, their resume told recovered false', { skip }, async (t) => {
  const prefix = testPrefix(t)
  const cluster = await buildCluster(t, 2, { channels }, { prefix })
  const client = new ResumingClient(t, [cluster[0].url, cluster[1].url], 'kept')
  await client.start()
  await waitUntil(() => client.replies.length === 1, 'subscribed')
  await cluster[1].app.notify('kept', 'tick', { n: 1 })
  await waitUntil(() => client.received.length === 1, 'first message')
  const before = client.replies[0].epoch
  await deleteKeys(REDIS_URL, prefix) // as when Redis restarts without persistence
  await cluster[1].app.notify('kept', 'tick', { n: 2 })
  await waitUntil(() => client.replies.length === 2, 'the client resumed')
  t.same(client.closes, [CLOSE_HISTORY_RESET], 'closed with 1012 by the instance that saw the new epoch')
  t.match(client.replies[1], { recovered: false })
  t.not(client.replies[1].epoch, before, 'a new epoch')
  await cluster[0].app.notify('kept', 'tick', { n: 3 })
  await waitUntil(() => client.received.length === 2, 'live again')
  t.match(client.received[1], { data: { n: 3 }, offset: 2 }, 'offsets of the new epoch')
})
