// GET /ws/asyncapi.json: an AsyncAPI 3 document that @asyncapi/parser accepts without a single
// diagnostic, generated from the channel declarations, and whose schemas accept the frames a real
// socket receives (and refuse wrong ones), checked by Fastify's own JSON Schema validator.
import { test, type Test } from 'tap'
import Fastify from 'fastify'
import { Type } from '@sinclair/typebox'
import { Parser } from '@asyncapi/parser'
import { get as httpGet } from 'node:http'
import { build, connect, type Frame } from './helper'
import notifications from '../lib/index'
import { channels as demoChannels } from '../examples/channels'

const channels = {
  ...demoChannels,
  'user:*': { events: { mention: Type.Object({ from: Type.String() }) } },
  loose: {}
}
const authenticate = async (request: { headers: Record<string, unknown> }) => String(request.headers['x-user'] ?? 'anon')

async function fetchDocument (http: string, url = '/ws/asyncapi.json'): Promise<Frame> {
  const response = await fetch(`${http}${url}`)
  if (response.status !== 200) throw new Error(`asyncapi.json answered HTTP ${response.status}`)
  return await response.json() as Frame
}

/** A validator for each message payload of the document (Fastify's Ajv, no coercion, nothing removed). */
async function validators (t: Test, document: Frame) {
  const checker = Fastify({ ajv: { customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false } } })
  t.teardown(() => checker.close())
  const keys = Object.keys(document.components.messages)
  for (const key of keys) {
    checker.post(`/${encodeURIComponent(key)}`, { schema: { body: document.components.messages[key].payload } }, async () => 'ok')
  }
  await checker.ready()
  return async (key: string, frame: unknown): Promise<string> => {
    if (!keys.includes(key)) throw new Error(`no message ${key}; have ${keys.join(', ')}`)
    const response = await checker.inject({ method: 'POST', url: `/${encodeURIComponent(key)}`, payload: frame as object })
    return response.statusCode === 200 ? 'valid' : response.json().message
  }
}

test('the document parses with @asyncapi/parser, without diagnostics', async (t) => {
  const { http } = await build(t, { channels, authenticate })
  const raw = await (await fetch(`${http}/ws/asyncapi.json`)).text()
  const { document, diagnostics } = await new Parser().parse(raw)
  t.same(diagnostics.map((d) => `${d.code}: ${d.message} at ${d.path.join('.')}`), [], 'no errors, warnings or hints')
  if (document === undefined) throw new Error('not parsed')
  t.match(document.version(), /^3\./, 'AsyncAPI 3')

  const socket = document.channels().all()
  t.equal(socket.length, 1, 'one AsyncAPI channel: the connection (WebSocket binding)')
  t.equal(socket[0].address(), '/ws')
  const binding = socket[0].bindings().get('ws')?.value() as Frame
  t.match(binding, { method: 'GET', query: { properties: { client_id: { type: 'string', maxLength: 128 } } } })
  const server = document.servers().all()[0]
  t.equal(server.host(), '{host}', 'a placeholder host, never the request\'s Host header')
  t.equal(server.protocol(), 'ws')

  const operations = new Map(document.operations().all().map((operation) => [operation.id(), operation]))
  for (const action of ['subscribe', 'unsubscribe', 'ping']) {
    const operation = operations.get(action)
    t.equal(operation?.action(), 'send', `${action} is sent by the client`)
    t.ok((operation?.reply()?.messages().length ?? 0) >= 2, `${action} declares its reply and the error`)
  }
  for (const name of Object.keys(channels)) {
    const operation = [...operations.values()].find((o) => (o.json() as Frame).title === name)
    t.equal(operation?.action(), 'receive', `a receive operation for channel ${name}`)
  }
  // Compared in the served JSON: the parser adds its own x-parser-schema-id keys.
  const served = JSON.parse(raw) as Frame
  const payload = served.components.messages['error_firewall.error_blocked'].payload as Frame
  const receiveBlocked = [...operations.values()].find((o) => (o.json() as Frame).title === 'error_firewall')
  t.equal(receiveBlocked?.messages().all()[0].name(), 'error_blocked', 'the receive operation lists the channel\'s events')
  t.same(payload.properties.data, JSON.parse(JSON.stringify(demoChannels.error_firewall.events.error_blocked)),
    'the event payload is the declared TypeBox schema')
  t.same(payload.properties.type, { type: 'string', const: 'error_blocked' })
  t.same(payload.properties.channel, { type: 'string', const: 'error_firewall' })
  t.match(document.info().description(), /1013/, 'close codes are described')
})

test('frames from a real socket match their messages; wrong frames do not', async (t) => {
  const { app, url, http } = await build(t, { channels, authenticate })
  const document = await fetchDocument(http)
  const check = await validators(t, document)
  const client = await connect(t, url, '', { headers: { 'x-user': '42' } })
  t.equal(await check('connected', client.frames[0]), 'valid', 'connected')

  const subscribe = { action: 'subscribe', channel: 'error_firewall', id: 1 }
  t.equal(await check('subscribe', subscribe), 'valid', 'subscribe action')
  t.equal(await check('subscribed', await client.request(subscribe)), 'valid', 'subscribed reply')
  t.equal(await check('subscribed', await client.request({ action: 'subscribe', channel: 'user:42' })), 'valid', 'subscribed to a namespace channel')
  t.equal(await check('ping', { action: 'ping', id: 'p' }), 'valid', 'ping action')
  t.equal(await check('pong', await client.request({ action: 'ping', id: 'p' })), 'valid', 'pong reply')
  const invalidChannel = await client.request({ action: 'subscribe', channel: 'nope', id: 3 })
  t.equal(await check('error', invalidChannel), 'valid', 'INVALID_CHANNEL error')
  t.equal(await check('error', await client.request('not json')), 'valid', 'INVALID_JSON error')
  t.equal(await check('unsubscribed', await client.request({ action: 'unsubscribe', channel: 'user:42' })), 'valid', 'unsubscribed reply')

  const count = client.frames.length
  await app.notify('error_firewall', 'error_blocked', { error_id: 'e1', solution: 'retry' })
  await app.notifications.sendTo('42', 'hello', { any: ['thing'] })
  const [blocked, direct] = (await client.waitFor(count + 2)).slice(count)
  t.equal(await check('error_firewall.error_blocked', blocked), 'valid', 'notification')
  t.equal(await check('direct', direct), 'valid', 'direct message')
  await app.notifications.broadcast('maintenance', { at: '22:00' })
  const [broadcast] = (await client.waitFor(count + 3)).slice(count + 2)
  t.equal(await check('broadcast', broadcast), 'valid', 'broadcast')
  t.match(await check('broadcast', direct), /broadcast/, 'a direct message is no broadcast')

  // The schemas are not vacuous.
  t.match(await check('error_firewall.error_blocked', { ...blocked, data: { error_id: 'e1' } }), /data/, 'wrong data refused')
  t.match(await check('error_firewall.error_blocked', { ...blocked, channel: 'system_alerts' }), /channel/, 'wrong channel refused')
  t.match(await check('error_firewall.error_blocked', { ...blocked, type: 'other' }), /type/, 'wrong event type refused')
  t.match(await check('error', { ...invalidChannel, code: 'MADE_UP' }), /code/, 'unknown error code refused')
  t.match(await check('subscribe', { action: 'subscribe' }), /channel/, 'subscribe without channel refused')
  t.match(await check('user__.mention', { type: 'mention', channel: 'other:42', data: { from: 'x' }, timestamp: blocked.timestamp }), /channel/,
    'a namespace message must name a channel of the namespace')
  t.equal(await check('loose.any', { type: 'whatever', channel: 'loose', data: [1, 2], timestamp: blocked.timestamp }), 'valid',
    'an undeclared-events channel accepts any type and data')
})

test('on by default, off with asyncapi: false, follows stats: false, behind the stats hooks', async (t) => {
  const on = await build(t)
  t.equal((await fetch(`${on.http}/ws/asyncapi.json`)).status, 200, 'on by default')
  const off = await build(t, { asyncapi: false })
  t.equal((await fetch(`${off.http}/ws/asyncapi.json`)).status, 404, 'asyncapi: false')
  const noStats = await build(t, { stats: false })
  t.equal((await fetch(`${noStats.http}/ws/asyncapi.json`)).status, 404, 'stats: false turns the default off')
  const asked = await build(t, { stats: false, asyncapi: true })
  t.equal((await fetch(`${asked.http}/ws/asyncapi.json`)).status, 200, 'asked for explicitly with stats: false: served')

  const guarded = await build(t, {
    stats: {
      onRequest: async (request, reply) => {
        if (request.headers.authorization !== 'Bearer ops') await reply.code(401).send({ error: 'Unauthorized' })
      }
    }
  })
  t.equal((await fetch(`${guarded.http}/ws/asyncapi.json`)).status, 401, 'the stats route onRequest hook applies')
  const allowed = await fetch(`${guarded.http}/ws/asyncapi.json`, { headers: { authorization: 'Bearer ops' } })
  t.equal(allowed.status, 200)
  t.match(allowed.headers.get('content-type'), /application\/json/)

  const root = await build(t, { path: '/' })
  const document = await fetchDocument(root.http, '/asyncapi.json')
  t.equal(document.channels.socket.address, '/', "path '/' serves /asyncapi.json")
})

test('asyncapi must be a boolean', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  await t.rejects(async () => { await app.register(notifications, { channels: ['a'], asyncapi: 'yes' as unknown as boolean }).ready() }, {
    code: 'FST_WS_NOTIFY_INVALID_OPTION',
    message: /asyncapi must be true or false; got string "yes"/
  })
})

test('names that collide or are not component keys still get distinct, valid keys', async (t) => {
  const { http } = await build(t, {
    channels: {
      'a.b': { events: { c: Type.Object({ x: Type.Integer() }) } },
      a: { events: { 'b.c': Type.Object({ y: Type.String() }) } },
      'weird name/%': {}
    }
  })
  const raw = await (await fetch(`${http}/ws/asyncapi.json`)).text()
  const { diagnostics } = await new Parser().parse(raw)
  t.same(diagnostics.map((d) => d.message), [], 'still a valid document')
  const messages = (JSON.parse(raw) as Frame).components.messages
  t.same(messages['a.b.c'].payload.properties.data.required, ['x'], 'first declaration keeps the plain key')
  t.same(messages['a.b.c_2'].payload.properties.data.required, ['y'], 'the colliding one gets a suffix')
  t.equal(messages['weird_name__.any'].payload.properties.channel.const, 'weird name/%', 'the real name stays in the payload')
})

/** GET over real HTTP with a Host header of our choosing (fetch does not let a caller set Host). */
async function getWithHost (http: string, path: string, host: string): Promise<{ status: number, body: string }> {
  const { port } = new URL(http)
  return await new Promise((resolve, reject) => {
    const request = httpGet({ host: '127.0.0.1', port, path, headers: { host } }, (response) => {
      let body = ''
      response.setEncoding('utf8')
      response.on('data', (chunk: string) => { body += chunk })
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }))
    })
    request.on('error', reject)
  })
}

test('issue 18.6: the request\'s Host header is never echoed into the document', async (t) => {
  const { http } = await build(t, { channels, authenticate })
  const { status, body } = await getWithHost(http, '/ws/asyncapi.json', 'evil.example')
  t.equal(status, 200)
  t.notOk(body.includes('evil.example'), 'the Host header is not in the body')
  const forwarded = await getWithHost(http, '/ws/asyncapi.json', 'evil.example:8080')
  t.notOk(forwarded.body.includes('evil'), 'nor with a port')
  // A placeholder host with a server variable: tools ask for it, or read it from where they fetched.
  const server = (JSON.parse(body) as Frame).servers.notifications
  t.equal(server.host, '{host}')
  t.match(server.variables.host, { description: /host/ })
  t.equal(server.protocol, 'ws')
  const { diagnostics } = await new Parser().parse(body)
  t.same(diagnostics.map((d) => `${d.code}: ${d.message} at ${d.path.join('.')}`), [], 'still a valid document')
})

test('with sse: true the stream is a second channel, receiving the server\'s frames, and the document still parses', async (t) => {
  const { http } = await build(t, { channels, authenticate, sse: true })
  const raw = await (await fetch(`${http}/ws/asyncapi.json`)).text()
  const { document, diagnostics } = await new Parser().parse(raw)
  t.same(diagnostics.map((d) => `${d.code}: ${d.message} at ${d.path.join('.')}`), [], 'no errors, warnings or hints')
  if (document === undefined) throw new Error('not parsed')
  const stream = document.channels().all().find((channel) => channel.address() === '/ws/sse')
  t.ok(stream, 'the stream channel')
  const operation = document.operations().all().find((o) => o.id() === 'stream')
  t.equal(operation?.action(), 'receive')
  t.ok((operation?.messages().all().length ?? 0) > 3, 'greeting, subscribed, direct and the notifications')
})
