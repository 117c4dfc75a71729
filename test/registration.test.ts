// Registration: once per instance, nothing shared between two apps, an app's own
// @fastify/websocket, and the built package loaded from CommonJS and ESM.
import { test } from 'tap'
import Fastify from 'fastify'
import websocket from '@fastify/websocket'
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import { promisify } from 'node:util'
import notifications from '../lib/index'
import { build, connect, fetchStats, within, sleep, Client } from './helper'

const run = promisify(execFile)
const distEntry = resolve(__dirname, '../dist/lib/index.js')

test('a second registration on one instance is refused with FST_WS_NOTIFY_ALREADY_REGISTERED', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  app.register(notifications, { channels: ['a'] })
  app.register(notifications, { channels: ['b'] })
  await t.rejects(async () => { await app.ready() }, { code: 'FST_WS_NOTIFY_ALREADY_REGISTERED', message: /already registered on this instance/ })
})

test('two apps in one process share nothing', async (t) => {
  const one = await build(t)
  const two = await build(t)
  const a = await connect(t, one.url, '?client_id=same')
  const b = await connect(t, two.url, '?client_id=same')
  await a.request({ action: 'subscribe', channel: 'alpha' })
  await b.request({ action: 'subscribe', channel: 'alpha' })
  await b.request({ action: 'subscribe', channel: 'beta' })

  t.equal(await one.app.notify('alpha', 'only-one', { n: 1 }), 1, 'one app writes only its own socket')
  t.equal(await one.app.notifications.sendTo('same', 'direct', {}), 1, 'a client id is per app')
  const [, , note, direct] = await a.waitFor(4)
  t.equal(note.type, 'only-one')
  t.equal(direct.type, 'direct')
  await b.settle()
  t.equal(b.frames.length, 3, 'the other app\'s client saw nothing')

  const statsOne = await fetchStats(one.http)
  const statsTwo = await fetchStats(two.http)
  t.same(statsOne.channel_stats, { alpha: 1 })
  t.same(statsTwo.channel_stats, { alpha: 1, beta: 1 })
  t.equal(statsOne.total_messages_sent, 2)
  t.equal(statsTwo.total_messages_sent, 0)
  t.equal(statsOne.notifications_published, 2)
  t.equal(statsTwo.notifications_published, 0)

  await one.app.close()
  t.equal((await within(a.closed, 'app one to close its client')).code, 1001)
  t.equal((await b.request({ action: 'ping', id: 1 })).type, 'pong', 'closing one app leaves the other serving')
  t.equal(await two.app.notify('beta', 'still', {}), 1)
})

test('an app that registered @fastify/websocket itself first still works', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  // A larger ws limit than the plugin's maxPayload: the plugin still enforces its own.
  await app.register(websocket, { options: { maxPayload: 1024 * 1024 } })
  await app.register(notifications, { channels: ['alpha'], maxPayload: 512, closeTimeout: 500 })
  app.get('/own', { websocket: true }, (socket) => { socket.send('own route') })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }
  const url = `ws://127.0.0.1:${port}`

  const client = await connect(t, url, '?client_id=me')
  t.equal(client.frames[0].client_id, 'me')
  await client.request({ action: 'subscribe', channel: 'alpha' })
  t.equal(await app.notify('alpha', 'hello', { n: 1 }), 1)
  t.match((await client.waitFor(3))[2], { type: 'hello', channel: 'alpha', data: { n: 1 } })

  const big = await connect(t, url)
  big.ws.send(JSON.stringify({ action: 'ping', pad: 'x'.repeat(1000) }))
  t.equal((await within(big.closed, 'the 1009 close')).code, 1009, 'maxPayload is enforced by the plugin itself')
  t.equal((await client.request({ action: 'ping' })).type, 'pong', 'other sockets are unaffected')

  const started = Date.now()
  await app.close()
  // @fastify/websocket's own preClose runs first; ours still closes within closeTimeout.
  t.ok(Date.now() - started < 500 + 1500, 'close is bounded')
  await within(client.closed, 'the client to be closed')
  t.equal(app.notifications.stats().total_clients, 0)
})

test('the built package loads from CommonJS', async (t) => {
  if (!existsSync(distEntry)) return t.fail('dist/lib/index.js is missing: run `npm run build` (npm test does it in pretest)')
  const loaded = require(distEntry)
  t.type(loaded, 'function', 'require() returns the plugin')
  t.equal(loaded.default, loaded)
  t.equal(loaded.notifications, loaded)
  t.equal(typeof loaded.errors.FST_WS_NOTIFY_INVALID_OPTION, 'function')
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(loaded, { channels: ['a'] })
  await app.ready()
  t.same(app.notifications.channels(), ['a'])
})

test('the built package loads from ESM: default and named import', async (t) => {
  if (!existsSync(distEntry)) return t.fail('dist/lib/index.js is missing: run `npm run build` (npm test does it in pretest)')
  const script = `
    import n, { notifications } from ${JSON.stringify(distEntry)}
    import Fastify from 'fastify'
    if (typeof n !== 'function' || n !== notifications) throw new Error('default and named export differ')
    const app = Fastify()
    await app.register(n, { channels: ['esm'] })
    await app.ready()
    console.log(JSON.stringify(app.notifications.channels()))
    await app.close()
  `
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: resolve(__dirname, '..'), timeout: 20_000 })
  t.equal(stdout.trim(), '["esm"]')
})

test('an upgrade is refused while the app is closing even when Fastify routes it', async (t) => {
  // return503OnClosing: false lets the request reach the plugin's own check.
  const app = Fastify({ return503OnClosing: false })
  await app.register(notifications, { channels: ['a'], closeTimeout: 1000 })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }
  const first = await connect(t, `ws://127.0.0.1:${port}`)
  // The first client never answers the close handshake, so close() stays in progress.
  ;(first.ws as unknown as { _socket: { pause (): void } })._socket.pause()
  const closing = app.close()
  await sleep(20)
  const late = new Client(`ws://127.0.0.1:${port}/ws`)
  t.teardown(() => late.ws.terminate())
  await t.rejects(late.opened, /HTTP 503/)
  await closing
})
