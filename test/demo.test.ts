// The demo server (examples/server.ts): POST /notify, its 400s, the sample events, and the built
// server run as `npm start` runs it, shut down with SIGTERM.
import { test, type Test } from 'tap'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { buildDemo, channels, type DemoOptions } from '../examples/server'
import { Client, connect } from './helper'
import { postJson, root, spawnChild } from './child'
import { openSse } from './sse-helper'

async function listenDemo (t: Test, options: DemoOptions): Promise<{ http: string, ws: string }> {
  const app = await buildDemo(options)
  t.teardown(() => app.close())
  await app.listen({ port: 0, host: '127.0.0.1' })
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  return { http: `http://127.0.0.1:${address.port}`, ws: `ws://127.0.0.1:${address.port}` }
}

// The replaced service's own event (PROTOCOL.md); test/replaced-events.test.ts sends every one of them.
const blocked = { channel: 'error_firewall', type: 'error_blocked', data: { error_id: 'e1', solution: 'retry' } }

test('POST /notify with a channel reaches its subscribers and answers delivered n', async (t) => {
  const { http, ws } = await listenDemo(t, { eventInterval: 0 })
  const subscriber = await connect(t, ws)
  const bystander = await connect(t, ws)
  t.match(await subscriber.request({ action: 'subscribe', channel: 'error_firewall' }), { type: 'subscribed' })
  t.match(await bystander.request({ action: 'subscribe', channel: 'db_pool_stats' }), { type: 'subscribed' })

  t.same(await postJson(`${http}/notify`, blocked), { status: 200, body: { delivered: 1 } })
  const frames = await subscriber.waitFor(3)
  t.match(frames[2], { type: 'error_blocked', channel: 'error_firewall', data: blocked.data, timestamp: String })
  t.equal(bystander.frames.length, 2, 'a subscriber of another channel got nothing')
})

test('POST /notify with a client_id reaches every socket of that client only', async (t) => {
  const { http, ws } = await listenDemo(t, { eventInterval: 0 })
  const tab1 = await connect(t, ws, '?client_id=alice')
  const tab2 = await connect(t, ws, '?client_id=alice')
  const other = await connect(t, ws, '?client_id=bob')
  const message = { client_id: 'alice', type: 'report_ready', data: { report_id: 'r-7' } }
  t.same(await postJson(`${http}/notify`, message), { status: 200, body: { delivered: 2 } })
  for (const tab of [tab1, tab2]) {
    const [, direct] = await tab.waitFor(2)
    t.same(direct, { type: 'report_ready', data: { report_id: 'r-7' }, timestamp: direct.timestamp })
  }
  t.equal(other.frames.length, 1, 'another client got nothing')
  t.same(await postJson(`${http}/notify`, { ...message, client_id: 'nobody' }), { status: 200, body: { delivered: 0 } })
})

test('bad bodies get 400 with a message saying what is wrong', async (t) => {
  const { http } = await listenDemo(t, { eventInterval: 0 })
  const cases: Array<[string, unknown, string, RegExp]> = [
    ['no type', { channel: 'system_alerts' }, 'FST_ERR_VALIDATION', /required property 'type'/],
    ['neither target', { type: 'x' }, 'DEMO_BAD_TARGET', /exactly one of "channel".*"client_id"/],
    ['both targets', { ...blocked, client_id: 'alice' }, 'DEMO_BAD_TARGET', /exactly one of/],
    ['unknown channel', { ...blocked, channel: 'nope' }, 'FST_WS_NOTIFY_UNKNOWN_CHANNEL', /Unknown channel "nope"; declared channels: error_firewall/],
    ['unknown event', { ...blocked, type: 'error_unblocked' }, 'FST_WS_NOTIFY_UNKNOWN_EVENT', /Unknown event type "error_unblocked".*declared types: error_blocked/],
    ['invalid data', { ...blocked, data: { error_id: 'e1' } }, 'FST_WS_NOTIFY_INVALID_PAYLOAD', /data\/solution: Expected required property/],
    ['missing data', { channel: 'db_pool_stats', type: 'pool_resized' }, 'FST_WS_NOTIFY_INVALID_PAYLOAD', /pool_resized/],
    ['bad client id', { client_id: 'no spaces', type: 'x' }, 'FST_WS_NOTIFY_INVALID_CLIENT_ID', /Invalid client id "no spaces"/],
    ['not JSON', '{"channel":', 'FST_ERR_CTP_INVALID_JSON_BODY', /JSON/],
    ['not an object', '[1]', 'FST_ERR_VALIDATION', /body must be object/]
  ]
  for (const [name, body, code, message] of cases) {
    const response = await postJson(`${http}/notify`, body)
    t.equal(response.status, 400, `${name}: 400`)
    t.match(response.body, { statusCode: 400, error: 'Bad Request', code, message }, `${name}: ${String(response.body.message)}`)
  }
})

test('sample events flow on every channel when events are on', async (t) => {
  const { ws } = await listenDemo(t, { eventInterval: 20 })
  const client = await connect(t, ws)
  const names = Object.keys(channels)
  for (const channel of names) await client.request({ action: 'subscribe', channel })
  // Each round sends one sample per channel, so a few rounds' worth of frames must hold them all;
  // the frame budget (and waitFor's timeout) keep this bounded.
  const seen = new Set<string>()
  for (let budget = 10 * names.length; seen.size < names.length && budget > 0; budget--) {
    for (const frame of await client.waitFor(client.frames.length + 1)) {
      if (frame.type !== 'subscribed' && frame.type !== 'connected') seen.add(String(frame.channel))
    }
  }
  t.same([...seen].sort(), [...names].sort())
})

test('buildDemo refuses a bad eventInterval', async (t) => {
  await t.rejects(buildDemo({ eventInterval: -1 }), /eventInterval must be an integer >= 0; got -1/)
})

test('the built server logs where to connect and exits 0 on SIGTERM, clients seeing 1001', async (t) => {
  const script = join(root, 'dist', 'examples', 'server.js')
  t.ok(existsSync(script), 'dist/examples/server.js exists (run `npm run build`)')
  if (!existsSync(script)) return
  const server = spawnChild(t, process.execPath, [script], { HOST: '127.0.0.1', PORT: '0', DEMO_EVENTS: '0' })
  const ready = await server.waitForJson({ level: 30 }).then(() => server.waitForLine((line) => line.includes('demo ready')))
  const log = JSON.parse(ready) as { ws: string, stats: string, msg: string }
  t.match(log.ws, /^ws:\/\/127\.0\.0\.1:\d+\/ws$/)
  t.match(log.msg, log.ws, 'the message itself says where to connect')
  const stats = await fetch(log.stats)
  t.equal(stats.status, 200, 'the logged stats URL answers')

  const client = new Client(log.ws)
  t.teardown(() => client.ws.terminate())
  await client.opened
  await client.waitFor(1)
  server.process.kill('SIGTERM')
  t.same(await client.closed, { code: 1001, reason: 'server shutting down' })
  t.same(await server.exited, { code: 0, signal: null })
})

test('the built server refuses a bad PORT with a clear message', async (t) => {
  const script = join(root, 'dist', 'examples', 'server.js')
  if (!existsSync(script)) return t.fail('dist/examples/server.js missing: run `npm run build`')
  const server = spawnChild(t, process.execPath, [script], { PORT: 'eighty', DEMO_EVENTS: '0' })
  t.same(await server.exited, { code: 1, signal: null })
  t.match(server.stderr, /PORT must be an integer from 0 to 65535; got "eighty"/)
})

test('the demo serves Server-Sent Events: POST /notify reaches a stream too', async (t) => {
  const { http } = await listenDemo(t, { eventInterval: 0 })
  const stream = await openSse(t, `${http}/ws/sse?channel=error_firewall`)
  await stream.waitFor(2)
  t.same(await postJson(`${http}/notify`, blocked), { status: 200, body: { delivered: 1 } })
  const events = await stream.waitFor(3)
  t.match(events[2], { event: 'error_blocked', id: /:1$/, data: { channel: 'error_firewall', data: blocked.data } })
})
