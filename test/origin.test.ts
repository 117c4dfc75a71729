// Cross-site WebSocket hijacking: an upgrade from another origin gets HTTP 403 before it becomes a
// socket; no Origin (non-browser clients) and same-origin pass; others need allowedOrigins.
import { test, type Test } from 'tap'
import Fastify from 'fastify'
import { Writable } from 'node:stream'
import { request as httpRequest } from 'node:http'
import notifications from '../lib/index'
import { isOrigin, isSameOrigin, normalizeOrigin } from '../lib/transports/origin'
import { build, connect, Client, type Frame } from './helper'
import type { NotificationsOptions } from '../types/index'

const from = (origin: string) => ({ headers: { origin } })

async function refused (t: Test, url: string, origin: string): Promise<void> {
  const client = new Client(`${url}/ws`, from(origin))
  t.teardown(() => client.ws.terminate())
  await t.rejects(client.opened, /HTTP 403/, origin)
}

test('default: no Origin and same-origin pass; another origin gets 403, logged once with the option to set', async (t) => {
  const lines: string[] = []
  const stream = new Writable({ write (chunk, _encoding, done) { lines.push(chunk.toString()); done() } })
  const app = Fastify({ logger: { level: 'warn', stream } })
  await app.register(notifications, { channels: ['alpha'] })
  t.teardown(() => app.close())
  const address = await app.listen({ port: 0, host: '127.0.0.1' })
  const url = address.replace('http', 'ws')
  await connect(t, url)
  await connect(t, url, '', from(address))
  await refused(t, url, 'https://evil.example')
  await refused(t, url, 'http://127.0.0.1:1')
  await refused(t, url, 'null')
  const warnings = lines.filter((line) => line.includes('allowedOrigins'))
  t.equal(warnings.length, 1, 'one warning for three refusals')
  t.match(warnings[0], /evil\.example/)
  t.equal(app.notifications.stats().total_connections_ever, 2)
})

test('allowedOrigins: listed origins pass (case and trailing slash ignored), others still get 403', async (t) => {
  const { url } = await build(t, { allowedOrigins: ['https://App.example.com/', 'http://localhost:3000'] })
  await connect(t, url, '', from('https://app.example.com'))
  await connect(t, url, '', from('http://localhost:3000'))
  await refused(t, url, 'http://localhost:3001')
  await refused(t, url, 'https://app.example.com.evil.example')
})

test('allowedOrigins: a function decides per origin', async (t) => {
  const { url } = await build(t, { allowedOrigins: (origin) => origin.endsWith('.trusted.example') })
  await connect(t, url, '', from('https://a.trusted.example'))
  await refused(t, url, 'https://trusted.example.evil')
})

test('allowedOrigins: checked at registration', async (t) => {
  const bad: unknown[] = ['https://x.example', ['https://x.example/path'], [42], ['not an origin']]
  for (const allowedOrigins of bad) {
    await t.rejects(build(t, { allowedOrigins } as Partial<NotificationsOptions>), { code: 'FST_WS_NOTIFY_INVALID_OPTION', message: /allowedOrigins/ })
  }
})

test('same-origin and normalization helpers', async (t) => {
  t.ok(isSameOrigin('http://example.com', 'example.com:80'))
  t.ok(isSameOrigin('https://Example.com', 'example.com'))
  t.notOk(isSameOrigin('https://example.com', 'example.com:8443'))
  t.notOk(isSameOrigin('not a url', 'example.com'))
  t.notOk(isSameOrigin('http://example.com', undefined))
  t.equal(normalizeOrigin('HTTPS://A.example:443/'), 'https://a.example')
  t.ok(isOrigin('null'))
  t.notOk(isOrigin('https://x.example?q=1'))
  t.notOk(isOrigin('https://user@x.example'))
})

/** A raw upgrade request over HTTP with the Host and Origin we choose; resolves with a refusal's status and JSON body. */
async function upgradeRefusal (url: string, host: string, origin: string): Promise<{ status: number, body: Frame }> {
  const { port } = new URL(url)
  return await new Promise((resolve, reject) => {
    const request = httpRequest({
      host: '127.0.0.1',
      port,
      path: '/ws',
      headers: {
        host,
        origin,
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ=='
      }
    })
    request.on('upgrade', (_response, socket) => { socket.destroy(); reject(new Error(`upgraded with Host ${host}`)) })
    request.on('response', (response) => {
      let body = ''
      response.setEncoding('utf8')
      response.on('data', (chunk: string) => { body += chunk })
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: JSON.parse(body) as Frame }))
    })
    request.on('error', reject)
    request.end()
  })
}

/** Host and Origin of a page served from `name` on the test server's port, as a browser sends them. */
function page (url: string, name: string): { headers: { host: string, origin: string } } {
  const { port } = new URL(url)
  return { headers: { host: `${name}:${port}`, origin: `http://${name}:${port}` } }
}

test('issue 18.8: DNS rebinding (Origin equal to a foreign Host) gets the origin refusal, logged once naming allowedHosts', async (t) => {
  const lines: string[] = []
  const stream = new Writable({ write (chunk, _encoding, done) { lines.push(chunk.toString()); done() } })
  const app = Fastify({ logger: { level: 'warn', stream } })
  await app.register(notifications, { channels: ['alpha'] })
  t.teardown(() => app.close())
  const url = (await app.listen({ port: 0, host: '127.0.0.1' })).replace('http', 'ws')

  // The attacker's page at evil.example:PORT, its name rebound to 127.0.0.1: same-origin by the headers.
  const rebound = page(url, 'evil.example')
  const refusal = await upgradeRefusal(url, rebound.headers.host, rebound.headers.origin)
  t.equal(refusal.status, 403)
  t.same(refusal.body, { error: 'Forbidden', code: 'ORIGIN_NOT_ALLOWED', message: 'Origin not allowed' }, 'the same answer as an origin refusal')
  await refused(t, url, rebound.headers.origin) // and with a real ws client (Host 127.0.0.1: cross-origin)
  const client = new Client(`${url}/ws`, page(url, 'Evil.Example'))
  t.teardown(() => client.ws.terminate())
  await t.rejects(client.opened, /HTTP 403/, 'a ws client with the rebinding Host and Origin')

  // Loopback names and literal addresses cannot be rebound: same-origin pages there pass.
  for (const name of ['localhost', 'app.localhost', '127.0.0.1', '[::1]', '10.1.2.3']) {
    await connect(t, url, '', page(url, name))
  }
  t.equal(app.notifications.stats().total_connections_ever, 5)
  const warnings = lines.filter((line) => line.includes('allowedHosts'))
  t.equal(warnings.length, 1, 'one warning for the refusals by host')
  t.match(warnings[0], /evil\.example/)
})

test('allowedHosts: listed hosts pass same-origin (case and port ignored); a function decides per host', async (t) => {
  const listed = await build(t, { allowedHosts: ['App.example.com'] })
  await connect(t, listed.url, '', page(listed.url, 'app.example.com'))
  await connect(t, listed.url, '', page(listed.url, 'localhost'))
  const refusal = await upgradeRefusal(listed.url, 'app.example.com.evil.example', 'http://app.example.com.evil.example')
  t.equal(refusal.status, 403)
  t.equal(refusal.body.code, 'ORIGIN_NOT_ALLOWED')

  const decided = await build(t, { allowedHosts: (host) => host.endsWith('.trusted.example') })
  await connect(t, decided.url, '', page(decided.url, 'a.trusted.example'))
  t.equal((await upgradeRefusal(decided.url, 'evil.example', 'http://evil.example')).status, 403)

  // An origin listed in allowedOrigins passes whatever Host says: its owner controls its DNS.
  const byOrigin = await build(t, { allowedOrigins: ['http://app.example.com'] })
  await connect(t, byOrigin.url, '', { headers: { host: 'app.example.com', origin: 'http://app.example.com' } })
  t.equal((await upgradeRefusal(byOrigin.url, 'evil.example', 'http://evil.example')).status, 403)
})

test('allowedHosts: a client without Origin (not a browser) is never checked by Host', async (t) => {
  const { url } = await build(t)
  await connect(t, url, '', { headers: { host: 'evil.example' } })
})

test('allowedHosts: checked at registration', async (t) => {
  const bad: unknown[] = ['app.example.com', [42], ['https://app.example.com'], ['app.example.com/path'], ['']]
  for (const allowedHosts of bad) {
    await t.rejects(build(t, { allowedHosts } as Partial<NotificationsOptions>), { code: 'FST_WS_NOTIFY_INVALID_OPTION', message: /allowedHosts( must|:)/ })
  }
})
