// The wire protocol of PROTOCOL.md, seen from a real client: the greeting, client ids, the three
// actions with id echo, and every error code the core emits. Each socket sends fewer than 20
// frames, under any inbound rate limit.
import { test } from 'tap'
import { request } from 'node:http'
import { randomBytes } from 'node:crypto'
import { build, connect, fetchStats, waitUntil, Client, type Frame } from './helper'

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

/** A WebSocket upgrade request by hand, to read the HTTP answer of a refused upgrade. */
async function upgradeRequest (url: string): Promise<{ status: number, contentType: string, body: string, upgraded: boolean }> {
  return await new Promise((resolve, reject) => {
    const req = request(url, {
      headers: {
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': randomBytes(16).toString('base64')
      }
    })
    req.on('upgrade', (_res, socket) => {
      socket.destroy()
      resolve({ status: 101, contentType: '', body: '', upgraded: true })
    })
    req.on('response', (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => { body += chunk })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type']), body, upgraded: false }))
    })
    req.on('error', reject)
    req.end()
  })
}

test('the first frame is `connected` with client_id and available_channels', async (t) => {
  const { url } = await build(t)
  const client = await connect(t, url, '?client_id=my_client.1:a@b-c')
  const [connected] = client.frames
  t.same(Object.keys(connected).sort(), ['available_channels', 'client_id', 'timestamp', 'type'])
  t.equal(connected.type, 'connected')
  t.equal(connected.client_id, 'my_client.1:a@b-c')
  t.same(connected.available_channels, ['alpha', 'beta', 'gamma'])
  t.match(connected.timestamp, ISO)
  t.ok(Math.abs(Date.parse(connected.timestamp) - Date.now()) < 60_000, 'the timestamp is now, in UTC')
})

test('without client_id the server makes a UUID, a different one per socket', async (t) => {
  const { url } = await build(t)
  const one = await connect(t, url)
  const two = await connect(t, url)
  t.match(one.frames[0].client_id, UUID)
  t.match(two.frames[0].client_id, UUID)
  t.not(one.frames[0].client_id, two.frames[0].client_id)
  const longest = await connect(t, url, `?client_id=${'a'.repeat(128)}`)
  t.equal(longest.frames[0].client_id, 'a'.repeat(128), '128 characters is accepted')
})

test('a malformed client_id is refused with HTTP 400 and a JSON body, and no socket', async (t) => {
  const { app, url, http } = await build(t)
  const bad = [
    `client_id=${'a'.repeat(129)}`,
    'client_id=',
    'client_id=a%20b',
    'client_id=a/b',
    'client_id=%C3%A9t%C3%A9',
    'client_id=a&client_id=b'
  ]
  for (const query of bad) {
    const client = new Client(`${url}/ws?${query}`)
    t.teardown(() => client.ws.terminate())
    await t.rejects(client.opened, /HTTP 400/, `${query.slice(0, 40)} is refused`)
    const response = await upgradeRequest(`${http}/ws?${query}`)
    t.equal(response.status, 400)
    t.match(response.contentType, /application\/json/)
    t.same(JSON.parse(response.body), {
      error: 'Bad Request',
      code: 'INVALID_CLIENT_ID',
      message: 'client_id must be 1-128 characters of [A-Za-z0-9_.:@|-]'
    })
  }
  t.equal(app.notifications.stats().total_connections_ever, 0, 'no socket was ever accepted')
  t.equal((await fetchStats(http)).total_clients, 0)
})

test('subscribe, unsubscribe and ping reply with the id echoed (string and integer)', async (t) => {
  const { url } = await build(t)
  const client = await connect(t, url)
  const subscribed = await client.request({ action: 'subscribe', channel: 'alpha', id: 'req-1' })
  t.same(Object.keys(subscribed).sort(), ['channel', 'id', 'timestamp', 'type'])
  t.match(subscribed, { type: 'subscribed', channel: 'alpha', id: 'req-1', timestamp: ISO })
  t.match(await client.request({ action: 'unsubscribe', channel: 'alpha', id: 42 }), { type: 'unsubscribed', channel: 'alpha', id: 42, timestamp: ISO })
  t.match(await client.request({ action: 'ping', id: 0 }), { type: 'pong', id: 0, timestamp: ISO })
  t.match(await client.request({ action: 'ping', id: -7 }), { type: 'pong', id: -7 })
  t.match(await client.request({ action: 'ping', id: 'x'.repeat(64) }), { type: 'pong', id: 'x'.repeat(64) }, 'a 64-character id')
  const plain = await client.request({ action: 'ping' })
  t.same(Object.keys(plain).sort(), ['timestamp', 'type'], 'no id asked, none sent')
  const noId = await client.request({ action: 'subscribe', channel: 'beta' })
  t.notOk('id' in noId)
})

test('subscribing twice delivers one copy; unsubscribing when not subscribed is not an error', async (t) => {
  const { app, url } = await build(t)
  const client = await connect(t, url)
  t.equal((await client.request({ action: 'subscribe', channel: 'alpha', id: 1 })).type, 'subscribed')
  t.match(await client.request({ action: 'subscribe', channel: 'alpha', id: 2 }), { type: 'subscribed', channel: 'alpha', id: 2 })
  t.equal(await app.notify('alpha', 'once', {}), 1)
  await client.waitFor(4)
  await app.notify('beta', 'marker', {})
  await client.request({ action: 'subscribe', channel: 'beta' })
  await app.notify('beta', 'marker', {})
  const frames = await client.waitFor(6)
  t.same(frames.slice(3).map((f) => f.type), ['once', 'subscribed', 'marker'], 'exactly one copy, and nothing from beta before subscribing')
  t.match(await client.request({ action: 'unsubscribe', channel: 'gamma', id: 3 }), { type: 'unsubscribed', channel: 'gamma', id: 3 })
  t.match(await client.request({ action: 'unsubscribe', channel: 'alpha' }), { type: 'unsubscribed', channel: 'alpha' })
  t.equal(await app.notify('alpha', 'gone', {}), 0, 'unsubscribed means no more messages')
  t.same(app.notifications.stats().channel_stats, { beta: 1 })
})

interface BadFrame { label: string, send: string | Buffer, code: string, message: RegExp, id?: string | number }

const badFrames: BadFrame[] = [
  { label: 'not JSON', send: '{"action":', code: 'INVALID_JSON', message: /^Frame is not valid JSON$/ },
  { label: 'plain text', send: 'hello', code: 'INVALID_JSON', message: /not valid JSON/ },
  { label: 'a number', send: '42', code: 'INVALID_MESSAGE', message: /must be a JSON object/ },
  { label: 'a string', send: '"subscribe"', code: 'INVALID_MESSAGE', message: /must be a JSON object/ },
  { label: 'null', send: 'null', code: 'INVALID_MESSAGE', message: /must be a JSON object/ },
  { label: 'an array', send: '[{"action":"ping"}]', code: 'INVALID_MESSAGE', message: /must be a JSON object/ },
  { label: 'missing action', send: '{"channel":"alpha","id":5}', code: 'INVALID_MESSAGE', message: /needs "action"/, id: 5 },
  { label: 'action not a string', send: '{"action":1,"id":"a"}', code: 'INVALID_MESSAGE', message: /needs "action"/, id: 'a' },
  { label: 'missing channel', send: '{"action":"subscribe","id":6}', code: 'INVALID_MESSAGE', message: /"subscribe" needs "channel": a non-empty string/, id: 6 },
  { label: 'channel not a string', send: '{"action":"unsubscribe","channel":["alpha"],"id":7}', code: 'INVALID_MESSAGE', message: /"unsubscribe" needs "channel"/, id: 7 },
  { label: 'channel empty', send: '{"action":"subscribe","channel":""}', code: 'INVALID_MESSAGE', message: /needs "channel"/ },
  { label: 'id an object', send: '{"action":"ping","id":{"a":1}}', code: 'INVALID_MESSAGE', message: /"id" must be a string of at most 64 characters or an integer/ },
  { label: 'id too long', send: JSON.stringify({ action: 'ping', id: 'x'.repeat(65) }), code: 'INVALID_MESSAGE', message: /"id" must be/ },
  { label: 'id fractional', send: '{"action":"ping","id":1.5}', code: 'INVALID_MESSAGE', message: /"id" must be/ },
  { label: 'a binary frame', send: Buffer.from('{"action":"ping"}'), code: 'INVALID_MESSAGE', message: /Binary frames are not accepted/ },
  { label: 'nested 17 deep', send: `{"action":"ping","x":${'['.repeat(16)}${']'.repeat(16)}}`, code: 'INVALID_MESSAGE', message: /nested deeper than 16 levels/ },
  { label: 'deeply nested array', send: '['.repeat(30_000) + ']'.repeat(30_000), code: 'INVALID_MESSAGE', message: /nested deeper than 16/ },
  { label: 'unknown action', send: '{"action":"publish","channel":"alpha","id":"p"}', code: 'UNKNOWN_ACTION', message: /^Unknown action: publish; expected subscribe, unsubscribe, ping, presence or presence_stats$/, id: 'p' },
  { label: 'unknown action, long', send: JSON.stringify({ action: 'z'.repeat(1000) }), code: 'UNKNOWN_ACTION', message: new RegExp(`^Unknown action: ${'z'.repeat(64)};`) },
  { label: 'undeclared channel', send: '{"action":"subscribe","channel":"delta","id":9}', code: 'INVALID_CHANNEL', message: /^Invalid channel: delta$/, id: 9 },
  { label: 'undeclared channel on unsubscribe', send: '{"action":"unsubscribe","channel":"__proto__"}', code: 'INVALID_CHANNEL', message: /^Invalid channel: __proto__$/ }
]

test('every error code: the error frame, then the connection stays open and works; others see nothing', async (t) => {
  const { app, url } = await build(t)
  const bystander = await connect(t, url)
  await bystander.request({ action: 'subscribe', channel: 'alpha' })
  for (const bad of badFrames) {
    // A fresh socket per case keeps each socket far below any inbound rate limit.
    const client = await connect(t, url)
    await client.request({ action: 'subscribe', channel: 'alpha' })
    client.ws.send(bad.send)
    const [, , error] = await client.waitFor(3)
    t.equal(error.type, 'error', `${bad.label}: an error frame`)
    t.equal(error.code, bad.code, `${bad.label}: ${bad.code}`)
    t.match(error.message, bad.message, `${bad.label}: message`)
    t.match(error.timestamp, ISO)
    t.equal(error.id, bad.id, `${bad.label}: id echoed when readable`)
    if (bad.code === 'INVALID_CHANNEL') t.same(error.available_channels, ['alpha', 'beta', 'gamma'], `${bad.label}: carries available_channels`)
    else t.notOk('available_channels' in error)
    t.equal((await client.request({ action: 'ping', id: 'after' })).type, 'pong', `${bad.label}: the connection still answers`)
    await app.notify('alpha', 'still-subscribed', { label: bad.label })
    t.match((await client.waitFor(5))[4], { type: 'still-subscribed', data: { label: bad.label } }, `${bad.label}: subscriptions survive`)
    t.equal(client.ws.readyState, client.ws.OPEN)
    client.close()
  }
  await bystander.settle()
  t.same(bystander.frames.slice(2).map((f: Frame) => f.type), badFrames.map(() => 'still-subscribed'), 'the bystander saw only the notifications')
  await waitUntil(() => app.notifications.stats().total_clients === 1, 'the closed clients are gone; the bystander stays')
})

test('a long undeclared channel name is cut in the error message', async (t) => {
  const { url } = await build(t)
  const client = await connect(t, url)
  const error = await client.request({ action: 'subscribe', channel: 'c'.repeat(1000) })
  t.equal(error.code, 'INVALID_CHANNEL')
  t.equal(error.message, `Invalid channel: ${'c'.repeat(255)}`)
})

test('extra unknown fields are ignored; brackets inside strings do not count as nesting', async (t) => {
  const { url } = await build(t)
  const client = await connect(t, url)
  t.match(await client.request({ action: 'subscribe', channel: 'alpha', id: 1, resume_from: 'abc', extra: { nested: [1, 2] } }),
    { type: 'subscribed', channel: 'alpha', id: 1 })
  const text = '[[[[[[[[[[[[[[[[[[[[ \\" {{{{{{{{{{{{{{{{{{{{'
  t.match(await client.request({ action: 'ping', id: 2, note: text }), { type: 'pong', id: 2 })
  t.match(await client.request({ action: 'ping', id: 3, a: { b: { c: { d: { e: [[[[[[[[[[1]]]]]]]]]] } } } } }), { type: 'pong', id: 3 }, '16 levels is accepted')
})

test('__proto__ keys in frames do not pollute', async (t) => {
  const { url } = await build(t)
  const client = await connect(t, url)
  const reply = await client.request('{"action":"subscribe","channel":"alpha","__proto__":{"polluted":"yes","channel":"beta"},"constructor":{"prototype":{"polluted":"yes"}}}')
  t.match(reply, { type: 'subscribed', channel: 'alpha' })
  const ping = await client.request('{"__proto__":{"action":"subscribe","channel":"alpha"},"action":"ping","id":1}')
  t.same(Object.keys(ping).sort(), ['id', 'timestamp', 'type'])
  const onlyProto = await client.request('{"__proto__":{"action":"ping"}}')
  t.equal(onlyProto.code, 'INVALID_MESSAGE', 'an action inherited through __proto__ is not an action')
  t.equal(({} as Record<string, unknown>).polluted, undefined)
  t.equal((Object.prototype as Record<string, unknown>).polluted, undefined)
})
