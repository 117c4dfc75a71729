// Without a NotifyRegistry merge, notify takes (string, string, unknown).
import Fastify from 'fastify'
import notifications, { createPublisher, defineChannels, redisAdapter, type NotificationStats, type NotificationsOptions } from 'fastify-ws-notify'
import { Type } from '@sinclair/typebox'
import { Redis } from 'ioredis'

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false
function assert<T extends true> (): void {}

const app = Fastify()
app.register(notifications, { channels: ['a', 'b'] })
app.register(notifications, { channels: { a: {}, b: { events: {} } }, path: '/live', stats: false })
app.register(notifications, { channels: ['a'], stats: { url: '/s', onRequest: async () => {} } })
// @ts-expect-error channels is required
app.register(notifications, {})
// @ts-expect-error channels must be names or declarations
app.register(notifications, { channels: 42 })
// @ts-expect-error slowConsumer is 'close' | 'drop'
app.register(notifications, { channels: ['a'], slowConsumer: 'ignore' })

assert<Equal<typeof app.notify, (channel: string, type: string, data: unknown) => Promise<number>>>()
const delivered: Promise<number> = app.notify('any', 'thing', { whatever: true })
void delivered
app.notify('any', 'thing', 1)
// @ts-expect-error the channel is a string
app.notify(1, 'thing', {})
// @ts-expect-error data is required
app.notify('any', 'thing')

const stats: NotificationStats = app.notifications.stats()
assert<Equal<typeof stats.total_clients, number>>()
// ?scope=cluster names the live instances that did not answer in time.
assert<Equal<NonNullable<typeof stats.cluster>['unanswered'], string[]>>()
assert<Equal<ReturnType<typeof app.notifications.channels>, string[]>>()
assert<Equal<ReturnType<typeof app.notifications.sendTo>, Promise<number>>>()
assert<Equal<ReturnType<typeof app.notifications.disconnect>, number>>()
const options: NotificationsOptions = { channels: ['x'] }
void options

// Options of the hardening, history, adapter and observability features.
app.register(notifications, {
  channels: { 'user:*': {}, orders: { history: { size: 100, ttl: 60_000 }, latest: true }, chat: { history: false } },
  history: { size: 1000 },
  authenticate: async (request) => request.headers.authorization === undefined ? null : { id: 'u1', role: 'admin' },
  authorize: async (identity, channel) => channel.startsWith('user:') || identity !== null,
  allowedOrigins: ['https://app.example.com'],
  allowedHosts: ['app.example.com'],
  maxConnections: 1000,
  maxConnectionsPerClient: 4,
  maxSubscriptionsPerConnection: 16,
  rateLimit: { perSecond: 10, burst: 20 },
  adapter: redisAdapter({ redis: 'redis://127.0.0.1:6379', keyPrefix: 'app:' }),
  dashboard: true,
  metrics: true,
  asyncapi: false
})
app.register(notifications, { channels: ['a'], rateLimit: false, history: false })
// @ts-expect-error authorize answers a boolean
app.register(notifications, { channels: ['a'], authorize: async () => 'yes' })
app.register(notifications, { channels: ['a'], allowedHosts: (host, request) => host.endsWith('.example.com') && request.url !== '' })
// @ts-expect-error allowedHosts is a list of names or a function answering a boolean
app.register(notifications, { channels: ['a'], allowedHosts: 'app.example.com' })
// @ts-expect-error history needs a size
app.register(notifications, { channels: ['a'], history: { ttl: 1000 } })
app.register(notifications, { channels: { 'user:*': { history: { size: 50, ttl: 60_000, channels: 5000 } } }, authorize: async () => true })
// @ts-expect-error history.channels is a count
app.register(notifications, { channels: { 'user:*': { history: { size: 50, channels: 'many' } } }, authorize: async () => true })
// @ts-expect-error redis is a client or a URL
redisAdapter({ redis: 6379 })
redisAdapter({ redis: 'redis://127.0.0.1:6379', statsTimeout: 250 })
// @ts-expect-error statsTimeout is milliseconds
redisAdapter({ redis: 'redis://127.0.0.1:6379', statsTimeout: '250' })
// An ioredis client (such as fastify.redis) is a RedisClient, for the adapter and the publisher.
const ioredisClient = new Redis({ lazyConnect: true })
redisAdapter({ redis: ioredisClient })
createPublisher({ redis: ioredisClient, channels: ['a'] }).close().catch(() => {})

// createPublisher: the same typed notify as the plugin, from its own channels declaration.
const publisher = createPublisher({
  redis: 'redis://127.0.0.1:6379',
  channels: { jobs: { events: { job_done: Type.Object({ id: Type.String() }) } }, free: {} }
})
const published: Promise<number> = publisher.notify('jobs', 'job_done', { id: 'j1' })
publisher.notify('free', 'anything', [1, 2])
// @ts-expect-error id is a string
publisher.notify('jobs', 'job_done', { id: 1 })
// @ts-expect-error the channel is not declared
publisher.notify('nope', 'job_done', { id: 'j1' })
const closing: Promise<void> = publisher.close()

// Presence: opt-in per channel, bounds at plugin level, authorize told what is asked.
app.register(notifications, {
  channels: { room: { joinLeave: true }, board: { presence: true }, plain: {} },
  presence: { grace: 1000, maxMembers: 10_000, maxListed: 100, info: (identity) => ({ id: typeof identity === 'string' ? identity : identity.id }) },
  authorize: async (_identity, _channel, _request, { action }) => action === 'subscribe'
})
// Existing three-argument authorize hooks keep working.
app.register(notifications, { channels: ['a'], authorize: async (identity, channel) => identity === channel })
// @ts-expect-error presence is a boolean
app.register(notifications, { channels: { a: { presence: 'yes' } } })
// @ts-expect-error action is 'subscribe' | 'presence'
app.register(notifications, { channels: ['a'], authorize: async (_i, _c, _r, { action }) => action === 'publish' })
// @ts-expect-error grace is a number
app.register(notifications, { channels: ['a'], presence: { grace: '1s' } })
assert<Equal<Awaited<ReturnType<typeof app.notifications.presenceStats>>, { readonly clients: number, readonly users: number }>>()
app.notifications.presence('any').then((list) => {
  assert<Equal<typeof list.total, number>>()
  assert<Equal<typeof list.members[number]['client'], string>>()
})
// defineChannels: one declarations object for the plugin and createPublisher, typed as given.
const shared = defineChannels({
  orders: { events: { created: Type.Object({ id: Type.String() }) } },
  live: { history: false }
}, { history: { size: 100 } })
app.register(notifications, { channels: shared, adapter: redisAdapter({ redis: 'redis://127.0.0.1:6379' }) })
const worker = createPublisher({ redis: 'redis://127.0.0.1:6379', channels: shared })
worker.notify('orders', 'created', { id: 'o1' })
// @ts-expect-error id is a string
worker.notify('orders', 'created', { id: 1 })
// @ts-expect-error the channel is not declared
worker.notify('nope', 'created', { id: 'o1' })
// @ts-expect-error defaults take history only
defineChannels({ a: {} }, { size: 1 })
// @ts-expect-error a declaration is an object
defineChannels({ a: 1 })

// Without registry keys: identity is Identity, sendTo and broadcast take any type and data.
app.register(notifications, {
  channels: ['a'],
  hooks: {
    onConnect: (context) => { assert<Equal<typeof context.identity, string | { readonly id: string }>>() },
    onDisconnect: (_context, code: number, reason: string) => { void code; void reason }
  }
})
app.notifications.broadcast('anything', { at: 1 })
app.notifications.sendTo('u1', 'anything', 42)
// @ts-expect-error the type is a string
app.notifications.broadcast(1, {})
// Server-Sent Events (issue 14): opt-in; stats split by transport.
app.register(notifications, { channels: ['a'], sse: true })
// @ts-expect-error sse is a boolean
app.register(notifications, { channels: ['a'], sse: 'yes' })
app.after(() => {
  const split: number = app.notifications.stats().websocket_clients + app.notifications.stats().sse_clients
  void split
})

// The inbox of direct messages (issue 15, part 2).
app.register(notifications, { channels: ['a'], authenticate: async () => 'id', inbox: { size: 100, ttl: 60_000, clients: 1000 } })
app.register(notifications, { channels: ['a'], authenticate: async () => 'id', inbox: {} })
app.register(notifications, { channels: ['a'], inbox: false })
// @ts-expect-error size is a number
app.register(notifications, { channels: ['a'], authenticate: async () => 'id', inbox: { size: '100' } })
// @ts-expect-error inbox is an object or false
app.register(notifications, { channels: ['a'], authenticate: async () => 'id', inbox: true })
assert<Equal<typeof stats.inbox_messages, number>>()
// @ts-expect-error the cluster sums have no inbox_messages (inboxes are in Redis there)
void stats.cluster?.inbox_messages
createPublisher({ redis: 'redis://127.0.0.1:6379', channels: ['a'], inbox: { size: 10, ttl: 60_000 } }).close().catch(() => {})
// Issue 15: conflation on a channel, the write window.
app.register(notifications, { channels: { progress: { delivery: 'latest', conflateBy: 'query_id' }, plain: { delivery: 'all' } }, flushInterval: 5 })
app.register(notifications, { channels: { progress: { delivery: 'latest' } } })
// @ts-expect-error delivery is 'all' | 'latest'
app.register(notifications, { channels: { progress: { delivery: 'newest' } } })
// @ts-expect-error conflateBy names a data field: a string
app.register(notifications, { channels: { progress: { delivery: 'latest', conflateBy: 1 } } })
// @ts-expect-error flushInterval is in milliseconds: a number
app.register(notifications, { channels: ['a'], flushInterval: '5ms' })
assert<Equal<NotificationStats['messages_conflated'], number>>()
// Issue 15: the native fan-out, on unless false; the registration says which path it took.
app.register(notifications, { channels: ['a'], nativeWrites: false })
// @ts-expect-error nativeWrites is a boolean
app.register(notifications, { channels: ['a'], nativeWrites: 'auto' })
assert<Equal<typeof app.notifications.nativeWrites, boolean>>()
// @ts-expect-error read-only: it reports the path, it does not choose it
app.notifications.nativeWrites = false
