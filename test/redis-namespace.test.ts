// Issue 18.2: namespace channels (`user:*` declared, `user:alice` published) cross instances with
// the Redis adapter and from createPublisher: one pub/sub channel per declaration, the concrete
// channel carried in the payload's header. Namespace channels with history (issue 15) get a Stream
// per concrete channel, mirrored by an instance once one of its sockets subscribes.
import { test } from 'tap'
import type { FastifyRequest } from 'fastify'
import { createPublisher } from '../lib/cluster/external-publisher'
import { redisAdapter } from '../lib/cluster/redis-adapter'
import { build, connect, waitUntil } from './helper'
import { REDIS_SKIP, REDIS_URL, buildCluster, notificationsOf, testPrefix } from './redis-helper'

const skip = REDIS_SKIP

/** The bearer token is the identity (as in auth.test.ts). */
async function bearer (request: FastifyRequest): Promise<string | null> {
  const header = request.headers.authorization
  return header?.startsWith('Bearer ') === true ? header.slice(7) : null
}
const as = (id: string) => ({ headers: { authorization: `Bearer ${id}` } })

const channels = { 'user:*': {}, 'room:*': {}, alpha: {} }
const options = {
  channels,
  authenticate: bearer,
  // Private user channels, open rooms.
  authorize: async (identity: unknown, channel: string) => channel === `user:${String(identity)}` || channel.startsWith('room:')
}

test('issue 18.2: notify on a namespace channel reaches its subscribers on another instance, promptly', { skip }, async (t) => {
  const prefix = testPrefix(t)
  const [a, b] = await buildCluster(t, 2, options, { prefix })
  const alice = await connect(t, b.url, '', as('alice'))
  const bob = await connect(t, b.url, '', as('bob'))
  t.match(await alice.request({ action: 'subscribe', channel: 'user:alice' }), { type: 'subscribed' })
  t.match(await bob.request({ action: 'subscribe', channel: 'user:bob' }), { type: 'subscribed' })
  t.match(await alice.request({ action: 'subscribe', channel: 'room:1' }), { type: 'subscribed' })

  const started = Date.now()
  t.equal(await a.app.notify('user:alice', 'hello', { n: 1 }), 0, 'no subscriber on the publishing instance')
  t.ok(Date.now() - started < 2000, `notify resolves once the message is back, not at publishTimeout (${Date.now() - started} ms)`)
  t.equal(await b.app.notify('user:alice', 'hello', { n: 2 }), 1, 'counted on the instance that has the subscriber')
  await a.app.notify('room:1', 'said', { n: 3 })
  await alice.waitFor(1 + 2 + 3)
  t.same(notificationsOf(alice, 'user:alice').map((frame) => frame.data.n), [1, 2])
  const [room] = notificationsOf(alice, 'room:1')
  t.match(room, { type: 'said', channel: 'room:1', data: { n: 3 } })
  t.notOk('offset' in room, 'a namespace channel without history has no offset')
  t.equal((await bob.request({ action: 'ping' })).type, 'pong', 'everything sent before this pong has reached bob')
  t.equal(notificationsOf(bob, 'user:alice').length + notificationsOf(bob, 'user:bob').length, 0, 'bob got nothing of alice\'s')
  t.equal(a.app.notifications.stats().broker_errors, 0)
})

test('issue 18.2: createPublisher publishes namespace channels the same way', { skip }, async (t) => {
  const prefix = testPrefix(t)
  const [a, b] = await buildCluster(t, 2, options, { prefix })
  const onA = await connect(t, a.url, '', as('alice'))
  const onB = await connect(t, b.url, '', as('alice'))
  for (const client of [onA, onB]) await client.request({ action: 'subscribe', channel: 'user:alice' })
  // No authenticate: a publisher has no sockets, so the namespace rule about subscribers is moot.
  const publisher = createPublisher({ redis: REDIS_URL, channels, keyPrefix: prefix })
  t.teardown(() => publisher.close())
  t.equal(await publisher.notify('user:alice', 'hello', { from: 'worker' }), 2, 'both instances received it')
  await publisher.notify('room:7', 'said', {})
  for (const client of [onA, onB]) {
    await client.waitFor(3)
    t.match(notificationsOf(client, 'user:alice'), [{ type: 'hello', channel: 'user:alice', data: { from: 'worker' } }])
  }
  await t.rejects(publisher.notify('user:*', 'hello', {}), { code: 'FST_WS_NOTIFY_UNKNOWN_CHANNEL' }, 'the pattern itself is no channel')
})

test('with Redis, a namespace keeps history per channel across instances: resume, latest, gaps', { skip }, async (t) => {
  const prefix = testPrefix(t)
  const withHistory = { ...options, channels: { 'user:*': { history: { size: 3 } }, 'room:*': { latest: true }, alpha: {} } }
  const [a, b] = await buildCluster(t, 2, withHistory, { prefix })
  const first = await connect(t, a.url, '', as('alice'))
  const reply = await first.request({ action: 'subscribe', channel: 'user:alice' })
  t.match(reply, { type: 'subscribed', channel: 'user:alice', offset: 0, epoch: /^[\w-]{8,}$/ })
  t.equal(await b.app.notify('user:alice', 'tick', { n: 1 }), 0, 'published on B (no subscriber there)')
  t.match((await first.waitFor(3))[2], { channel: 'user:alice', offset: 1, data: { n: 1 } })
  first.ws.terminate()
  for (let n = 2; n <= 3; n++) await a.app.notify('user:alice', 'tick', { n })
  await b.app.notify('user:bob', 'tick', { n: 1 })

  const resumed = await connect(t, b.url, '', as('alice'))
  t.match(await resumed.request({ action: 'subscribe', channel: 'user:alice', since: { epoch: reply.epoch, offset: 1 } }),
    { recovered: true, epoch: reply.epoch, offset: 3 }, 'B read user:alice\'s Stream on first use')
  await resumed.waitFor(4)
  t.same(notificationsOf(resumed, 'user:alice').map((frame) => [frame.offset, frame.data.n]), [[2, 2], [3, 3]])
  await a.app.notify('user:alice', 'tick', { n: 4 })
  t.match((await resumed.waitFor(5))[4], { offset: 4, data: { n: 4 } }, 'then live on B with the next offset')

  // Past the size (3), offset 1 is gone from the Stream: a resume from 0 is a gap.
  const late = await connect(t, a.url, '', as('alice'))
  t.match(await late.request({ action: 'subscribe', channel: 'user:alice', since: { epoch: reply.epoch, offset: 0 } }), { recovered: false, offset: 4 })
  await late.settle()
  t.same(notificationsOf(late, 'user:alice'), [], 'a gap replays nothing')

  const bob = await connect(t, a.url, '', as('bob'))
  t.match(await bob.request({ action: 'subscribe', channel: 'user:bob' }), { offset: 1 }, 'user:bob has offsets of its own')

  await b.app.notify('room:1', 'said', { n: 1 })
  const inRoom = await connect(t, a.url, '', as('carol'))
  await inRoom.request({ action: 'subscribe', channel: 'room:1' })
  t.match((await inRoom.waitFor(3))[2], { channel: 'room:1', offset: 1, data: { n: 1 } }, 'latest on a namespace channel, across instances')
  t.equal(a.app.notifications.stats().broker_errors + b.app.notifications.stats().broker_errors, 0)
})

test('with Redis, the plugin default history applies to namespaces too (as in memory)', { skip }, async (t) => {
  const adapter = redisAdapter({ redis: REDIS_URL, keyPrefix: testPrefix(t) })
  const { app, url } = await build(t, { ...options, authorize: async () => true, channels: { 'room:*': {}, alpha: {} }, history: { size: 5 }, adapter })
  const alice = await connect(t, url, '', as('alice'))
  t.match(await alice.request({ action: 'subscribe', channel: 'room:1' }), { offset: 0 })
  await app.notify('room:1', 'said', {})
  t.match((await alice.waitFor(3))[2], { type: 'said', channel: 'room:1', offset: 1 })
})

test('with Redis, a namespace channel\'s copies are bounded by history.channels; a dropped one is read again, nothing lost', { skip }, async (t) => {
  const [a, b] = await buildCluster(t, 2, { ...options, channels: { 'room:*': { history: { size: 10, channels: 1 } } } })
  await a.app.notify('room:1', 'said', { n: 1 })
  const one = await connect(t, b.url, '', as('x'))
  const reply = await one.request({ action: 'subscribe', channel: 'room:1' })
  t.match(reply, { offset: 1 })
  one.ws.terminate()
  await waitUntil(() => b.app.notifications.stats().total_clients === 0, 'B saw the close')
  const two = await connect(t, b.url, '', as('y'))
  t.match(await two.request({ action: 'subscribe', channel: 'room:2' }), { offset: 0 }, 'room:1\'s copy (no subscriber left) made way')
  await a.app.notify('room:1', 'said', { n: 2 })
  t.equal(b.app.notifications.stats().history_messages, 0, 'B holds one copy: room:2\'s, empty')
  const back = await connect(t, b.url, '', as('x'))
  t.match(await back.request({ action: 'subscribe', channel: 'room:1', since: { epoch: reply.epoch, offset: 1 } }), { recovered: true, offset: 2 })
  t.match((await back.waitFor(3))[2], { offset: 2, data: { n: 2 } })
})
