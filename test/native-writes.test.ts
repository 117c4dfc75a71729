// The native fan-out (lib/core/native-writes.ts, native/fanout.c): the same frames, in the same
// order, to real sockets, with it and without it; what a write(2) does not take goes to the
// stream behind it in order; TLS, SSE and anything not plain TCP never reach it. CI builds the
// addon (npm ci runs the install step) and fails here if it is missing; elsewhere it is skipped
// loudly.
import { test, type Test } from 'tap'
import Fastify from 'fastify'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer, connect as tcpConnect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { TLSSocket } from 'node:tls'
import notifications from '../lib/index'
import { loadNativeWriter, tcpDescriptorOf } from '../lib/core/native-writes'
import { build, connect, Client, waitUntil } from './helper'

const CI = process.env.CI !== undefined && process.env.CI !== ''

/** The addon, or undefined after skipping loudly (failing in CI, which builds it). */
function nativeOrSkip (t: Test): boolean {
  const { writer, why } = loadNativeWriter()
  if (writer !== null) return true
  const message = `the native fan-out is not built (${why}): npm run install builds it`
  if (CI) t.fail(`${message} (CI must test it: npm ci runs the install step)`)
  else {
    process.stderr.write(`\n*** SKIPPED native-writes.test.ts: ${message}\n\n`)
    t.skip(message, () => {})
  }
  return false
}

test('nativeWrites: on by default when built, off with false; checked at registration', async (t) => {
  if (!nativeOrSkip(t)) return
  const on = await build(t)
  t.equal(on.app.notifications.nativeWrites, true, 'the addon is used')
  const off = await build(t, { nativeWrites: false })
  t.equal(off.app.notifications.nativeWrites, false, 'streams only')
  await t.rejects(build(t, { nativeWrites: 'yes' as unknown as boolean }), { code: 'FST_WS_NOTIFY_INVALID_OPTION', message: /nativeWrites/ })
})

for (const nativeWrites of [true, false]) {
  test(`nativeWrites ${String(nativeWrites)}: every subscriber gets every frame once, in order, bursts and direct messages mixed in`, async (t) => {
    if (nativeWrites && !nativeOrSkip(t)) return
    const { app, url } = await build(t, { nativeWrites })
    const clients: Client[] = []
    for (let i = 0; i < 4; i++) {
      const client = await connect(t, url, `?client_id=c${i}`)
      await client.request({ action: 'subscribe', channel: 'alpha' })
      clients.push(client)
    }
    let n = 0
    for (let tick = 0; tick < 60; tick++) {
      // One notification in some ticks (one shared frame), a burst of five in others (one shared Run),
      // and a direct message to one client in between (a Run of its own).
      const burst = tick % 3 === 0 ? 5 : 1
      for (let i = 0; i < burst; i++) await app.notify('alpha', 'tick', { n: ++n })
      if (tick % 7 === 0) await app.notifications.sendTo(`c${tick % 4}`, 'direct', { tick })
      await new Promise((resolve) => setImmediate(resolve))
    }
    for (const [i, client] of clients.entries()) {
      await client.settle()
      const ticks = client.frames.filter((frame) => frame.type === 'tick').map((frame) => (frame.data as { n: number }).n)
      t.same(ticks, Array.from({ length: n }, (_, k) => k + 1), `client ${i}: ${n} notifications, in order`)
      const direct = client.frames.filter((frame) => frame.type === 'direct').map((frame) => (frame.data as { tick: number }).tick)
      t.same(direct, Array.from({ length: 60 }, (_, tick) => tick).filter((tick) => tick % 7 === 0 && tick % 4 === i), `client ${i}: its direct messages`)
    }
    t.equal(app.notifications.stats().total_messages_sent, n * 4 + 9, 'every delivery counted once')
  })
}

test('a reader that stops: what write(2) does not take goes to the stream, in order; it reads everything once it resumes', async (t) => {
  if (!nativeOrSkip(t)) return
  // A bound large enough that the paused reader is never closed: 12 MiB are sent to it.
  const { app, url } = await build(t, { nativeWrites: true, maxBufferedBytes: 64 * 1024 * 1024, maxMessageSize: 256 * 1024 })
  const paused = await connect(t, url, '?client_id=paused')
  await paused.request({ action: 'subscribe', channel: 'alpha' })
  const healthy = await connect(t, url, '?client_id=healthy')
  await healthy.request({ action: 'subscribe', channel: 'alpha' })
  const port = (paused.ws as unknown as { _socket: Socket })._socket.localPort
  const serverSide = [...app.websocketServer.clients].find((ws) => (ws as unknown as { _socket: Socket })._socket.remotePort === port) as unknown as { _socket: Socket }
  ;(paused.ws as unknown as { _socket: Socket })._socket.pause()
  const chunk = 'x'.repeat(64 * 1024)
  const total = 192
  let queuedInStream = 0
  for (let seq = 0; seq < total; seq++) {
    await app.notify('alpha', 'chunk', { seq, chunk })
    await new Promise((resolve) => setImmediate(resolve))
    queuedInStream = Math.max(queuedInStream, serverSide._socket.writableLength)
  }
  t.ok(queuedInStream > 0, `the kernel's buffers filled: up to ${queuedInStream} bytes waited in the stream`)
  await healthy.waitFor(2 + total, 10_000)
  ;(paused.ws as unknown as { _socket: Socket })._socket.resume()
  await paused.waitFor(2 + total, 20_000)
  for (const [name, client] of [['paused', paused], ['healthy', healthy]] as const) {
    const chunks = client.frames.filter((frame) => frame.type === 'chunk').map((frame) => frame.data as { seq: number, chunk: string })
    t.same(chunks.map((data) => data.seq), Array.from({ length: total }, (_, seq) => seq), `${name}: every frame once, in order`)
    t.ok(chunks.every((data) => data.chunk === chunk), `${name}: every payload intact (a misplaced byte would break the framing)`)
  }
  t.equal(app.notifications.stats().slow_consumers_closed, 0)
})

test('a peer that vanishes mid-fan-out: the error goes to its stream, which closes it; the others get everything', async (t) => {
  if (!nativeOrSkip(t)) return
  const { app, url } = await build(t, { nativeWrites: true })
  const stays = await connect(t, url, '?client_id=stays')
  await stays.request({ action: 'subscribe', channel: 'alpha' })
  const leaves = await connect(t, url, '?client_id=leaves')
  await leaves.request({ action: 'subscribe', channel: 'alpha' })
  for (let seq = 0; seq < 400; seq++) {
    if (seq === 50) (leaves.ws as unknown as { _socket: Socket })._socket.resetAndDestroy()
    await app.notify('alpha', 'tick', { seq })
    await new Promise((resolve) => setImmediate(resolve))
  }
  await waitUntil(() => app.notifications.stats().total_clients === 1, 'the vanished peer to be gone')
  await stays.settle()
  t.same(stays.frames.filter((frame) => frame.type === 'tick').map((frame) => (frame.data as { seq: number }).seq), Array.from({ length: 400 }, (_, seq) => seq), 'the other socket: all 400, in order')
})

test('only plain TCP sockets have a descriptor for it: TLS, wrapped streams and destroyed sockets do not', async (t) => {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => server.close())
  const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve))
  const client = tcpConnect((server.address() as { port: number }).port, '127.0.0.1')
  t.teardown(() => client.destroy())
  const socket = await accepted
  t.ok(tcpDescriptorOf(socket) >= 0, 'an accepted TCP socket')
  t.equal(tcpDescriptorOf(new TLSSocket(socket)), -1, 'a TLS socket over it')
  t.equal(tcpDescriptorOf(new PassThrough()), -1, 'a stream that is not a socket')
  socket.destroy()
  t.equal(tcpDescriptorOf(socket), -1, 'a destroyed socket (no handle)')
})

test('over TLS the addon is never used: 500 frames arrive intact through the TLS stream', async (t) => {
  if (!nativeOrSkip(t)) return
  const dir = mkdtempSync(join(tmpdir(), 'fastify-ws-notify-tls-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-days', '1',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' })
  } catch {
    const message = 'openssl is not installed: no certificate for the TLS case'
    if (CI) t.fail(message)
    else {
      process.stderr.write(`\n*** SKIPPED native-writes.test.ts (TLS): ${message}\n\n`)
      t.skip(message, () => {})
    }
    return
  }
  const app = Fastify({ https: { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) } })
  await app.register(notifications, { channels: ['alpha'], nativeWrites: true })
  t.teardown(() => app.close())
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.equal(app.notifications.nativeWrites, true, 'the addon is on for the registration')
  const port = (app.server.address() as { port: number }).port
  const client = await connect(t, `wss://127.0.0.1:${port}`, '', { rejectUnauthorized: false })
  await client.request({ action: 'subscribe', channel: 'alpha' })
  for (let seq = 0; seq < 500; seq++) {
    await app.notify('alpha', 'tick', { seq })
    if (seq % 10 === 0) await new Promise((resolve) => setImmediate(resolve))
  }
  await client.settle()
  t.same(client.frames.filter((frame) => frame.type === 'tick').map((frame) => (frame.data as { seq: number }).seq), Array.from({ length: 500 }, (_, seq) => seq), 'every frame, decrypted, in order')
})
