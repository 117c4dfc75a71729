// Without a NotifyRegistry merge, notify takes (string, string, unknown).
import Fastify from 'fastify'
import notifications, { type NotificationStats, type NotificationsOptions } from 'fastify-ws-notify'

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
assert<Equal<ReturnType<typeof app.notifications.channels>, string[]>>()
assert<Equal<ReturnType<typeof app.notifications.sendTo>, Promise<number>>>()
assert<Equal<ReturnType<typeof app.notifications.disconnect>, number>>()
const options: NotificationsOptions = { channels: ['x'] }
void options
