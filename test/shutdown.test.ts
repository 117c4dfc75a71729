// app.close(): every client gets 1001, new upgrades are refused, and peers that never answer the
// close handshake cannot hold shutdown past closeTimeout. The time bound is a correctness bound
// (closeTimeout + 1500 ms), not a benchmark.
import { test, type Test } from 'tap'
import { connect as tcpConnect, type Socket } from 'node:net'
import { randomBytes } from 'node:crypto'
import { get } from 'node:http'
import Fastify from 'fastify'
import notifications from '../lib/index'
import { build, connect, sleep, tcpSocketOf, within, Client } from './helper'

test('close gives every open client 1001 and refuses later upgrades', async (t) => {
  const { app, url } = await build(t)
  const clients = await Promise.all([connect(t, url), connect(t, url, '?client_id=x'), connect(t, url, '?client_id=x')])
  await clients[0].request({ action: 'subscribe', channel: 'alpha' })
  await app.close()
  for (const client of clients) {
    t.same(await within(client.closed, 'the close frame'), { code: 1001, reason: 'server shutting down' })
  }
  t.equal(app.notifications.stats().total_clients, 0)
  t.same(app.notifications.stats().channel_stats, {})
  const late = new Client(`${url}/ws`)
  t.teardown(() => late.ws.terminate())
  await t.rejects(late.opened, 'no upgrade after close')
})

test('close with no client at all finishes', async (t) => {
  const { app } = await build(t)
  await within(app.close(), 'close')
  t.pass('closed')
})

/** A peer that did the upgrade by hand and then ignores everything: it never reads nor answers. */
async function mutePeer (t: Test, url: string): Promise<Socket> {
  const { port } = new URL(url)
  const socket = tcpConnect(Number(port), '127.0.0.1')
  t.teardown(() => socket.destroy())
  socket.on('error', () => {})
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => {
      socket.write([
        'GET /ws HTTP/1.1', `Host: 127.0.0.1:${port}`, 'Upgrade: websocket', 'Connection: Upgrade',
        `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`, 'Sec-WebSocket-Version: 13', '', ''
      ].join('\r\n'))
    })
    socket.once('data', (chunk) => {
      if (chunk.toString().startsWith('HTTP/1.1 101')) resolve()
      else reject(new Error(`upgrade refused: ${chunk.toString()}`))
    })
  })
  socket.pause()
  return socket
}

test('peers that never answer the close handshake cannot hold close past closeTimeout', async (t) => {
  const closeTimeout = 300
  const { app, url } = await build(t, { closeTimeout })
  const polite = await connect(t, url)
  const paused = await connect(t, url)
  tcpSocketOf(paused).pause()
  const raw = await mutePeer(t, url)
  await sleep(20)
  t.equal(app.notifications.stats().total_clients, 3)
  const rawClosed = new Promise<void>((resolve) => raw.once('close', () => resolve()))

  const started = Date.now()
  const closing = app.close()
  // During close: new upgrades are refused.
  await sleep(20)
  const during = new Client(`${url}/ws`)
  t.teardown(() => during.ws.terminate())
  await t.rejects(during.opened, 'no upgrade while closing')
  t.same(await within(polite.closed, 'the polite close'), { code: 1001, reason: 'server shutting down' })

  await within(closing, 'app.close()', closeTimeout + 5000)
  const elapsed = Date.now() - started
  t.ok(elapsed < closeTimeout + 1500, `close finished within closeTimeout + 1500 ms (${elapsed} ms)`)
  raw.resume()
  await within(rawClosed, 'the raw peer to be cut off')
  t.equal(app.notifications.stats().total_clients, 0)
  tcpSocketOf(paused).resume()
  t.not((await within(paused.closed, 'the paused client to see its end')).code, 1000)
})

/** A TCP connection that sends `text` (maybe nothing) and then stalls; resolves once connected. */
async function stalledPeer (t: Test, url: string, text: string): Promise<Socket> {
  const { port } = new URL(url)
  const socket = tcpConnect(Number(port), '127.0.0.1')
  t.teardown(() => socket.destroy())
  socket.on('error', () => {})
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()))
  if (text !== '') socket.write(text)
  return socket
}

// Issue 18.7: such connections held app.close() for ~100 s (Node's headersTimeout, checked every 30 s).
test('half-sent requests and handshakes that never finish cannot hold close past closeTimeout', async (t) => {
  const closeTimeout = 300
  const { app, url } = await build(t, {
    closeTimeout,
    // An upgrade whose authenticate never answers: the handshake never completes.
    authenticate: async (request) => (request.query as { hang?: string }).hang === undefined ? 'someone' : await new Promise<never>(() => {})
  })
  const { port } = new URL(url)
  const upgrade = (target: string): string => [`GET ${target} HTTP/1.1`, `Host: 127.0.0.1:${port}`, 'Upgrade: websocket',
    'Connection: Upgrade', `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`, 'Sec-WebSocket-Version: 13', '', ''].join('\r\n')
  const peers = await Promise.all([
    // Headers never finished: an upgrade, an ordinary request, and a connection that sends nothing.
    stalledPeer(t, url, 'GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n'),
    stalledPeer(t, url, 'GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'),
    stalledPeer(t, url, 'GET /ws/stats HTTP/1.1\r\nHost: x\r\n'),
    stalledPeer(t, url, ''),
    // Headers complete, handshake never done: authenticate hangs; an upgrade of a route without a
    // WebSocket handler is accepted and closed, and the peer never answers that close.
    stalledPeer(t, url, upgrade('/ws?hang=1')),
    stalledPeer(t, url, upgrade('/ws/stats'))
  ])
  const ended = peers.map((socket) => new Promise<void>((resolve) => {
    socket.resume()
    socket.once('close', () => resolve())
  }))
  await sleep(100)

  const started = Date.now()
  await within(app.close(), 'app.close()', 10_000)
  const elapsed = Date.now() - started
  t.ok(elapsed < closeTimeout + 2700, `close finished within closeTimeout + 2700 ms (${elapsed} ms)`)
  await within(Promise.all(ended), 'every stalled peer to be cut off')
})

test('close does not cut an ordinary HTTP request in flight, even one slower than closeTimeout', async (t) => {
  const closeTimeout = 300
  const app = Fastify()
  await app.register(notifications, { channels: ['alpha'], closeTimeout })
  app.get('/slow', async () => {
    await sleep(closeTimeout + 400)
    return { done: true }
  })
  t.teardown(() => app.close())
  await app.listen({ port: 0, host: '127.0.0.1' })
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  // Without keep-alive: an idle keep-alive socket after the answer is Fastify's and Node's business.
  const answer = new Promise<{ status: number | undefined, body: string }>((resolve, reject) => {
    get(`http://127.0.0.1:${address.port}/slow`, { agent: false }, (response) => {
      let body = ''
      response.setEncoding('utf8')
      response.on('data', (chunk: string) => { body += chunk })
      response.on('end', () => resolve({ status: response.statusCode, body }))
    }).on('error', reject)
  })
  await sleep(100)
  const closing = app.close()
  t.same(await within(answer, 'the slow answer'), { status: 200, body: '{"done":true}' })
  await within(closing, 'close')
})

test('the app\'s own WebSocket routes on the same server get 1001 too, within closeTimeout', async (t) => {
  const closeTimeout = 300
  const app = Fastify()
  await app.register(notifications, { channels: ['alpha'], closeTimeout })
  app.get('/own', { websocket: true }, (socket) => { socket.send('{"type":"hello"}') })
  t.teardown(() => app.close())
  await app.listen({ port: 0, host: '127.0.0.1' })
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  const polite = new Client(`ws://127.0.0.1:${address.port}/own`)
  const mute = new Client(`ws://127.0.0.1:${address.port}/own`)
  t.teardown(() => { polite.ws.terminate(); mute.ws.terminate() })
  await Promise.all([polite.waitFor(1), mute.waitFor(1)])
  tcpSocketOf(mute).pause()
  const started = Date.now()
  await within(app.close(), 'app.close()', 10_000)
  t.ok(Date.now() - started < closeTimeout + 2700, `close finished within closeTimeout + 2700 ms (${Date.now() - started} ms)`)
  t.same(await within(polite.closed, 'the polite close'), { code: 1001, reason: 'server shutting down' })
})
