// Cross-site WebSocket hijacking: an upgrade from another origin gets HTTP 403 before it becomes a
// socket; no Origin (non-browser clients) and same-origin pass; others need allowedOrigins.
import { test, type Test } from 'tap'
import Fastify from 'fastify'
import { Writable } from 'node:stream'
import notifications from '../lib/index'
import { isOrigin, isSameOrigin, normalizeOrigin } from '../lib/origin'
import { build, connect, Client } from './helper'
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
