// Issue 18.5: a peer's protocol violations are the peer's mistake, not the server's. They were
// logged at error level with a stack, one per bad frame (3 000 bad connections: 3.6 MB of log in
// 1.3 s). Now: no error-level line, and each violation is counted (stats: protocol_errors,
// metrics: ws_notify_protocol_errors_total). Real sockets: raw TCP peers on 127.0.0.1.
import { test, type Test } from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import { Writable } from 'node:stream'
import { connect as tcpConnect, type Socket } from 'node:net'
import { randomBytes } from 'node:crypto'
import notifications from '../lib/index'
import { fetchStats, within } from './helper'

interface LogLine { level: number, msg: string, err?: { stack?: string } }

/** An app whose logger writes every line (trace and up) into `lines`; `routes` adds the app's own. */
async function buildLogged (t: Test, routes?: (app: FastifyInstance) => void): Promise<{ app: FastifyInstance, port: number, lines: LogLine[] }> {
  const lines: LogLine[] = []
  const stream = new Writable({
    write (chunk: Buffer, _encoding, callback) {
      for (const text of chunk.toString().split('\n')) if (text !== '') lines.push(JSON.parse(text) as LogLine)
      callback()
    }
  })
  const app = Fastify({ logger: { level: 'trace', stream } })
  await app.register(notifications, { channels: ['alpha'], maxPayload: 1024, metrics: true })
  routes?.(app)
  t.teardown(() => app.close())
  await app.listen({ port: 0, host: '127.0.0.1' })
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  return { app, port: address.port, lines }
}

/** A client frame; masked unless told otherwise (a client must mask: RFC 6455 5.1). */
function frame (opcode: number, payload: Buffer, mask = true): Buffer {
  const length = payload.length
  const head = length < 126
    ? Buffer.from([0x80 | opcode, (mask ? 0x80 : 0) | length])
    : Buffer.from([0x80 | opcode, (mask ? 0x80 : 0) | 126, length >> 8, length & 0xff])
  if (!mask) return Buffer.concat([head, payload])
  const key = randomBytes(4)
  const body = Buffer.from(payload)
  for (let i = 0; i < body.length; i++) body[i] ^= key[i % 4]
  return Buffer.concat([head, key, body])
}

function rawSocket (t: Test, port: number): Promise<Socket> {
  const socket = tcpConnect(port, '127.0.0.1')
  t.teardown(() => socket.destroy())
  socket.on('error', () => {})
  return new Promise((resolve) => socket.once('connect', () => resolve(socket)))
}

function upgradeRequest (port: number, extra: string[] = []): string {
  return ['GET /ws HTTP/1.1', `Host: 127.0.0.1:${port}`, 'Upgrade: websocket', 'Connection: Upgrade',
    `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`, 'Sec-WebSocket-Version: 13', ...extra, '', ''].join('\r\n')
}

/** Upgrades by hand, sends `bytes`, and resolves once the server has closed the TCP socket. */
async function violate (t: Test, port: number, bytes: Buffer): Promise<void> {
  const socket = await rawSocket(t, port)
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
  socket.write(upgradeRequest(port))
  await new Promise<void>((resolve) => socket.once('data', () => resolve()))
  socket.write(bytes)
  await within(closed, 'the server to close the violating socket')
}

/** Sends raw bytes where an HTTP request belongs; resolves with the answer once the server ends it. */
async function rawHttp (t: Test, port: number, text: string): Promise<string> {
  const socket = await rawSocket(t, port)
  let answer = ''
  socket.on('data', (chunk: Buffer) => { answer += chunk.toString() })
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
  socket.write(text)
  await within(closed, 'the server to end the bad request')
  return answer
}

test('protocol violations by peers are logged below error level, without a stack, and counted', async (t) => {
  const { port, lines } = await buildLogged(t)
  const violations: Array<[string, Buffer]> = [
    ['invalid UTF-8 in a text frame', frame(0x1, Buffer.from([0xc3, 0x28, 0xff]))],
    ['an unmasked client frame', frame(0x1, Buffer.from('{"action":"ping"}'), false)],
    ['a reserved opcode', frame(0x3, Buffer.from('x'))],
    ['a continuation without a first fragment', frame(0x0, Buffer.from('x'))],
    ['a frame over maxPayload (1009)', frame(0x1, Buffer.alloc(2000, 0x61))],
    ['an invalid close code', frame(0x8, Buffer.from([0x03, 0xe7]))]
  ]
  for (const [, bytes] of violations) await violate(t, port, bytes)

  // Bad HTTP before the upgrade: garbage, a missing key, an unsupported version. Answered 400, not logged as errors.
  t.match(await rawHttp(t, port, 'NOT HTTP AT ALL\r\n\r\n'), /^HTTP\/1\.1 400/)
  t.match(await rawHttp(t, port, upgradeRequest(port).replace(/Sec-WebSocket-Key: .*\r\n/, '')), /^HTTP\/1\.1 400/)
  t.match(await rawHttp(t, port, upgradeRequest(port).replace('Version: 13', 'Version: 99')), /^HTTP\/1\.1 400/)

  const errors = lines.filter((line) => line.level >= 50)
  t.same(errors.map((line) => line.msg), [], 'no error-level line for a peer\'s mistake')
  t.same(lines.filter((line) => line.level >= 40 && line.err?.stack !== undefined).map((line) => line.msg), [],
    'no stack at warn level or above either')
  t.ok(lines.some((line) => line.level === 20 && /protocol/.test(line.msg)), 'each violation is still visible at debug level')
  // Each violating socket was closed above, after its error was handled: the count is final.
  t.equal((await fetchStats(`http://127.0.0.1:${port}`)).protocol_errors, violations.length, 'stats.protocol_errors counts each violation')
  const metrics = await (await fetch(`http://127.0.0.1:${port}/ws/metrics`)).text()
  t.match(metrics, new RegExp(`^ws_notify_protocol_errors_total ${violations.length}$`, 'm'), 'the metrics counter agrees')
})

test('a protocol violation on one socket leaves the others and the counters of other kinds alone', async (t) => {
  const { port } = await buildLogged(t)
  const good = await rawSocket(t, port)
  good.write(upgradeRequest(port))
  await new Promise<void>((resolve) => good.once('data', () => resolve()))
  await violate(t, port, frame(0x1, Buffer.from([0xff])))
  const stats = await fetchStats(`http://127.0.0.1:${port}`)
  t.equal(stats.protocol_errors, 1)
  t.equal(stats.total_clients, 1, 'the well-behaved socket is still open')
  t.equal(stats.total_connections_ever, 2)
})

test('a route handler\'s own exception is still an error, logged with its stack', async (t) => {
  // The app's own WebSocket route, on the @fastify/websocket this plugin registered.
  const { port, lines } = await buildLogged(t, (app) => {
    app.get('/boom', { websocket: true }, () => { throw new Error('bug in a handler') })
  })
  const socket = await rawSocket(t, port)
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
  socket.resume()
  socket.write(upgradeRequest(port).replace('GET /ws', 'GET /boom'))
  await within(closed, 'the socket of the failing handler to be cut')
  const errors = lines.filter((line) => line.level >= 50)
  t.equal(errors.length, 1, 'one error line')
  t.match(errors[0], { msg: /unexpected error/, err: { message: 'bug in a handler', stack: /bug in a handler/ } })
  t.equal((await fetchStats(`http://127.0.0.1:${port}`)).protocol_errors, 0, 'not counted as the peer\'s mistake')
})
