// The client on Server-Sent Events (issue 14), in Node with lib/client/event-source.ts: `transport: 'sse'`
// receives, resumes with last_event_id after the stream is cut, reopens the stream for a channel
// subscribed later, and stops after a kick (4001); `auto` falls back to SSE when a proxy refuses
// the upgrade (403) or cuts it before the greeting, and says so in a `transport` event.
import { test } from 'tap'
import WebSocket from 'ws'
import { build, waitUntil } from './helper'
import { loaded, named, open } from './client-helper'
import { NodeEventSource } from '../lib/client/event-source'
import { startRefusingProxy } from './refusing-proxy'

const CHANNELS = { alpha: { history: { size: 20 } }, beta: {} }

test('transport sse: receives, resumes after a cut stream, and subscribes later by reopening', async (t) => {
  const { app, http } = await build(t, { sse: true, channels: CHANNELS })
  const proxy = await startRefusingProxy(http)
  t.teardown(() => proxy.close())
  // Reconnects wait 300 ms: the messages below are published while no stream is open.
  const { client, events } = await open(t, proxy.url, {
    transport: 'sse', EventSource: NodeEventSource as never, reconnect: { initialDelay: 300, maxDelay: 300, jitter: 0 }
  }, ['connected', 'recovered', 'gap', 'disconnected'])
  const seen: number[] = []
  await client.subscribe('alpha', (message) => seen.push((message.data as { n: number }).n))
  t.equal(client.transport, 'sse')
  t.match(named(events, 'connected'), [{ transport: 'sse' }])
  await app.notify('alpha', 'n', { n: 1 })
  await waitUntil(() => seen.length === 1, 'the first message')
  proxy.cutAll()
  await waitUntil(() => app.notifications.stats().sse_clients === 0, 'the stream was cut')
  await app.notify('alpha', 'n', { n: 2 })
  await app.notify('alpha', 'n', { n: 3 })
  t.equal(app.notifications.stats().sse_clients, 0, 'published while the client had no stream')
  await waitUntil(() => seen.length === 3, 'the missed messages, replayed')
  t.same(seen, [1, 2, 3], 'each once, in order')
  t.match(named(events, 'recovered'), [{ channel: 'alpha', since: { offset: 1 } }])
  const betas: unknown[] = []
  await client.subscribe('beta', (message) => betas.push(message.data))
  await app.notify('beta', 'b', { b: 1 })
  await app.notify('alpha', 'n', { n: 4 })
  await waitUntil(() => betas.length === 1 && seen.length === 4, 'both channels on the reopened stream')
  t.same(seen, [1, 2, 3, 4], 'the reopen lost and repeated nothing on the history channel')
  t.equal(app.notifications.stats().sse_clients, 1)
  app.notifications.disconnect(client.clientId as string, 4001, 'kicked')
  await waitUntil(() => client.state === 'closed', 'the client stopped after a kick')
  t.match(named(events, 'disconnected').at(-1), { code: 4001, reason: 'kicked', willReconnect: false })
})

for (const refuse of ['status', 'cut'] as const) {
  test(`transport auto: a proxy that refuses upgrades (${refuse}) makes the client fall back to SSE`, async (t) => {
    const { app, http } = await build(t, { sse: true, channels: CHANNELS })
    const proxy = await startRefusingProxy(http, refuse)
    t.teardown(() => proxy.close())
    const { createClient } = await loaded
    const client = createClient(`${proxy.url}/ws`, { WebSocket, EventSource: NodeEventSource as never, reconnect: { initialDelay: 5, maxDelay: 50 } })
    t.teardown(() => client.close())
    const switched: unknown[] = []
    client.on('transport', (payload) => switched.push(payload))
    const seen: unknown[] = []
    await client.subscribe('alpha', (message) => seen.push(message.data))
    t.equal(client.transport, 'sse')
    t.equal(switched.length, 1)
    t.match(switched[0], { transport: 'sse', reason: refuse === 'status' ? /upgrade failed \(HTTP 403\)/ : /before the server's greeting/ })
    t.ok(proxy.refusedUpgrades >= 1)
    await app.notify('alpha', 'n', { n: 1 })
    await waitUntil(() => seen.length === 1, 'a message over SSE')
  })
}

test('transport auto on a server that accepts upgrades stays on WebSocket', async (t) => {
  const { app, url } = await build(t, { sse: true, channels: CHANNELS })
  const { client, events } = await open(t, url, { EventSource: NodeEventSource as never }, ['connected', 'transport'])
  await client.subscribe('alpha', () => {})
  t.equal(client.transport, 'websocket')
  t.match(named(events, 'connected'), [{ transport: 'websocket' }])
  t.same(named(events, 'transport'), [])
  t.equal(app.notifications.stats().websocket_clients, 1)
})

test('transport sse: a refused stream (401) ends the client with UNAUTHORIZED', async (t) => {
  const { http } = await build(t, { sse: true, channels: CHANNELS, authenticate: () => null })
  const { client, events } = await open(t, http, { transport: 'sse', EventSource: NodeEventSource as never }, ['error', 'disconnected'])
  await waitUntil(() => client.state === 'closed', 'the client gave up')
  t.match(named(events, 'error'), [{ code: 'UNAUTHORIZED' }])
})

test('transport sse: a stream silent for longer than the server\'s heartbeat allows is replaced (4200)', async (t) => {
  // A server that greets with a 50 ms heartbeat interval, then never writes again.
  const http = await import('node:http')
  let streams = 0
  const server = http.createServer((_request, response) => {
    streams++
    response.writeHead(200, { 'content-type': 'text/event-stream' })
    response.write(`data: ${JSON.stringify({ type: 'connected', client_id: 'quiet', available_channels: [], transport: 'sse', heartbeat_interval: 50 })}\n\n`)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { server.closeAllConnections(); server.close() })
  const { port } = server.address() as { port: number }
  const { client, events } = await open(t, `http://127.0.0.1:${port}`, { transport: 'sse', EventSource: NodeEventSource as never, pongTimeout: 50 }, ['connected', 'disconnected'])
  await waitUntil(() => named(events, 'disconnected').length >= 1 && streams >= 2, 'the silent stream replaced')
  t.match(named(events, 'disconnected')[0], { code: 4200, reason: 'no heartbeat on the stream', willReconnect: true })
  t.equal(client.transport, 'sse')
})

test('transport sse: notifications and direct messages typed "close" or "ping" are handed out, not taken for the stream\'s own', async (t) => {
  const { app, http } = await build(t, { sse: true, channels: CHANNELS })
  const { client, events } = await open(t, http, { transport: 'sse', EventSource: NodeEventSource as never }, ['disconnected', 'message'])
  const seen: string[] = []
  await client.subscribe('beta', (message) => seen.push(message.type))
  await app.notify('beta', 'close', { code: 4001 })
  await app.notify('beta', 'ping', {})
  await app.notifications.sendTo(client.clientId as string, 'close', {})
  await waitUntil(() => seen.length === 2 && named(events, 'message').length === 1, 'all three handed out')
  t.same(seen, ['close', 'ping'])
  t.same(named(events, 'disconnected'), [], 'the stream stayed open')
  t.equal(client.state, 'open')
})
