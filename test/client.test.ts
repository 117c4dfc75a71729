// fastify-ws-notify/client in Node with `ws`: resume after the server cuts the connection in the
// middle of a burst, gap when a resume cannot be complete, dead-connection detection, server
// errors, and the file served at /ws/client.js.
import { test, type Test } from 'tap'
import Fastify from 'fastify'
import WebSocket from 'ws'
import type { Socket } from 'node:net'
import { build, waitUntil, within } from './helper'
import notifications from '../lib/index'
import type { ClientEventMap, ClientOptions, NotifyClient } from '../types/client.mjs' with { 'resolution-mode': 'import' }

type Events = Record<string, Record<string, unknown>>
type Client = NotifyClient<Events>
interface Received { type: string, channel: string, data: unknown, offset?: number }

// The client is ESM (lib/client/index.mts); this CommonJS test loads it with import().
const loaded = import('../lib/client/index.mjs') as Promise<{ createClient: (url: string, options?: ClientOptions) => Client }>

/** A client on `url` that records its events, closed in teardown. */
async function open (t: Test, url: string, options: ClientOptions = {}): Promise<{ client: Client, events: Array<[keyof ClientEventMap, unknown]> }> {
  const { createClient } = await loaded
  const client = createClient(`${url}/ws`, { WebSocket, reconnect: { initialDelay: 5, maxDelay: 50 }, ...options })
  t.teardown(() => client.close())
  const events: Array<[keyof ClientEventMap, unknown]> = []
  for (const name of ['state', 'connected', 'disconnected', 'recovered', 'gap', 'message', 'error'] as const) {
    client.on(name, (payload) => events.push([name, payload]))
  }
  return { client, events }
}

const named = (events: Array<[keyof ClientEventMap, unknown]>, name: keyof ClientEventMap): unknown[] =>
  events.filter(([event]) => event === name).map(([, payload]) => payload)

test('cut in the middle of 1 000 notifications: after reconnecting, all 1 000 exactly once, in order', async (t) => {
  const { app, url } = await build(t, { channels: { feed: { history: { size: 2000 } } } })
  const { client, events } = await open(t, url, { clientId: 'dashboard' })
  const received: Received[] = []
  await client.subscribe('feed', (message) => { received.push(message) })
  t.equal(client.state, 'open')

  const total = 1000
  let cut = 0
  for (let n = 1; n <= total; n++) {
    await app.notify('feed', 'tick', { n })
    // The server cuts the client twice while the burst goes on; each cut lands mid-stream.
    if (n === 300 || n === 700) {
      // The second cut waits until the client is back on the channel, so it cuts a live subscription.
      await waitUntil(() => app.notifications.stats().channel_stats.feed === 1, 'the client to be subscribed')
      cut += app.notifications.disconnect('dashboard', 1011, 'cut by test')
    }
    if (n % 25 === 0) await new Promise((resolve) => setImmediate(resolve))
  }
  t.equal(cut, 2, 'the server cut the client twice')
  await waitUntil(() => received.length >= total, `all ${total} notifications (got ${received.length})`, 10_000)
  t.same(received.map((message) => message.offset), Array.from({ length: total }, (_, i) => i + 1), 'every offset once, in order')
  t.same(received.map((message) => (message.data as { n: number }).n), Array.from({ length: total }, (_, i) => i + 1))
  t.match(received[0], { type: 'tick', channel: 'feed', data: { n: 1 }, timestamp: String, offset: 1 }, 'whole envelopes')
  const recovered = named(events, 'recovered')
  t.equal(recovered.length, 2, 'recovered after each cut')
  t.match(recovered[0], { channel: 'feed', since: { offset: Number, epoch: String } })
  t.same(named(events, 'gap'), [], 'no gap')
  t.match(named(events, 'disconnected'), [{ code: 1011, willReconnect: true }, { code: 1011, willReconnect: true }])
  t.equal(named(events, 'connected').length, 3)
  t.equal(client.clientId, 'dashboard')
})

test('a resume older than history: recovered false and a gap event', async (t) => {
  const { app, url } = await build(t, { channels: { small: { history: { size: 5 } } } })
  const { client, events } = await open(t, url, { clientId: 'late' })
  const received: Received[] = []
  await client.subscribe('small', (message) => { received.push(message) })
  await app.notify('small', 'tick', { n: 1 })
  await waitUntil(() => received.length === 1, 'the first notification')
  // Cut, and publish 10 before the client can be back (same tick): history keeps only 5.
  app.notifications.disconnect('late')
  const sends: Array<Promise<number>> = []
  for (let n = 2; n <= 11; n++) sends.push(app.notify('small', 'tick', { n }))
  await Promise.all(sends)
  await waitUntil(() => named(events, 'gap').length === 1, 'a gap event')
  t.match(named(events, 'gap')[0], { channel: 'small', since: { offset: 1 }, offset: 11 })
  t.same(named(events, 'recovered'), [])
  await app.notify('small', 'tick', { n: 12 })
  await waitUntil(() => received.length === 2, 'the next live notification')
  t.same(received.map((message) => message.offset), [1, 12], 'nothing replayed; live again after the gap')
})

test('a server restart (another epoch): recovered false and a gap event', async (t) => {
  const channels = { feed: { history: { size: 100 } } }
  const first = await build(t, { channels })
  const port = Number(new URL(first.url).port)
  const { client, events } = await open(t, first.url)
  const received: Received[] = []
  await client.subscribe('feed', (message) => { received.push(message) })
  await first.app.notify('feed', 'tick', { n: 1 })
  await waitUntil(() => received.length === 1, 'the first notification')
  await first.app.close()

  const second = Fastify()
  await second.register(notifications, { channels })
  t.teardown(() => second.close())
  await second.listen({ port, host: '127.0.0.1' })
  await waitUntil(() => named(events, 'gap').length === 1, 'a gap after the restart')
  t.match(named(events, 'gap')[0], { channel: 'feed', since: { offset: 1 }, offset: 0 })
  t.match(named(events, 'disconnected')[0], { code: 1001 })
  await second.notify('feed', 'tick', { n: 2 })
  await waitUntil(() => received.length === 2, 'a notification of the new epoch')
  t.same(received.map((message) => message.offset), [1, 1], 'offsets restart with the new epoch, and are not dropped as duplicates')
})

test('without history: at most once; a reconnect says gap', async (t) => {
  const { app, url } = await build(t, { channels: ['plain'] })
  const { client, events } = await open(t, url, { clientId: 'p' })
  const received: Received[] = []
  await client.subscribe('plain', (message) => { received.push(message) })
  await app.notify('plain', 'tick', { n: 1 })
  app.notifications.disconnect('p')
  await app.notify('plain', 'tick', { n: 2 }) // nobody is subscribed: lost
  await waitUntil(() => named(events, 'gap').length === 1, 'a gap')
  t.match(named(events, 'gap')[0], { channel: 'plain', since: undefined, epoch: undefined, offset: undefined })
  await app.notify('plain', 'tick', { n: 3 })
  await waitUntil(() => received.length === 2, 'the next notification')
  t.same(received.map((message) => (message.data as { n: number }).n), [1, 3])
  t.notOk('offset' in received[0])
})

test('latest: the last message arrives right after subscribing, once', async (t) => {
  const { app, url } = await build(t, { channels: { pool: { latest: true, history: { size: 10 } } } })
  await app.notify('pool', 'stats', { active: 3 })
  await app.notify('pool', 'stats', { active: 4 })
  const { client } = await open(t, url)
  const received: Received[] = []
  await client.subscribe('pool', (message) => { received.push(message) })
  await waitUntil(() => received.length === 1, 'the latest message')
  t.match(received, [{ data: { active: 4 }, offset: 2 }])
})

test('a connection whose pings go unanswered is replaced, and the channel resumes', async (t) => {
  const { app, url } = await build(t, { channels: { feed: { history: { size: 100 } } } })
  const { client, events } = await open(t, url, { clientId: 'mute', pingInterval: 30, pongTimeout: 60 })
  const received: Received[] = []
  await client.subscribe('feed', (message) => { received.push(message) })
  // The server stops reading this socket: the client's pings go unanswered, nothing is closed.
  const serverSide = [...app.websocketServer.clients][0] as unknown as { _socket: Socket }
  serverSide._socket.pause()
  await app.notify('feed', 'tick', { n: 1 })
  await waitUntil(() => named(events, 'disconnected').length === 1, 'the dead connection to be noticed')
  t.match(named(events, 'disconnected')[0], { code: 4200, reason: 'no answer to ping', willReconnect: true })
  await waitUntil(() => named(events, 'connected').length === 2, 'a new connection')
  await app.notify('feed', 'tick', { n: 2 })
  await waitUntil(() => received.length === 2, 'both notifications')
  t.same(received.map((message) => message.offset), [1, 2], 'once each, in order')
})

test('subscribe rejects with the server error; close rejects what is pending', async (t) => {
  const { app, url } = await build(t, { channels: ['alpha'] })
  const { client, events } = await open(t, url, { clientId: 'x' })
  await t.rejects(client.subscribe('nope', () => {}), { name: 'NotifyClientError', code: 'INVALID_CHANNEL', channel: 'nope', message: /Invalid channel: nope/ })
  const direct: unknown[] = []
  client.on('message', (message) => direct.push(message))
  await app.notifications.sendTo('x', 'hello', { to: 'x' })
  await waitUntil(() => direct.length === 1, 'a direct message')
  t.match(direct[0], { type: 'hello', data: { to: 'x' } })
  const received: Received[] = []
  const subscription = await client.subscribe('alpha', (message) => { received.push(message) })
  const second = await client.subscribe('alpha', () => {})
  t.equal(second.channel, 'alpha', 'a second handler shares the subscription')
  second.unsubscribe()
  await app.notify('alpha', 'one', {})
  await waitUntil(() => received.length === 1, 'the first notification')
  subscription.unsubscribe()
  await waitUntil(() => app.notifications.stats().total_channels === 0, 'the last handler leaves the channel')
  await app.notify('alpha', 'two', {})
  t.same(received.map((message) => message.type), ['one'])

  client.close()
  t.equal(client.state, 'closed')
  await t.rejects(client.subscribe('alpha', () => {}), { code: 'CLOSED' })
  t.equal(named(events, 'state').at(-1), 'closed')

  const { createClient } = await loaded
  const offline = createClient('ws://127.0.0.1:9/ws', { WebSocket, reconnect: false })
  const pending = offline.subscribe('alpha', () => {})
  await t.rejects(within(pending, 'the refused connection'), { code: 'CLOSED' }, 'no server and no reconnect: pending subscribes reject')
  t.throws(() => createClient('ws://x/ws'), /no global WebSocket here/, 'Node 20 needs a WebSocket implementation')
  t.throws(() => createClient('ws://x/ws', { WebSocket, pingInterval: -1 }), /pingInterval must be a number >= 0/)
})

test('the plugin serves the built client at /ws/client.js', async (t) => {
  const { http } = await build(t)
  const response = await fetch(`${http}/ws/client.js`)
  t.equal(response.status, 200)
  t.match(response.headers.get('content-type'), /^text\/javascript/)
  const code = await response.text()
  t.match(code, /export function createClient/)
  t.notMatch(code, /sourceMappingURL/)
  t.notMatch(code, /^import /m, 'no imports: a page loads this one file')
  const etag = response.headers.get('etag') as string
  const again = await fetch(`${http}/ws/client.js`, { headers: { 'if-none-match': etag } })
  t.equal(again.status, 304)
})
