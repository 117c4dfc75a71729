// The command-line client, run as a user runs it: `node dist/lib/cli/index.js listen <url> <channel>...`.
import { test, type Test } from 'tap'
import { existsSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { build, waitUntil } from './helper'
import { root, spawnChild, type Child } from './child'

const cli = join(root, 'dist', 'lib', 'cli', 'index.js')

function runCli (t: Test, args: string[]): Child {
  if (!existsSync(cli)) throw new Error('dist/lib/cli/index.js missing: run `npm run build`')
  return spawnChild(t, process.execPath, [cli, ...args])
}

/** A port on 127.0.0.1 that nothing listens on: bound, then released. */
async function closedPort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  await new Promise((resolve) => server.close(resolve))
  return address.port
}

test('listen prints every message as one JSON line; with --once it exits 1 when the server goes away', async (t) => {
  const { app, url } = await build(t)
  const listener = runCli(t, ['listen', `${url}/ws`, 'alpha', 'beta', '--client-id', 'cli-1', '--once'])
  t.match(await listener.waitForJson({ type: 'connected' }), { client_id: 'cli-1', available_channels: ['alpha', 'beta', 'gamma'] })
  await listener.waitForJson({ type: 'subscribed', channel: 'alpha' })
  await listener.waitForJson({ type: 'subscribed', channel: 'beta' })

  t.equal(await app.notify('beta', 'order_shipped', { id: 42, note: 'two\nlines' }), 1)
  const line = await listener.waitForLine((text) => text.includes('order_shipped'))
  t.match(JSON.parse(line), { type: 'order_shipped', channel: 'beta', data: { id: 42, note: 'two\nlines' } })
  t.equal(await app.notifications.sendTo('cli-1', 'direct', { ok: true }), 1)
  t.match(await listener.waitForJson({ type: 'direct' }), { data: { ok: true } })
  t.ok(listener.lines.every((text) => typeof JSON.parse(text) === 'object'), 'stdout holds JSON lines only')
  t.match(listener.stderr, /subscribed to alpha\n.*subscribed to beta/s)

  await app.close()
  t.same(await listener.exited, { code: 1, signal: null })
  t.match(listener.stderr, /connection closed: 1001 server shutting down/)
})

test('listen reconnects by itself, resumes a channel with history, and reports a gap on one without', async (t) => {
  const { app, url } = await build(t, { channels: { alpha: { history: { size: 100 } }, beta: {} } })
  const listener = runCli(t, ['listen', `${url}/ws`, 'alpha', 'beta', '--client-id', 'cli-2'])
  await listener.waitForJson({ type: 'subscribed', channel: 'alpha' })
  await listener.waitForJson({ type: 'subscribed', channel: 'beta' })
  await app.notify('alpha', 'tick', { n: 1 })
  await listener.waitForLine((text) => text.includes('"n":1'))

  // The server cuts the client, and publishes while it is away.
  t.equal(app.notifications.disconnect('cli-2', 1012, 'restarting'), 1)
  await app.notify('alpha', 'tick', { n: 2 })
  await app.notify('alpha', 'tick', { n: 3 })
  const missed = await listener.waitForLine((text) => text.includes('"n":3'))
  t.match(JSON.parse(missed), { type: 'tick', channel: 'alpha', data: { n: 3 }, offset: 3 })
  t.ok(listener.lines.some((text) => text.includes('"n":2')), 'the message sent while away was replayed')
  // Each channel's resume is answered on its own; wait for both verdicts.
  await waitUntil(() => /gap on beta/.test(listener.stderr), 'the gap on beta is reported', 15_000)
  t.match(listener.stderr, /connection closed: 1012 restarting; reconnecting/)
  t.match(listener.stderr, /reconnected/)
  t.match(listener.stderr, /resumed alpha after offset 1: nothing missed/)
  t.match(listener.stderr, /gap on beta: messages may be missing/)
  listener.process.kill('SIGINT')
  t.same(await listener.exited, { code: 0, signal: null })
})

test('SIGINT closes with 1000 and exits 0', async (t) => {
  const { app, url } = await build(t)
  const listener = runCli(t, ['listen', `${url}/ws`, 'alpha'])
  await listener.waitForJson({ type: 'subscribed' })
  t.equal(app.notifications.stats().total_clients, 1)
  listener.process.kill('SIGINT')
  t.same(await listener.exited, { code: 0, signal: null })
  t.match(listener.stderr, /interrupted, closing/)
})

test('an invalid channel is reported, and the exit status says so', async (t) => {
  const { url } = await build(t)
  const listener = runCli(t, ['listen', `${url}/ws`, 'alpha', 'nope'])
  t.same(await listener.exited, { code: 1, signal: null })
  t.match(listener.stderr, /cannot subscribe to "nope": INVALID_CHANNEL: Invalid channel: nope/)
  t.match(await listener.waitForJson({ type: 'error' }), { code: 'INVALID_CHANNEL', channel: 'nope' })
})

test('a refused upgrade is reported with its HTTP status and body', async (t) => {
  const { url } = await build(t)
  const badId = runCli(t, ['listen', `${url}/ws`, 'alpha', '--client-id', 'not valid'])
  t.same(await badId.exited, { code: 1, signal: null })
  t.match(badId.stderr, /refused the WebSocket upgrade: HTTP 400 Bad Request: .*INVALID_CLIENT_ID/)

  const wrongPath = runCli(t, ['listen', `${url}/nowhere`, 'alpha'])
  t.same(await wrongPath.exited, { code: 1, signal: null })
  t.match(wrongPath.stderr, /refused the WebSocket upgrade: HTTP 404/)
})

test('a refused reconnect ends listen with exit 1; a server error (500) is retried', async (t) => {
  let answer: 'allow' | 'refuse' | 'busy' = 'allow'
  const { app, url } = await build(t, {
    authenticate: async () => {
      if (answer === 'refuse') return null
      if (answer === 'busy') throw new Error('session store down')
      return 'cli-r'
    }
  })
  const listener = runCli(t, ['listen', `${url}/ws`, 'alpha'])
  await listener.waitForJson({ type: 'subscribed', channel: 'alpha' })

  // Busy once: authenticate fails (500), then allows again: listen must come back.
  answer = 'busy'
  t.equal(app.notifications.disconnect('cli-r', 4200, 'reconnect now'), 1)
  await waitUntil(() => /HTTP 500/.test(listener.stderr), 'the 500 is reported')
  answer = 'allow'
  await waitUntil(() => /reconnected/.test(listener.stderr), 'listen reconnects after the 500', 10000)

  // Refused: the session is over, whatever backoff would say.
  answer = 'refuse'
  t.equal(app.notifications.disconnect('cli-r', 4200, 'reconnect now'), 1)
  t.same(await listener.exited, { code: 1, signal: null }, 'exit 1, not a silent 0')
  t.match(listener.stderr, /HTTP 401 Unauthorized/)
  t.match(listener.stderr, /error: UNAUTHORIZED/)
})

test('an unreachable server is reported', async (t) => {
  const port = await closedPort()
  const listener = runCli(t, ['listen', `ws://127.0.0.1:${port}/ws`, 'alpha'])
  t.same(await listener.exited, { code: 1, signal: null })
  t.match(listener.stderr, new RegExp(`cannot connect to ws://127\\.0\\.0\\.1:${port}/ws: connect ECONNREFUSED`))
  t.same(listener.lines, [], 'nothing on stdout')
})

test('usage: --help, and every usage error exits 2 with the usage', async (t) => {
  const help = runCli(t, ['--help'])
  t.same(await help.exited, { code: 0, signal: null })
  t.match(help.lines[0], /^Usage: fastify-ws-notify listen <url> <channel>\.\.\. \[--client-id ID\] \[--once\] \[--sse\]$/)

  const cases: Array<[string[], RegExp]> = [
    [[], /missing command/],
    [['watch'], /unknown command "watch"/],
    [['listen'], /missing <url>/],
    [['listen', 'ws://127.0.0.1:1/ws'], /missing <channel>/],
    [['listen', 'not a url', 'alpha'], /invalid url "not a url"/],
    [['listen', 'http://127.0.0.1:1/ws', 'alpha'], /url must start with ws:\/\/ or wss:\/\//],
    [['listen', '--bogus'], /Unknown option '--bogus'/],
    [['listen', 'ws://127.0.0.1:1/ws', 'alpha', '--client-id'], /--client-id/]
  ]
  for (const [args, message] of cases) {
    const child = runCli(t, args)
    t.same(await child.exited, { code: 2, signal: null }, `exit 2 for ${JSON.stringify(args)}`)
    t.match(child.stderr, message)
    t.match(child.stderr, /Usage: fastify-ws-notify listen/)
  }
})

/** Control characters a terminal acts on (C0 but newline, DEL, C1) and bidi overrides that reorder what it shows. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const TERMINAL_CONTROLS = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/u

/** Everything the child writes on stdout, byte for byte (Child.lines splits it into lines). */
function rawStdout (child: Child): () => string {
  const chunks: Buffer[] = []
  child.process.stdout?.on('data', (chunk: Buffer) => chunks.push(chunk))
  return () => Buffer.concat(chunks).toString('utf8')
}

// Issue 18.8: a hostile server could clear the screen, ring the bell, retitle the window or
// reorder text by sending escapes in a notification, a close reason or a refusal body.
test('listen escapes the terminal controls a server sends, on stdout and stderr', async (t) => {
  const { app, url } = await build(t)
  const listener = runCli(t, ['listen', `${url}/ws`, 'alpha', '--client-id', 'cli-evil'])
  const stdout = rawStdout(listener)
  await listener.waitForJson({ type: 'subscribed', channel: 'alpha' })
  const evil = '\u001b[2J\u001b]0;pwned\u0007\u009b31m\u007f\u202egnp.exe\r'
  t.equal(await app.notify('alpha', `clear${evil}`, { text: evil, [evil]: 1 }), 1)
  t.equal(await app.notifications.sendTo('cli-evil', `direct${evil}`, evil), 1)
  const line = await listener.waitForLine((text) => text.includes('direct'))
  t.same(JSON.parse(line), { type: `direct${evil}`, data: evil, timestamp: JSON.parse(line).timestamp }, 'still JSON with the same values')
  t.match(JSON.parse(listener.lines.find((text) => text.includes('clear')) ?? '{}'), { type: `clear${evil}`, data: { text: evil, [evil]: 1 } })
  t.equal(app.notifications.disconnect('cli-evil', 4000, `bye${evil}`), 1)
  await waitUntil(() => /connection closed: 4000/.test(listener.stderr), 'the close to be reported')
  listener.process.kill('SIGINT')
  await listener.exited
  t.notMatch(stdout(), TERMINAL_CONTROLS, 'no raw control character on stdout')
  t.notMatch(listener.stderr, TERMINAL_CONTROLS, 'no raw control character on stderr')
  t.match(listener.stderr, /connection closed: 4000 bye\\u001b\[2J\\u001b\]0;pwned\\u0007\\u009b31m\\u007f\\u202egnp\.exe\\u000d/, 'shown escaped')
})

test('listen escapes the terminal controls in the body of a refused upgrade', async (t) => {
  const server = createServer((socket) => {
    socket.on('error', () => {})
    socket.once('data', () => {
      const body = '\u001b[2J\u001b]0;pwned\u0007denied\u202e\n\u001b[1A'
      socket.end(`HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => server.close())
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  const listener = runCli(t, ['listen', `ws://127.0.0.1:${address.port}/ws`, 'alpha'])
  t.same(await listener.exited, { code: 1, signal: null })
  t.match(listener.stderr, /refused the WebSocket upgrade: HTTP 403 Forbidden: \\u001b\[2J\\u001b\]0;pwned\\u0007denied\\u202e\\u000a\\u001b\[1A/)
  t.notMatch(listener.stderr, TERMINAL_CONTROLS, 'no raw control character on stderr')
})

// Issue 19.2: the client used to say `disconnected` twice without reconnects (the server's close,
// then its own 1000 "client closed"), so `--once` printed a close that never happened.
test('listen --once prints the one real close, nothing after it', async (t) => {
  const { app, url } = await build(t)
  const listener = runCli(t, ['listen', `${url}/ws`, 'alpha', '--client-id', 'cli-once', '--once'])
  await listener.waitForJson({ type: 'subscribed', channel: 'alpha' })
  t.equal(app.notifications.disconnect('cli-once', 1011, 'oops'), 1)
  t.same(await listener.exited, { code: 1, signal: null })
  t.same(listener.stderr.split('\n').filter((line) => line.includes('connection closed')), ['fastify-ws-notify: connection closed: 1011 oops'])
  t.notMatch(listener.stderr, /client closed/)
})

test('listen ends when the server ends the session (4001), without reconnecting', async (t) => {
  const { app, url } = await build(t)
  const listener = runCli(t, ['listen', `${url}/ws`, 'alpha', '--client-id', 'cli-kicked'])
  await listener.waitForJson({ type: 'subscribed', channel: 'alpha' })
  t.equal(app.notifications.disconnect('cli-kicked', 4001, 'kicked'), 1)
  t.same(await listener.exited, { code: 1, signal: null })
  t.same(listener.stderr.split('\n').filter((line) => line.includes('connection closed')),
    ['fastify-ws-notify: connection closed: 4001 kicked; the server ended the session, not reconnecting'])
  t.equal(app.notifications.stats().total_connections_ever, 1, 'no reconnect')
})

test('listen --sse receives over Server-Sent Events, resumes after a cut, and reports a refused stream', async (t) => {
  const { app, http } = await build(t, { sse: true, channels: { alpha: { history: { size: 100 } }, beta: {} } })
  const listener = runCli(t, ['listen', `${http}/ws`, 'alpha', '--client-id', 'cli-sse', '--sse'])
  t.match(await listener.waitForJson({ type: 'connected' }), { client_id: 'cli-sse' })
  await listener.waitForJson({ type: 'subscribed', channel: 'alpha' })
  t.equal(app.notifications.stats().sse_clients, 1, 'a stream, not a socket')
  await app.notify('alpha', 'tick', { n: 1 })
  await listener.waitForLine((text) => text.includes('"n":1'))
  t.equal(app.notifications.disconnect('cli-sse', 1012, 'restarting'), 1)
  await app.notify('alpha', 'tick', { n: 2 })
  const missed = await listener.waitForLine((text) => text.includes('"n":2'))
  t.match(JSON.parse(missed), { type: 'tick', channel: 'alpha', offset: 2 })
  await waitUntil(() => /resumed alpha after offset 1/.test(listener.stderr), 'the resume is reported')

  const refused = runCli(t, ['listen', `${http}/ws`, 'nope', '--sse'])
  t.same(await refused.exited, { code: 1, signal: null })
  t.match(refused.stderr, /refused the stream: HTTP 400: .*INVALID_CHANNEL/)
})
