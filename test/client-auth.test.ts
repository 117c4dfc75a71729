// Issue 19.1: the client sends credentials as a query parameter (browsers cannot set upgrade
// headers), refreshes them on each reconnect, and stops after a refused upgrade (401/403);
// a refused subscription is an `error` event and a rejected subscribe.
import { test, type Test } from 'tap'
import WebSocket from 'ws'
import type { FastifyRequest } from 'fastify'
import { build, sleep, waitUntil } from './helper'
import { loaded, named, open } from './client-helper'

/** A server whose authenticate reads `request.query.token`: `user-N` tokens are user N. */
async function withAuth (t: Test, seen: string[]): ReturnType<typeof build> {
  return await build(t, {
    channels: ['alpha', 'secret'],
    authenticate: async (request: FastifyRequest) => {
      const token = (request.query as { token?: string }).token
      seen.push(token ?? '(none)')
      return token?.startsWith('user-') === true ? { id: token.slice('user-'.length) } : null
    },
    authorize: (_identity, channel) => channel !== 'secret'
  })
}

test('token as a string: sent as ?token=, the identity it names is the client id', async (t) => {
  const seen: string[] = []
  const { url } = await withAuth(t, seen)
  const { client } = await open(t, url, { token: 'user-ann' })
  await client.subscribe('alpha', () => {})
  t.equal(client.clientId, 'ann')
  t.same(seen, ['user-ann'])
})

test('token as a function: asked again on every reconnect', async (t) => {
  const seen: string[] = []
  const { app, url } = await withAuth(t, seen)
  let n = 0
  const { client, events } = await open(t, url, { token: async () => `user-${++n}` })
  await client.subscribe('alpha', () => {})
  t.equal(client.clientId, '1')
  app.notifications.disconnect('1', 1012, 'restart')
  await waitUntil(() => named(events, 'connected').length === 2, 'a reconnect')
  t.same(seen, ['user-1', 'user-2'], 'a fresh token for the reconnect')
  t.equal(client.clientId, '2')
})

test('a refused upgrade (401): an error event, subscribe rejects, no reconnect', async (t) => {
  const seen: string[] = []
  const { url } = await withAuth(t, seen)
  const { client, events } = await open(t, url, { token: 'wrong' })
  await t.rejects(client.subscribe('alpha', () => {}), { name: 'NotifyClientError', code: 'UNAUTHORIZED' })
  t.match(named(events, 'error'), [{ code: 'UNAUTHORIZED', message: /HTTP 401/ }])
  t.match(named(events, 'disconnected'), [{ willReconnect: false }])
  await sleep(200) // far longer than the 5-50 ms backoff
  t.same(seen, ['wrong'], 'asked once: no reconnect')
  t.equal(client.state, 'closed')
})

test('a refused upgrade without its status (as in browsers): found by asking the URL over HTTP', async (t) => {
  const seen: string[] = []
  const { url } = await withAuth(t, seen)
  // Like a browser's WebSocket: the refused response is swallowed, only a close 1006 is seen.
  type Add = (type: string, listener: (event: unknown) => void) => void
  class Opaque extends WebSocket {
    constructor (address: string) {
      super(address)
      const add = this.addEventListener.bind(this) as unknown as Add
      // Error events as browsers give them: no message, so no status.
      const opaque: Add = (type, listener) => add(type, type === 'error' ? () => listener({ type: 'error' }) : listener);
      (this as unknown as { addEventListener: Add }).addEventListener = opaque
    }
  }
  const { client, events } = await open(t, url, { token: 'wrong', WebSocket: Opaque })
  await t.rejects(client.subscribe('alpha', () => {}), { code: 'UNAUTHORIZED' })
  t.match(named(events, 'error'), [{ code: 'UNAUTHORIZED' }])
  await sleep(200)
  t.equal(seen.length, 2, 'the upgrade and one HTTP request: no reconnect')
})

test('an unreachable server is not a refusal: the client keeps trying', async (t) => {
  const { createClient } = await loaded
  const client = createClient('ws://127.0.0.1:9/ws', { WebSocket, token: 'x', reconnect: { initialDelay: 5, maxDelay: 20 } })
  t.teardown(() => client.close())
  const closes: unknown[] = []
  client.on('disconnected', (event) => closes.push(event))
  await waitUntil(() => closes.length >= 3, 'three attempts')
  t.match(closes, [{ willReconnect: true }, { willReconnect: true }, { willReconnect: true }])
})

test('a refused subscription (FORBIDDEN): an error event and a rejected subscribe', async (t) => {
  const { url } = await withAuth(t, [])
  const { client, events } = await open(t, url, { token: 'user-bob' })
  await t.rejects(client.subscribe('secret', () => {}), { code: 'FORBIDDEN', channel: 'secret' })
  t.match(named(events, 'error'), [{ code: 'FORBIDDEN', channel: 'secret' }])
  t.equal(client.state, 'open', 'the connection stays')
})
