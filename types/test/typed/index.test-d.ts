// With a NotifyRegistry merge, notify is checked against the channel declarations.
import Fastify from 'fastify'
import { Type } from '@sinclair/typebox'
import notifications from 'fastify-ws-notify'

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
  anything: {}
}

declare module 'fastify-ws-notify' {
  interface NotifyRegistry { channels: typeof channels }
}

const app = Fastify()
app.register(notifications, { channels })

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
