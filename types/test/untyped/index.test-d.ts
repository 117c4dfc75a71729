// Without a NotifyRegistry merge, notify takes (string, string, unknown).
import Fastify from 'fastify'
import notifications, { createPublisher, redisAdapter, type NotificationStats, type NotificationsOptions } from 'fastify-ws-notify'
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

// Server-Sent Events (issue 14): opt-in; stats split by transport.
app.register(notifications, { channels: ['a'], sse: true })
// @ts-expect-error sse is a boolean
app.register(notifications, { channels: ['a'], sse: 'yes' })
app.after(() => {
  const split: number = app.notifications.stats().websocket_clients + app.notifications.stats().sse_clients
  void split
})
