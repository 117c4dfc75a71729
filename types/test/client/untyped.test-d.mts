// A client typed explicitly with an open events map: any channel, data unknown.
import { closeCodeAction, createClient, type CloseCodeAction } from 'fastify-ws-notify/client'

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

// Credentials in the query (issue 19.1): a string, or a function asked on every connect.
createClient('/ws', { token: 'abc' })
createClient('/ws', { token: () => 'abc', tokenParam: 'access_token' })
createClient('/ws', { token: async () => await Promise.resolve('abc') })
// @ts-expect-error a token is a string
createClient('/ws', { token: 42 })
// @ts-expect-error token() gives a string
createClient('/ws', { token: () => 42 })

// Close-code classes (issue 19.2).
const action: CloseCodeAction = closeCodeAction(4001)
// @ts-expect-error not an action
const wrong: CloseCodeAction = 'retry'
void action; void wrong

// Transports (issue 14): 'auto' (default), 'websocket' or 'sse'; an EventSource for Node.
class FakeEventSource {
  readonly readyState = 0
  constructor (readonly url: string) {}
  close (): void {}
  addEventListener (_type: 'open' | 'message' | 'error', _listener: (event: { type: string }) => void): void {}
}
const sse = createClient('/ws', { transport: 'sse', EventSource: FakeEventSource })
createClient('/ws', { transport: 'auto' })
createClient('/ws', { transport: 'websocket' })
// @ts-expect-error not a transport
createClient('/ws', { transport: 'long-polling' })
const used: 'websocket' | 'sse' = sse.transport
sse.on('transport', ({ transport, reason }) => { const t: 'websocket' | 'sse' = transport; const r: string = reason; void t; void r })
sse.on('connected', ({ transport }) => { const t: 'websocket' | 'sse' = transport; void t })
// @ts-expect-error the transport in use is never 'auto'
const auto: 'auto' = sse.transport
void used; void auto

// The inbox: each connected's position, and each direct message's offset.
client.on('inbox', ({ epoch, offset, recovered }) => {
  const position: { epoch: string, offset: number } = { epoch, offset }
  const resumed: boolean | undefined = recovered
  void position
  void resumed
})
client.on('message', (direct) => { const offset: number | undefined = direct.offset; void offset })
