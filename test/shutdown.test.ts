// app.close(): every client gets 1001, new upgrades are refused, and peers that never answer the
// close handshake cannot hold shutdown past closeTimeout. The time bound is a correctness bound
// (closeTimeout + 1500 ms), not a benchmark.
import { test, type Test } from 'tap'
import { connect as tcpConnect, type Socket } from 'node:net'
import { randomBytes } from 'node:crypto'
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
