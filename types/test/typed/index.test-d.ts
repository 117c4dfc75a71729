// With a NotifyRegistry merge, notify is checked against the channel declarations.
import Fastify from 'fastify'
import { Type } from '@sinclair/typebox'
import notifications, { type ChannelEvents, type ChannelName, type EventsOfChannel } from 'fastify-ws-notify'

const channels = {
  db_pool_stats: {
    events: {
      pool_resized: Type.Object({ old_size: Type.Integer(), new_size: Type.Integer() })
    }
  },
  error_firewall: {
    events: {
      error_blocked: Type.Object({ error_id: Type.String(), count: Type.Optional(Type.Number()) })
    }
  },
  anything: {},
  room: { joinLeave: true },
  board: { presence: true },
  'team:*': { presence: true },
  // Namespaces: `user:42` is a channel of `user:*`, typed by its events; `user:*` itself is not one.
  'user:*': {
    events: { badge: Type.Object({ count: Type.Integer() }) }
  },
  'user:admin:*': {
    events: { audit: Type.Object({ action: Type.String() }) }
  }
}

declare module 'fastify-ws-notify' {
  interface NotifyRegistry { channels: typeof channels }
}

const app = Fastify()
app.register(notifications, { channels, authenticate: async () => 'u1' })

app.notify('db_pool_stats', 'pool_resized', { old_size: 20, new_size: 30 })
app.notify('error_firewall', 'error_blocked', { error_id: 'e1' })
app.notify('anything', 'free_form', { any: ['thing'] })
app.notify('anything', 'other', 42)
app.notifications.notify('db_pool_stats', 'pool_resized', { old_size: 1, new_size: 2 })

// @ts-expect-error new_size is missing
app.notify('db_pool_stats', 'pool_resized', { old_size: 20 })
// @ts-expect-error old_size is a number
app.notify('db_pool_stats', 'pool_resized', { old_size: '20', new_size: 30 })
// @ts-expect-error the event type is not declared
app.notify('db_pool_stats', 'pool_drained', { old_size: 20, new_size: 30 })
// @ts-expect-error the channel is not declared
app.notify('vector_search', 'search_progress', {})
// @ts-expect-error an event of another channel
app.notify('error_firewall', 'pool_resized', { old_size: 20, new_size: 30 })

// Namespace channels: concrete names typed by the pattern's events.
app.notify('user:42', 'badge', { count: 1 })
app.notifications.notify('user:alice', 'badge', { count: 2 })
const userId: string = '42'
app.notify(`user:${userId}`, 'badge', { count: 3 })
// The most specific namespace types its channels, as at run time.
app.notify('user:admin:7', 'audit', { action: 'login' })
// @ts-expect-error badge data has no `action`
app.notify('user:42', 'badge', { action: 'x' })
// @ts-expect-error the count is an integer, not a string
app.notify('user:42', 'badge', { count: '1' })
// @ts-expect-error the event type is not declared for user:*
app.notify('user:42', 'pool_resized', { old_size: 20, new_size: 30 })
// @ts-expect-error user:admin:7 is of user:admin:*, whose events do not include badge
app.notify('user:admin:7', 'badge', { count: 1 })
// @ts-expect-error the pattern is not a channel
app.notify('user:*', 'badge', { count: 1 })
// @ts-expect-error the pattern is not a channel
app.notify('user:admin:*', 'audit', { action: 'login' })
// @ts-expect-error the pattern is not a channel
app.notifications.notify('user:*', 'badge', { count: 1 })

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false
function assert<T extends true> (): void {}
type Events = ChannelEvents<typeof channels>
assert<Equal<EventsOfChannel<Events, 'user:42'>, { badge: { count: number } }>>()
assert<Equal<EventsOfChannel<Events, 'user:admin:7'>, { audit: { action: string } }>>()
assert<Equal<EventsOfChannel<Events, 'db_pool_stats'>['pool_resized'], { old_size: number, new_size: number }>>()
assert<Equal<ChannelName<Events>, 'db_pool_stats' | 'error_firewall' | 'anything' | 'room' | 'board' | `team:${string}` | `user:${string}` | `user:admin:${string}`>>()

// Presence: only channels declared with presence (or joinLeave), namespaces included.
app.notifications.presence('room').then((list) => {
  const first: string | undefined = list.members[0]?.client
  const total: number = list.total
  const truncated: boolean = list.truncated
  void [first, total, truncated]
})
app.notifications.presenceStats('team:blue').then(({ clients, users }) => { const n: number = clients + users; void n })
app.notifications.presence('board')
// @ts-expect-error db_pool_stats has no presence
app.notifications.presence('db_pool_stats')
// @ts-expect-error anything has no presence
app.notifications.presenceStats('anything')
