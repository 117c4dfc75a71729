// The command-line client, run as a user runs it: `node dist/lib/cli.js listen <url> <channel>...`.
import { test, type Test } from 'tap'
import { existsSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { build, waitUntil } from './helper'
import { root, spawnChild, type Child } from './child'

const cli = join(root, 'dist', 'lib', 'cli.js')

function runCli (t: Test, args: string[]): Child {
  if (!existsSync(cli)) throw new Error('dist/lib/cli.js missing: run `npm run build`')
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
  t.match(help.lines[0], /^Usage: fastify-ws-notify listen <url> <channel>\.\.\. \[--client-id ID\] \[--once\]$/)

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
