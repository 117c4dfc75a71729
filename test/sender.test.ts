// The sender: frames written straight to the TCP socket, corked per tick; the ws.send fallback
// for permessage-deflate sockets; writes to sockets that are closing or destroyed mid-tick.
import { test } from 'tap'
import Fastify from 'fastify'
import websocket from '@fastify/websocket'
import type { WebSocket as ServerSocket } from 'ws'
import notifications from '../lib/index'
import { build, connect, waitUntil, within } from './helper'

test('a permessage-deflate socket receives correct frames via the ws.send fallback', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(websocket, { options: { perMessageDeflate: true } })
  await app.register(notifications, { channels: ['alpha'] })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }
  const url = `ws://127.0.0.1:${port}`

  const deflate = await connect(t, url, '', { perMessageDeflate: true })
  const plain = await connect(t, url, '', { perMessageDeflate: false })
  t.match(deflate.ws.extensions, /permessage-deflate/, 'deflate negotiated')
  t.equal(plain.ws.extensions, '', 'not negotiated on the other socket')
  t.equal(deflate.frames[0].type, 'connected')
  for (const client of [deflate, plain]) await client.request({ action: 'subscribe', channel: 'alpha', id: 1 })
  // 50 x 13 KB stays under maxBufferedBytes (1 MiB) even though the whole burst is buffered in one tick.
  const big = 'compressible '.repeat(1000)
  const sends: Array<Promise<number>> = []
  for (let seq = 0; seq < 50; seq++) sends.push(app.notify('alpha', 'n', { seq, big }))
  t.same(await Promise.all(sends), Array(50).fill(2))
  for (const client of [deflate, plain]) {
    const frames = await client.waitFor(52)
    t.same(frames.slice(2).map((f) => f.data.seq), [...Array(50).keys()], 'complete and in order')
    t.ok(frames.slice(2).every((f) => f.data.big === big), 'payloads intact')
  }
  t.match((await deflate.request({ action: 'ping', id: 'p' })), { type: 'pong', id: 'p' }, 'control replies too')
  t.equal(app.notifications.stats().total_messages_sent, 100)
})

test('a large frame (64 KiB+ payload length encoding) arrives intact on the direct path', async (t) => {
  const { app, url } = await build(t)
  const client = await connect(t, url)
  await client.request({ action: 'subscribe', channel: 'alpha' })
  for (const size of [100, 200, 70_000, 500_000]) await app.notify('alpha', 'sized', { text: 'y'.repeat(size) })
  const frames = await client.waitFor(6)
  t.same(frames.slice(2).map((f) => f.data.text.length), [100, 200, 70_000, 500_000])
})

function serverSockets (app: { websocketServer: { clients: Set<ServerSocket> } }): ServerSocket[] {
  return [...app.websocketServer.clients]
}

test('a socket closing on the server side is skipped and counted as dropped', async (t) => {
  const { app, url } = await build(t)
  const client = await connect(t, url)
  await client.request({ action: 'subscribe', channel: 'alpha' })
  const [socket] = serverSockets(app)
  // Closing starts now; the hub removes the socket only on its 'close' event, later.
  socket.close(1000, 'bye')
  t.equal(await app.notify('alpha', 'late', {}), 0, 'not written')
  const stats = app.notifications.stats()
  t.equal(stats.messages_dropped, 1)
  t.equal(stats.total_messages_sent, 0)
  t.same(await within(client.closed, 'the close'), { code: 1000, reason: 'bye' })
  t.ok(client.frames.every((f) => f.type !== 'late'))
})

test('a socket destroyed in the same tick as a write is not uncorked', async (t) => {
  const { app, url } = await build(t)
  const doomed = await connect(t, url, '?client_id=doomed')
  const healthy = await connect(t, url, '?client_id=healthy')
  for (const client of [doomed, healthy]) await client.request({ action: 'subscribe', channel: 'alpha' })
  const doomedSocket = serverSockets(app).find((ws) => ws.readyState === ws.OPEN && app.notifications.stats().total_clients === 2 &&
    (ws as unknown as { _socket: { remotePort: number } })._socket.remotePort === (doomed.ws as unknown as { _socket: { localPort: number } })._socket.localPort)
  t.ok(doomedSocket, 'found the server side of the doomed client')
  const sent = app.notify('alpha', 'n', { i: 1 })
  // Corked by the write above; destroyed before the nextTick that uncorks.
  doomedSocket?.terminate()
  t.equal(await sent, 2)
  t.equal((await healthy.waitFor(3))[2].type, 'n', 'the healthy socket still gets it')
  await within(doomed.closed, 'the doomed client to close')
  await waitUntil(() => app.notifications.stats().total_clients === 1, 'the doomed socket is removed')
  t.equal(await app.notify('alpha', 'after', {}), 1)
})

test('what a tick wrote goes out before a close of the same tick; a socket closed by ws gets nothing after its close frame', async (t) => {
  const { app, url } = await build(t)
  const leaving = await connect(t, url, '?client_id=leaving')
  const closing = await connect(t, url, '?client_id=closing')
  for (const client of [leaving, closing]) await client.request({ action: 'subscribe', channel: 'alpha' })
  // disconnect() in the tick of notify(): the notification was promised (counted), so it arrives first.
  const sent = app.notify('alpha', 'last words', { i: 1 })
  t.equal(app.notifications.disconnect('leaving', 4000, 'bye'), 1)
  t.equal(await sent, 2)
  t.same(await within(leaving.closed, 'the disconnect'), { code: 4000, reason: 'bye' })
  t.same(leaving.frames.slice(2).map((f) => f.type), ['last words'], 'the notification, then the close')

  // ws itself closes a socket (here directly; in life when the peer sends a close frame or breaks
  // the protocol) after a frame was queued in the same tick: ws has written its close frame at
  // once, and nothing may follow it, so the queued frame is dropped. (notify() had counted it:
  // the peer was leaving in that very tick.)
  const [socket] = serverSockets(app).filter((ws) => ws.readyState === ws.OPEN)
  t.equal(await new Promise<number>((resolve, reject) => {
    app.notify('alpha', 'too late', {}).then(resolve, reject)
    socket.close(1000, 'by ws')
  }), 1, 'counted when queued')
  t.same(await within(closing.closed, 'the close'), { code: 1000, reason: 'by ws' }, 'a clean close: no data frame after the close frame')
  t.ok(closing.frames.every((f) => f.type !== 'too late'), 'the frame queued before the close is dropped, not sent after it')
})
