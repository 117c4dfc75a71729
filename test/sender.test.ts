// The sender: frames written straight to the TCP socket, a tick's frames to a socket in one
// write() (shared by the sockets that got the same frames); the ws.send fallback for
// permessage-deflate sockets; writes to sockets that are closing or destroyed mid-tick.
import { test } from 'tap'
import Fastify from 'fastify'
import websocket from '@fastify/websocket'
import { WebSocket, type WebSocket as ServerSocket } from 'ws'
import notifications from '../lib/index'
import { Run, encodeMessage } from '../lib/core/sender'
import { build, connect, recordWrites, waitUntil, within, type Client } from './helper'

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

// What one tick wrote to a socket goes out as one buffer in one write(); sockets that got the same
// frames share that buffer (lib/core/sender.ts, Run).
test('Run: the same step from the same Run is the same object; bytes() joins the frames in order', async (t) => {
  const [a, b, c] = ['a', 'bb', 'ccc'].map((text) => Buffer.from(text))
  const first = new Run(null, a)
  t.equal(first.bytes(), a, 'one frame is the frame itself, not a copy')
  const ab = first.followedBy(b)
  t.equal(first.followedBy(b), ab, 'shared: the second socket taking the step gets the same Run')
  const ac = first.followedBy(c)
  t.not(ac, ab, 'another step is another Run')
  t.equal(ab.followedBy(c).bytes().toString(), 'abbccc')
  t.equal(ac.bytes().toString(), 'accc')
  t.equal(ab.byteLength, 3)
  const joined = ab.bytes()
  t.equal(ab.bytes(), joined, 'joined once')
})

test('a tick\'s frames reach each socket in one write(), in order; subscribers of the same frames share one buffer', async (t) => {
  const { app, url } = await build(t)
  const both = await connect(t, url, '?client_id=both')
  const alphaOnly = await connect(t, url, '?client_id=alpha-only')
  const alsoAlpha = await connect(t, url, '?client_id=also-alpha')
  for (const channel of ['alpha', 'beta']) await both.request({ action: 'subscribe', channel })
  await alphaOnly.request({ action: 'subscribe', channel: 'alpha' })
  await alsoAlpha.request({ action: 'subscribe', channel: 'alpha' })
  // Through the streams or the native fan-out, whichever the registration uses (test/helper.ts).
  const writes = recordWrites(t, app)
  const clients = [both, alphaOnly, alsoAlpha]
  let marks = clients.map((client) => client.frames.length)
  const received = async (client: Client, count: number): Promise<number[]> => {
    const start = marks[clients.indexOf(client)]
    return (await client.waitFor(start + count)).slice(start).map((frame) => frame.data.seq)
  }

  // One tick: alpha, alpha, beta, a direct message to one client, alpha.
  const sent = [
    app.notify('alpha', 'n', { seq: 1 }),
    app.notify('alpha', 'n', { seq: 2 }),
    app.notify('beta', 'n', { seq: 3 }),
    app.notifications.sendTo('both', 'n', { seq: 4 }),
    app.notify('alpha', 'n', { seq: 5 })
  ]
  t.same(await Promise.all(sent), [3, 3, 1, 1, 3])
  t.same(await received(both, 5), [1, 2, 3, 4, 5], 'every frame, in the order written')
  t.same(await received(alphaOnly, 3), [1, 2, 5])
  t.same(await received(alsoAlpha, 3), [1, 2, 5])
  const [bothWrites, alphaWrites, alsoWrites] = [...writes.values()]
  for (const list of writes.values()) t.equal(list.length, 1, 'one write() per socket for the whole tick')
  t.equal(alphaWrites[0], alsoWrites[0], 'the two alpha-only sockets were handed the same buffer')
  t.not(bothWrites[0], alphaWrites[0], 'the socket that got more has its own')

  // One frame in a tick: written as it is, the same buffer for every subscriber.
  marks = clients.map((client) => client.frames.length)
  t.equal(await app.notify('alpha', 'n', { seq: 6 }), 3)
  for (const client of clients) t.same(await received(client, 1), [6])
  const singles = [...writes.values()].map((list) => list[1])
  t.ok(singles.every((chunk) => chunk === singles[0]), 'one frame buffer, shared')
  t.same([...writes.values()].map((list) => list.length), [2, 2, 2], 'one more write() each')
})

test('encodeMessage writes the frame ws itself would write, at every length encoding', async (t) => {
  // ws's own encoder is the reference: 7-bit, 16-bit and 64-bit lengths, and text whose UTF-8
  // size differs from its length.
  const reference = (json: string): Buffer => Buffer.concat((WebSocket as unknown as {
    Sender: { frame: (data: Buffer, options: object) => Buffer[] }
  }).Sender.frame(Buffer.from(json), { fin: true, opcode: 1, mask: false, readOnly: false, rsv1: false }))
  for (const size of [0, 1, 125, 126, 127, 65_535, 65_536, 70_000]) {
    const json = JSON.stringify('x'.repeat(Math.max(0, size - 2)))
    const message = encodeMessage(json)
    t.same(message.frame, reference(json), `${json.length} bytes`)
    t.equal(message.bytes.toString(), json)
  }
  const unicode = JSON.stringify({ text: 'é✓😀'.repeat(30) })
  t.same(encodeMessage(unicode).frame, reference(unicode), 'multi-byte text: the length is in bytes')
  t.equal(encodeMessage(unicode).bytes.length, Buffer.byteLength(unicode))
})
