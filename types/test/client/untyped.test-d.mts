// A client typed explicitly with an open events map: any channel, data unknown.
import { createClient } from 'fastify-ws-notify/client'

const client = createClient<Record<string, Record<string, unknown>>>('ws://127.0.0.1:3000/ws')
await client.subscribe('whatever', (message) => {
  const type: string = message.type
  const channel: string = message.channel
  const data: unknown = message.data
  // @ts-expect-error data is unknown until checked
  void message.data.anything
  void type; void channel; void data
})
client.on('message', (direct) => { const type: string = direct.type; void type })
