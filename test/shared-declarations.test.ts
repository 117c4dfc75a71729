// Issue 19.7: one declarations object shared by the instances and a worker's createPublisher, the
// default history folded in (defineChannels), so the worker's messages get offsets the instances
// replay; createPublisher asks for none of the plugin-only options (authenticate, ...).
import { test } from 'tap'
import { Type } from '@sinclair/typebox'
import { Writable } from 'node:stream'
import Fastify from 'fastify'
import { createPublisher } from '../lib/cluster/external-publisher'
import { defineChannels } from '../lib/config/declarations'
import notifications from '../lib/index'
import { redisAdapter } from '../lib/cluster/redis-adapter'
import { REDIS_SKIP as skip, REDIS_URL, buildCluster, notificationsOf, subscribed, testPrefix } from './redis-helper'
import { connect } from './helper'
import type { ChannelDeclaration } from '../types/index'

const channels = defineChannels({
  orders: { events: { created: Type.Object({ id: Type.String() }) } },
  audit: { history: false },
  'user:*': { events: { badge: Type.Object({ count: Type.Integer() }) } }
}, { history: { size: 100 } })

test('defineChannels folds the default history into each channel but namespaces and explicit ones', async (t) => {
  const declared: Readonly<Record<string, ChannelDeclaration>> = channels
  t.same(declared.orders.history, { size: 100 })
  t.equal(declared.audit.history, false)
  t.notOk('history' in declared['user:*'])
  t.ok(Object.isFrozen(channels))
  t.throws(() => defineChannels({ a: {} }, { size: 1 } as never), { code: 'FST_WS_NOTIFY_INVALID_OPTION', message: /unknown default "size"/ })
  t.throws(() => defineChannels(['a'] as never), { code: 'FST_WS_NOTIFY_INVALID_OPTION' })
})

test('a worker\'s messages on the shared declarations get offsets that instances replay', { skip }, async (t) => {
  const prefix = testPrefix(t)
  const authenticate = async (request: { query: unknown }): Promise<string> => (request.query as { client_id: string }).client_id
  const cluster = await buildCluster(t, 2, { channels, authenticate }, { prefix })
  const { client: live, reply: first } = await subscribed(t, cluster[0].url, 'orders', '?client_id=u1')
  // No authenticate here, though 'user:*' needs one on an instance: a publisher has no subscribers.
  const publisher = createPublisher({ redis: REDIS_URL, channels, keyPrefix: prefix })
  t.teardown(() => publisher.close())
  t.equal(await publisher.notify('orders', 'created', { id: 'o-1' }), 2)
  await publisher.notify('orders', 'created', { id: 'o-2' })
  await live.waitFor(4)
  const delivered = notificationsOf(live, 'orders')
  t.same(delivered.map((frame) => [frame.data.id, frame.offset]), [['o-1', 1], ['o-2', 2]], 'offsets from Redis')

  // A client of the other instance resumes after o-1 and gets o-2 replayed.
  const late = await connect(t, cluster[1].url, '?client_id=u2')
  const reply = await late.request({ action: 'subscribe', channel: 'orders', since: { offset: 1, epoch: first.epoch } })
  t.match(reply, { type: 'subscribed', recovered: true })
  await late.waitFor(3)
  t.same(notificationsOf(late, 'orders').map((frame) => [frame.data.id, frame.offset]), [['o-2', 2]])

  const { client: user } = await subscribed(t, cluster[1].url, 'user:u3', '?client_id=u3')
  t.equal(await publisher.notify('user:u3', 'badge', { count: 1 }), 2)
  t.match((await user.waitFor(3))[2], { type: 'badge', channel: 'user:u3', data: { count: 1 } })
})

test('a worker given other declarations: instances warn that its messages have no offset', { skip }, async (t) => {
  const prefix = testPrefix(t)
  const lines: string[] = []
  const stream = new Writable({ write (chunk, _encoding, done) { lines.push(String(chunk)); done() } })
  const app = Fastify({ logger: { level: 'warn', stream } })
  t.teardown(() => app.close())
  await app.register(notifications, { channels: ['orders'], history: { size: 10 }, adapter: redisAdapter({ redis: REDIS_URL, keyPrefix: prefix }) })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }
  const { client } = await subscribed(t, `ws://127.0.0.1:${port}`, 'orders')
  // The README's old mistake: the plugin-wide history given to the instances only.
  const publisher = createPublisher({ redis: REDIS_URL, channels: ['orders'], keyPrefix: prefix })
  t.teardown(() => publisher.close())
  await publisher.notify('orders', 'created', { id: 'o-1' })
  await publisher.notify('orders', 'created', { id: 'o-2' })
  await client.waitFor(4)
  t.notOk('offset' in client.frames[2], 'delivered live, without offset')
  const warnings = lines.filter((line) => line.includes('without offset'))
  t.equal(warnings.length, 1, 'warned once per channel')
  t.match(JSON.parse(warnings[0]), { channel: 'orders', msg: /give createPublisher the same declarations/ })
})
