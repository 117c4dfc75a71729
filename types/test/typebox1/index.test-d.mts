// TypeBox 1.x (`typebox`, what @fastify/type-provider-typebox 6 uses): its schemas type notify as
// 0.34's do, and sit beside 0.34 schemas in one declaration.
import Fastify from 'fastify'
import { Type } from 'typebox'
import { Type as Type034 } from '@sinclair/typebox'
import notifications, { createPublisher, type ChannelEvents, type StaticOf } from 'fastify-ws-notify'
import { createClient } from 'fastify-ws-notify/client'
import WebSocket from 'ws'

const channels = {
  orders: {
    events: {
      created: Type.Object({
        id: Type.String(),
        total: Type.Number(),
        note: Type.Optional(Type.String()),
        tags: Type.Array(Type.String()),
        state: Type.Union([Type.Literal('open'), Type.Literal('paid')]),
        lines: Type.Array(Type.Object({ sku: Type.String(), qty: Type.Integer() }))
      })
    }
  },
  legacy: { events: { ping: Type034.Object({ at: Type034.Integer() }) } }
}

declare module 'fastify-ws-notify' {
  interface NotifyRegistry { channels: typeof channels }
}

const app = Fastify()
app.register(notifications, { channels })

app.notify('orders', 'created', { id: 'o1', total: 9.5, tags: [], state: 'open', lines: [{ sku: 'a', qty: 1 }] })
app.notify('orders', 'created', { id: 'o1', total: 9.5, note: 'gift', tags: ['x'], state: 'paid', lines: [] })
app.notify('legacy', 'ping', { at: 1 })
// @ts-expect-error total is a number
app.notify('orders', 'created', { id: 'o1', total: '9.5', tags: [], state: 'open', lines: [] })
// @ts-expect-error id is required
app.notify('orders', 'created', { total: 1, tags: [], state: 'open', lines: [] })
// @ts-expect-error state is 'open' or 'paid'
app.notify('orders', 'created', { id: 'o1', total: 1, tags: [], state: 'closed', lines: [] })
// @ts-expect-error qty is a number
app.notify('orders', 'created', { id: 'o1', total: 1, tags: [], state: 'open', lines: [{ sku: 'a', qty: 'one' }] })
// @ts-expect-error the event is not declared
app.notify('orders', 'deleted', { id: 'o1' })
// @ts-expect-error at is a number
app.notify('legacy', 'ping', { at: 'now' })

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false
function assert<T extends true> (): void {}
assert<Equal<StaticOf<ReturnType<typeof Type.Integer>>, number>>()
assert<Equal<StaticOf<ReturnType<typeof Type.Null>>, null>>()
assert<Equal<ChannelEvents<typeof channels>['legacy']['ping'], { at: number }>>()

const publisher = createPublisher({ redis: 'redis://127.0.0.1:6379', channels })
publisher.notify('orders', 'created', { id: 'o1', total: 1, tags: [], state: 'open', lines: [] })
// @ts-expect-error tags is a list of strings
publisher.notify('orders', 'created', { id: 'o1', total: 1, tags: [1], state: 'open', lines: [] })
assert<Equal<ChannelEvents<typeof channels>['orders']['created'], {
  id: string
  total: number
  note?: string
  tags: string[]
  state: 'open' | 'paid'
  lines: Array<{ sku: string, qty: number }>
}>>()

// The browser client reads the same declarations.
const client = createClient('ws://127.0.0.1:3000/ws', { WebSocket })
await client.subscribe('orders', (message) => {
  if (message.type === 'created') {
    const total: number = message.data.total
    const note: string | undefined = message.data.note
    // @ts-expect-error id is a string
    const id: number = message.data.id
    void total; void note; void id
  }
})
