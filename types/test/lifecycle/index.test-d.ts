// NotifyRegistry's identity, directEvents and broadcastEvents type authenticate, authorize, the
// lifecycle hooks, sendTo and broadcast; errors are typed by name.
import Fastify from 'fastify'
import notifications, { createPublisher, errors, type NotifyError, type SocketContext } from 'fastify-ws-notify'

interface User { id: string, role: 'admin' | 'member' }

declare module 'fastify-ws-notify' {
  interface NotifyRegistry {
    identity: User
    directEvents: { order_shipped: { id: string } }
    broadcastEvents: { maintenance: { at: string } }
  }
}

const app = Fastify()
app.register(notifications, {
  channels: ['orders', 'admin'],
  authenticate: async () => ({ id: 'u1', role: 'admin' as const }),
  authorize: (identity, channel) => channel !== 'admin' || identity.role === 'admin',
  hooks: {
    onConnect: (context) => { const role: 'admin' | 'member' = context.identity.role; void role },
    onDisconnect: async (context, code, reason) => { const n: number = code; const s: string = reason + context.clientId; void n; void s },
    onSubscribe: (context, channel) => { const s: string = channel + context.identity.id; void s },
    onUnsubscribe: (context, channel) => { void context.request.url; void channel }
  }
})

// @ts-expect-error authenticate must return a User (or null/false)
app.register(notifications, { channels: ['a'], authenticate: async () => 'u1' })
// @ts-expect-error authorize is given a User, which has no `name`
app.register(notifications, { channels: ['a'], authorize: (identity) => identity.name === 'x' })
// @ts-expect-error a hook's context carries a User
app.register(notifications, { channels: ['a'], hooks: { onConnect: (context) => context.identity.name } })
// @ts-expect-error no such hook
app.register(notifications, { channels: ['a'], hooks: { onOpen: () => {} } })

app.notifications.sendTo('u1', 'order_shipped', { id: '42' })
// @ts-expect-error the direct event is not declared
app.notifications.sendTo('u1', 'order_lost', { id: '42' })
// @ts-expect-error id is a string
app.notifications.sendTo('u1', 'order_shipped', { id: 42 })
app.notifications.broadcast('maintenance', { at: '22:00' })
// @ts-expect-error the broadcast event is not declared
app.notifications.broadcast('deploy', {})
// @ts-expect-error at is a string
app.notifications.broadcast('maintenance', { at: 22 })

const publisher = createPublisher({ redis: 'redis://127.0.0.1:6379', channels: ['orders'] })
publisher.broadcast('maintenance', { at: '22:00' })
publisher.sendTo('u1', 'order_shipped', { id: '42' })
// @ts-expect-error the broadcast event is not declared
publisher.broadcast('deploy', {})

const context = null as unknown as SocketContext
const user: User = context.identity
void user

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false
function assert<T extends true> (): void {}
const err: unknown = new errors.FST_WS_NOTIFY_INVALID_OPTION('x')
if (err instanceof errors.FST_WS_NOTIFY_WEBSOCKET_ORDER) assert<Equal<typeof err.code, 'FST_WS_NOTIFY_WEBSOCKET_ORDER'>>()
assert<Equal<ReturnType<typeof errors.FST_WS_NOTIFY_CLOSED>, NotifyError<'FST_WS_NOTIFY_CLOSED'>>>()
// @ts-expect-error no such error
void errors.FST_WS_NOTIFY_NOPE
