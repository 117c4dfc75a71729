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
