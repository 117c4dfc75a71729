// The client typed from the same NotifyRegistry declaration as app.notify.
import { Type } from '@sinclair/typebox'
import WebSocket from 'ws'
import { createClient, NotifyClientError, type Notification, type ChannelEvents } from 'fastify-ws-notify/client'

const channels = {
  db_pool_stats: {
    events: {
      pool_resized: Type.Object({ old_size: Type.Integer(), new_size: Type.Integer() }),
      pool_drained: Type.Object({ pool: Type.String() })
    },
    history: { size: 100, ttl: 60_000 },
    latest: true
  },
  error_firewall: {
    events: { error_blocked: Type.Object({ error_id: Type.String() }) },
    history: false as const
  },
  anything: {},
  'user:*': { events: { badge: Type.Object({ count: Type.Integer() }) } }
}

declare module 'fastify-ws-notify' {
  interface NotifyRegistry { channels: typeof channels }
}

// ws (Node 20) and the browser's WebSocket both fit the WebSocket option.
const client = createClient('ws://127.0.0.1:3000/ws', { WebSocket, reconnect: { initialDelay: 100, maxDelay: 5000 } })
createClient('/ws', { WebSocket: globalThis.WebSocket, pingInterval: 10_000, pongTimeout: 5_000, reconnect: false })

const subscription = await client.subscribe('db_pool_stats', (message) => {
  const channel: 'db_pool_stats' = message.channel
  const offset: number | undefined = message.offset
  const timestamp: string = message.timestamp
  if (message.type === 'pool_resized') {
    const size: number = message.data.new_size
    // @ts-expect-error pool_resized has no `pool`
    void message.data.pool
    void size
  } else {
    const pool: string = message.data.pool
    void pool
  }
  void channel; void offset; void timestamp
})
const name: 'db_pool_stats' = subscription.channel
subscription.unsubscribe()
void name

await client.subscribe('anything', (message) => {
  const data: unknown = message.data
  void data
})

// A namespace's concrete channels are typed by its events; the pattern itself is no channel.
const mine = await client.subscribe('user:42', (message) => {
  const channel: 'user:42' = message.channel
  const count: number = message.data.count
  // @ts-expect-error badge data has no `action`
  void message.data.action
  void channel; void count
})
const mineName: 'user:42' = mine.channel
void mineName
const me: string = 'alice'
await client.subscribe(`user:${me}`, (message) => { const count: number = message.data.count; void count })
// @ts-expect-error the pattern is not a channel
await client.subscribe('user:*', () => {})

// @ts-expect-error the channel is not declared
await client.subscribe('vector_search', () => {})
// @ts-expect-error error_blocked data has no new_size
await client.subscribe('error_firewall', (message) => message.data.new_size)

const off = client.on('gap', ({ channel, since, epoch, offset }) => {
  const where: string = channel
  void where; void since?.offset; void epoch; void offset
})
off()
client.on('recovered', ({ since }) => { const from: number = since.offset; void from })
client.on('state', (state) => { const s: 'connecting' | 'open' | 'reconnecting' | 'closed' = state; void s })
client.on('error', (err) => { const e: NotifyClientError = err; void e.code })
// @ts-expect-error no such event
client.on('nope', () => {})
const state: string = client.state
void state
client.close()

// Without the registry: a declaration passed explicitly.
const typedByHand = createClient<ChannelEvents<typeof channels>>('/ws')
await typedByHand.subscribe('error_firewall', (message: Notification<ChannelEvents<typeof channels>, 'error_firewall'>) => {
  const id: string = message.data.error_id
  void id
})
