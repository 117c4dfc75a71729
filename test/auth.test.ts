// authenticate on the upgrade (HTTP 401, identity = client id), authorize on every subscribe
// (FORBIDDEN), namespace channels such as `user:*`, and the order of replies across an async authorize.
import { test, type Test } from 'tap'
import Fastify, { type FastifyRequest } from 'fastify'
import WebSocket from 'ws'
import notifications from '../lib/index'
import { build, connect, Client, sleep } from './helper'

/** The bearer token is the identity: enough to prove the plumbing with real sockets. */
async function bearer (request: FastifyRequest): Promise<string | null> {
  const header = request.headers.authorization
  return header?.startsWith('Bearer ') === true ? header.slice(7) : null
}
const as = (id: string) => ({ headers: { authorization: `Bearer ${id}` } })

test('authenticate: a refused upgrade gets HTTP 401 and never becomes a socket', async (t) => {
  const { app, url } = await build(t, { authenticate: bearer })
  const client = new Client(`${url}/ws`)
  t.teardown(() => client.ws.terminate())
  await t.rejects(client.opened, /HTTP 401/)
  t.equal(app.notifications.stats().total_connections_ever, 0)
})

test('authenticate: the identity is the client id; a client_id naming someone else is ignored', async (t) => {
  const { app, url } = await build(t, { authenticate: bearer })
  const a = await connect(t, url, '?client_id=B', as('A'))
  const b = await connect(t, url, '', as('B'))
  t.equal(a.frames[0].client_id, 'A')
  t.equal(b.frames[0].client_id, 'B')
  t.equal(await app.notifications.sendTo('B', 'secret', { for: 'B' }), 1)
  t.equal((await b.waitFor(2))[1].type, 'secret')
  // A's next frame is the pong: B's direct message never reached it.
  t.same(await a.request({ action: 'ping', id: 1 }), { type: 'pong', id: 1, timestamp: a.frames[1].timestamp })
  t.equal(a.frames.length, 2)
})

test('authenticate: { id } objects are accepted; a thrown error keeps its statusCode; a bad id is a 500', async (t) => {
  const { url } = await build(t, {
    async authenticate (request) {
      const token = request.headers.authorization
      if (token === 'Bearer throw') throw Object.assign(new Error('token expired'), { statusCode: 401 })
      if (token === 'Bearer bad') return { id: 'not a valid id!' }
      return { id: 'obj-1', role: 'admin' }
    }
  })
  const ok = await connect(t, url, '', as('x'))
  t.equal(ok.frames[0].client_id, 'obj-1')
  for (const [token, status] of [['throw', 401], ['bad', 500]] as const) {
    const refused = new Client(`${url}/ws`, as(token))
    t.teardown(() => refused.ws.terminate())
    await t.rejects(refused.opened, new RegExp(`HTTP ${status}`), token)
  }
})

test('authorize: a refusal is FORBIDDEN with the id, and no subscription', async (t) => {
  const seen: Array<[unknown, string, string]> = []
  const { app, url } = await build(t, {
    authenticate: bearer,
    async authorize (identity, channel, request) {
      seen.push([identity, channel, request.url])
      return channel !== 'beta'
    }
  })
  const client = await connect(t, url, '', as('carol'))
  const refused = await client.request({ action: 'subscribe', channel: 'beta', id: 'b1' })
  t.match(refused, { type: 'error', code: 'FORBIDDEN', id: 'b1' })
  t.match(await client.request({ action: 'subscribe', channel: 'alpha', id: 2 }), { type: 'subscribed', channel: 'alpha', id: 2 })
  t.same(seen, [['carol', 'beta', '/ws'], ['carol', 'alpha', '/ws']])
  t.equal(await app.notify('beta', 'x', {}), 0)
  t.same(app.notifications.stats().active_channels, ['alpha'])
  // Already held: granted before, so authorize is not asked again.
  t.match(await client.request({ action: 'subscribe', channel: 'alpha', id: 3 }), { type: 'subscribed', id: 3 })
  t.equal(seen.length, 2)
})

test('authorize: a hook that throws or answers a non-boolean refuses (fail closed)', async (t) => {
  const { url } = await build(t, {
    authorize: async (_identity, channel) => {
      if (channel === 'alpha') throw new Error('db down')
      return 'yes' as unknown as boolean
    }
  })
  const client = await connect(t, url)
  t.match(await client.request({ action: 'subscribe', channel: 'alpha', id: 1 }), { code: 'FORBIDDEN', id: 1 })
  t.match(await client.request({ action: 'subscribe', channel: 'beta', id: 2 }), { code: 'FORBIDDEN', id: 2 })
})

test('authorize: replies of one socket keep the order of its frames while an async authorize is pending', async (t) => {
  const { url } = await build(t, {
    authorize: async (_identity, channel) => {
      if (channel === 'alpha') await sleep(50)
      return true
    }
  })
  const client = await connect(t, url)
  client.ws.send(JSON.stringify({ action: 'subscribe', channel: 'alpha', id: 1 }))
  client.ws.send(JSON.stringify({ action: 'ping', id: 2 }))
  client.ws.send(JSON.stringify({ action: 'subscribe', channel: 'beta', id: 3 }))
  client.ws.send(JSON.stringify({ action: 'unsubscribe', channel: 'alpha', id: 4 }))
  const frames = await client.waitFor(5)
  t.same(frames.slice(1).map((f) => [f.type, f.id]), [['subscribed', 1], ['pong', 2], ['subscribed', 3], ['unsubscribed', 4]])
})

test('namespace channels: user:* gives each identity its own channel', async (t) => {
  const { app, url } = await build(t, { channels: ['news', 'user:*'], authenticate: bearer })
  const u42 = await connect(t, url, '', as('42'))
  t.same(u42.frames[0].available_channels, ['news', 'user:*'])
  t.match(await u42.request({ action: 'subscribe', channel: 'user:42', id: 1 }), { type: 'subscribed', channel: 'user:42' })
  t.match(await u42.request({ action: 'subscribe', channel: 'user:43', id: 2 }), { code: 'FORBIDDEN', id: 2 })
  t.match(await u42.request({ action: 'subscribe', channel: 'user:*', id: 3 }), { code: 'INVALID_CHANNEL', id: 3 })
  t.match(await u42.request({ action: 'subscribe', channel: 'user:', id: 4 }), { code: 'INVALID_CHANNEL', id: 4 })
  t.match(await u42.request({ action: 'subscribe', channel: 'news', id: 5 }), { type: 'subscribed' })
  t.equal(await app.notify('user:42', 'private', { n: 1 }), 1)
  t.equal(await app.notify('user:43', 'private', { n: 2 }), 0)
  t.match((await u42.waitFor(7))[6], { type: 'private', channel: 'user:42', data: { n: 1 } })
  await t.rejects(app.notify('user:*', 'x', {}), { code: 'FST_WS_NOTIFY_UNKNOWN_CHANNEL' })
})

test('namespace channels: authorize decides when given; a pattern needs authenticate or authorize', async (t) => {
  const { url } = await build(t, { channels: ['room:*'], authorize: async (_id, channel) => channel === 'room:lobby' })
  const client = await connect(t, url)
  t.match(await client.request({ action: 'subscribe', channel: 'room:lobby' }), { type: 'subscribed' })
  t.match(await client.request({ action: 'subscribe', channel: 'room:vip' }), { code: 'FORBIDDEN' })
  await t.rejects(build(t, { channels: ['user:*'] }), { code: 'FST_WS_NOTIFY_INVALID_OPTION', message: /user:\*.*authenticate/ })
  await t.rejects(build(t, { authenticate: 'yes' as never }), { code: 'FST_WS_NOTIFY_INVALID_OPTION', message: /authenticate must be/ })
  await t.rejects(build(t, { authorize: {} as never }), { code: 'FST_WS_NOTIFY_INVALID_OPTION', message: /authorize must be/ })
})

/** Opens a real `ws` client whose upgrade is refused; resolves with the HTTP status and body. */
async function refusedUpgrade (t: Test, url: string, headers: Record<string, string>): Promise<{ status: number | undefined, body: string }> {
  const ws = new WebSocket(`${url}/ws`, { headers })
  t.teardown(() => ws.terminate())
  ws.on('error', () => {})
  return await new Promise((resolve, reject) => {
    ws.once('open', () => reject(new Error('the upgrade was accepted')))
    ws.once('unexpected-response', (request, response) => {
      let body = ''
      response.setEncoding('utf8')
      response.on('data', (chunk: string) => { body += chunk })
      response.on('end', () => {
        request.destroy()
        resolve({ status: response.statusCode, body })
      })
    })
  })
}

// Issue 18.8: the app's exception reached the body of the refused upgrade (message, and so secrets).
test('authenticate: an exception is the app\'s bug: logged at error with the error, answered 500 with a generic body', async (t) => {
  const lines: Array<{ level: number, msg: string, err?: { message?: string, stack?: string } }> = []
  const app = Fastify({
    logger: {
      level: 'info',
      stream: { write: (text: string) => { lines.push(JSON.parse(text)) } }
    }
  })
  await app.register(notifications, {
    channels: ['alpha'],
    async authenticate (request) {
      const token = request.headers.authorization
      if (token === 'Bearer crash') throw new Error('cannot reach postgres://admin:hunter2@db/users')
      if (token === 'Bearer expired') throw Object.assign(new Error('token expired'), { statusCode: 401 })
      return { id: 'not a valid id!' }
    }
  })
  t.teardown(() => app.close())
  await app.listen({ port: 0, host: '127.0.0.1' })
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  const url = `ws://127.0.0.1:${address.port}`

  const generic = { error: 'Internal Server Error', message: 'authentication failed' }
  const crash = await refusedUpgrade(t, url, { authorization: 'Bearer crash' })
  t.equal(crash.status, 500)
  t.same(JSON.parse(crash.body), generic, 'a generic body')
  t.notMatch(crash.body, /hunter2|postgres|at /, 'no message nor stack of the app\'s error')
  // The identity it returned is not a client id: the app's bug too, and the bad value stays out of the body.
  const bad = await refusedUpgrade(t, url, { authorization: 'Bearer bad' })
  t.equal(bad.status, 500)
  t.same(JSON.parse(bad.body), generic)
  // A deliberate refusal (a 4xx statusCode, such as @fastify/jwt's) is the app's answer: kept as it is.
  const expired = await refusedUpgrade(t, url, { authorization: 'Bearer expired' })
  t.equal(expired.status, 401)
  t.match(JSON.parse(expired.body), { message: 'token expired' })

  const errors = lines.filter((line) => line.level >= 50)
  t.equal(errors.length, 2, 'each failure logged once at error level')
  t.match(errors[0], { msg: /authenticate/, err: { message: /hunter2/, stack: /Error: cannot reach/ } }, 'with the error, for the app\'s owner')
  t.match(errors[1], { err: { code: 'FST_WS_NOTIFY_INVALID_IDENTITY' } })
  t.equal(app.notifications.stats().total_connections_ever, 0)
})
