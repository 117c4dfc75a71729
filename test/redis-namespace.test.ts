// Issue 18.2: namespace channels (`user:*` declared, `user:alice` published) cross instances with
// the Redis adapter and from createPublisher: one pub/sub channel per declaration, the concrete
// channel carried in the payload's header. Namespace channels keep no history with Redis: a
// declaration that asks for one is refused at registration, and the plugin-wide default skips them.
import { test } from 'tap'
import type { FastifyRequest } from 'fastify'
import { createPublisher } from '../lib/external-publisher'
import { redisAdapter } from '../lib/redis-adapter'
import { build, connect } from './helper'
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
  t.notOk('offset' in room, 'a namespace channel keeps no history with Redis')
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

test('with Redis, a namespace that asks for history is refused; the plugin default leaves namespaces out', { skip }, async (t) => {
  const adapter = (): ReturnType<typeof redisAdapter> => redisAdapter({ redis: REDIS_URL, keyPrefix: testPrefix(t) })
  await t.rejects(build(t, { ...options, channels: { 'room:*': { history: { size: 5 } } }, adapter: adapter() }),
    { code: 'FST_WS_NOTIFY_INVALID_OPTION', message: /channels\.room:\*\.history: a namespace keeps no history with the redis adapter/ })
  await t.rejects(build(t, { ...options, channels: { 'room:*': { latest: true } }, adapter: adapter() }),
    { code: 'FST_WS_NOTIFY_INVALID_OPTION', message: /channels\.room:\*\.latest/ })

  const { app, url } = await build(t, { ...options, authorize: async () => true, channels: { 'room:*': {}, alpha: {} }, history: { size: 5 }, adapter: adapter() })
  const alice = await connect(t, url, '', as('alice'))
  t.notOk('offset' in await alice.request({ action: 'subscribe', channel: 'room:1' }), 'no offset: the default did not apply')
  t.match(await alice.request({ action: 'subscribe', channel: 'alpha' }), { offset: 0 }, 'a declared channel still inherits it')
  await app.notify('room:1', 'said', {})
  const [, , , said] = await alice.waitFor(4)
  t.match(said, { type: 'said', channel: 'room:1' })
  t.notOk('offset' in said)
})
