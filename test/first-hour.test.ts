// Issue 19, "a real app's first hour works": Fastify's own register options (prefix, logLevel),
// @fastify/websocket registered after the plugin, identities such as `auth0|abc`, and a missing
// ioredis.
import { test } from 'tap'
import Fastify from 'fastify'
import { Writable } from 'node:stream'
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import notifications from '../lib/index'
import { Client, fetchStats } from './helper'

const run = promisify(execFile)
const distEntry = join(__dirname, '..', 'dist', 'lib', 'index.js')

async function listen (app: ReturnType<typeof Fastify>): Promise<{ url: string, http: string }> {
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }
  return { url: `ws://127.0.0.1:${port}`, http: `http://127.0.0.1:${port}` }
}

test('register options prefix and logLevel: routes live under the prefix, logged at that level', async (t) => {
  const lines: Array<Record<string, unknown>> = []
  const stream = new Writable({ write (chunk, _encoding, done) { lines.push(JSON.parse(String(chunk))); done() } })
  const app = Fastify({ logger: { level: 'info', stream } })
  t.teardown(() => app.close())
  await app.register(notifications, { channels: ['orders'], prefix: '/api', logLevel: 'warn' })
  app.get('/other', async () => 'ok')
  const { url, http } = await listen(app)

  const client = new Client(`${url}/api/ws?client_id=me`)
  t.teardown(() => client.ws.terminate())
  await client.opened
  t.match((await client.waitFor(1))[0], { type: 'connected', client_id: 'me', available_channels: ['orders'] })
  t.equal((await fetchStats(http, '/api/ws/stats')).total_clients, 1, 'the stats route is under the prefix too')
  t.equal((await fetch(`${http}/ws/stats`)).status, 404, 'nothing is left at the unprefixed path')
  t.equal((await fetch(`${http}/api/ws/client.js`)).status, 200, 'the browser client is under the prefix')
  await fetch(`${http}/other`)

  const urls = lines.filter((line) => line.msg === 'incoming request').map((line) => (line.req as { url: string }).url)
  t.same(urls, ['/ws/stats', '/other'], 'the plugin\'s routes log at warn: their requests are not logged at info')
})

test('prefix combines with path, and with an explicit stats url', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(notifications, { channels: ['orders'], prefix: '/api/', path: '/live', stats: { url: '/status' } })
  const { url, http } = await listen(app)
  const client = new Client(`${url}/api/live`)
  t.teardown(() => client.ws.terminate())
  await client.opened
  t.equal((await client.waitFor(1))[0].type, 'connected')
  t.equal((await fetchStats(http, '/api/status')).total_clients, 1)
})

test('a prefix that is not a path is refused, naming the option', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  app.register(notifications, { channels: ['orders'], prefix: 'api' })
  await t.rejects(async () => { await app.ready() }, { code: 'FST_WS_NOTIFY_INVALID_OPTION', message: /prefix must start with "\/"/ })
})

test('identities such as auth0|abc are client ids: their namespace channel and sendTo work', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(notifications, {
    channels: ['news', 'user:*'],
    authenticate: async (request) => (request.headers['x-user'] as string | undefined) ?? null
  })
  const { url } = await listen(app)
  const client = new Client(`${url}/ws`, { headers: { 'x-user': 'auth0|abc' } })
  t.teardown(() => client.ws.terminate())
  await client.opened
  t.match((await client.waitFor(1))[0], { type: 'connected', client_id: 'auth0|abc' })
  t.match(await client.request({ action: 'subscribe', channel: 'user:auth0|abc', id: 1 }), { type: 'subscribed', channel: 'user:auth0|abc' })
  t.match(await client.request({ action: 'subscribe', channel: 'user:auth0|other', id: 2 }), { type: 'error', code: 'FORBIDDEN' })
  t.equal(await app.notify('user:auth0|abc', 'badge', { count: 1 }), 1)
  t.equal(await app.notifications.sendTo('auth0|abc', 'direct', {}), 1)
  const frames = await client.waitFor(5)
  t.match(frames.slice(3), [{ type: 'badge', channel: 'user:auth0|abc' }, { type: 'direct' }])
  t.equal(app.notifications.disconnect('auth0|abc'), 1)
})

test('a client_id query with "|" is accepted without authenticate', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(notifications, { channels: ['news'] })
  const { url } = await listen(app)
  const client = new Client(`${url}/ws?client_id=${encodeURIComponent('google-oauth2|1234')}`)
  t.teardown(() => client.ws.terminate())
  await client.opened
  t.match((await client.waitFor(1))[0], { type: 'connected', client_id: 'google-oauth2|1234' })
})

test('a redis:// URL without ioredis installed says to install it, with a FST_WS_NOTIFY_* code', async (t) => {
  // A child process where `ioredis` cannot be resolved, as in an app that never installed it.
  const work = mkdtempSync(join(tmpdir(), 'fastify-ws-notify-no-ioredis-'))
  t.teardown(() => rmSync(work, { recursive: true, force: true }))
  const hook = join(work, 'no-ioredis.cjs')
  writeFileSync(hook, `const Module = require('node:module')
const resolve = Module._resolveFilename
Module._resolveFilename = function (request, ...rest) {
  if (request === 'ioredis') throw Object.assign(new Error("Cannot find module 'ioredis'"), { code: 'MODULE_NOT_FOUND' })
  return resolve.call(this, request, ...rest)
}
`)
  const script = `
    const Fastify = require('fastify')
    const { default: notifications, redisAdapter, createPublisher } = require(${JSON.stringify(distEntry)})
    const seen = []
    try { createPublisher({ redis: 'redis://127.0.0.1:6379', channels: ['a'] }) } catch (err) { seen.push([err.code, err.message]) }
    const app = Fastify()
    app.register(notifications, { channels: ['a'], adapter: redisAdapter({ redis: 'redis://127.0.0.1:6379' }) })
    app.ready().then(() => seen.push(['ready']), (err) => seen.push([err.code, err.message])).then(() => {
      console.log(JSON.stringify(seen))
      return app.close()
    })
  `
  const { stdout } = await run(process.execPath, ['--require', hook, '-e', script], { cwd: join(__dirname, '..') })
  const seen = JSON.parse(stdout) as Array<[string, string]>
  t.equal(seen.length, 2)
  for (const [code, message] of seen) {
    t.equal(code, 'FST_WS_NOTIFY_MISSING_IOREDIS')
    t.match(message, /npm install ioredis/)
  }
})
