// app.notify(): what it resolves with, the envelope subscribers get, every way it rejects,
// ordering under a burst, and one serialization per call whatever the number of subscribers.
import { test } from 'tap'
import { build, connect } from './helper'

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/

test('notify resolves with the number of sockets written and sends {type, channel, data, timestamp}', async (t) => {
  const { app, url } = await build(t)
  t.equal(await app.notify('alpha', 'nobody', {}), 0, 'no subscribers: 0')
  const clients = await Promise.all([connect(t, url), connect(t, url), connect(t, url)])
  for (const client of clients.slice(0, 2)) await client.request({ action: 'subscribe', channel: 'alpha' })
  await clients[2].request({ action: 'subscribe', channel: 'beta' })
  t.equal(await app.notify('alpha', 'error_blocked', { error_id: 'e1', nested: { list: [1, 'two', null, true] } }), 2)
  t.equal(app.notify, app.notifications.notify, 'app.notify and app.notifications.notify are one function')
  for (const client of clients.slice(0, 2)) {
    const note = (await client.waitFor(3))[2]
    t.same(Object.keys(note), ['type', 'channel', 'data', 'timestamp'])
    t.same(note, { type: 'error_blocked', channel: 'alpha', data: { error_id: 'e1', nested: { list: [1, 'two', null, true] } }, timestamp: note.timestamp })
    t.match(note.timestamp, ISO)
  }
  await clients[2].settle()
  t.equal(clients[2].frames.length, 2, 'a subscriber of another channel gets nothing')
})

test('a channel given only by name accepts any type and any JSON data', async (t) => {
  const { app, url } = await build(t)
  const client = await connect(t, url)
  await client.request({ action: 'subscribe', channel: 'alpha' })
  const payloads: unknown[] = ['text', 12.5, true, null, [1, [2]], { deep: { er: 'x' } }, '€ ✓ \u0000 "quoted"']
  for (const [i, data] of payloads.entries()) t.equal(await app.notify('alpha', `type_${i}`, data), 1)
  await app.notify('alpha', 'undefined-data', undefined)
  const frames = await client.waitFor(2 + payloads.length + 1)
  t.same(frames.slice(2).map((f) => f.data), [...payloads, null], 'data arrives as sent; undefined becomes null')
  t.same(frames.slice(2).map((f) => f.type), [...payloads.map((_, i) => `type_${i}`), 'undefined-data'])
})

test('notify rejects what it cannot send', async (t) => {
  const { app, url } = await build(t)
  const client = await connect(t, url)
  await client.request({ action: 'subscribe', channel: 'alpha' })
  await t.rejects(app.notify('delta', 'x', {}), {
    code: 'FST_WS_NOTIFY_UNKNOWN_CHANNEL',
    message: 'Unknown channel "delta"; declared channels: alpha, beta, gamma'
  })
  for (const type of ['', 5, null, undefined]) {
    await t.rejects(app.notify('alpha', type as string, {}), { code: 'FST_WS_NOTIFY_INVALID_TYPE', message: /expected a non-empty string/ }, `type ${String(type)}`)
  }
  const cycle: Record<string, unknown> = { name: 'loop' }
  cycle.self = cycle
  await t.rejects(app.notify('alpha', 'x', cycle), { code: 'FST_WS_NOTIFY_UNSERIALIZABLE', message: /data cannot be serialized to JSON: .*circular/i })
  await t.rejects(app.notify('alpha', 'x', { n: 10n }), { code: 'FST_WS_NOTIFY_UNSERIALIZABLE', message: /BigInt/ })
  await client.settle()
  t.equal(client.frames.length, 2, 'nothing reached the subscriber')
  t.equal(app.notifications.stats().notifications_published, 0, 'rejected calls are not counted')
})

test('notify and sendTo reject FST_WS_NOTIFY_CLOSED once the app is closing', async (t) => {
  const { app } = await build(t)
  await app.close()
  await t.rejects(app.notify('alpha', 'late', {}), { code: 'FST_WS_NOTIFY_CLOSED', statusCode: 503 })
  await t.rejects(app.notifications.sendTo('someone', 'late', {}), { code: 'FST_WS_NOTIFY_CLOSED' })
})

test('a burst of 1000 notifications in one tick arrives complete and in order on every socket', async (t) => {
  const { app, url } = await build(t)
  const clients = await Promise.all([connect(t, url), connect(t, url), connect(t, url)])
  for (const client of clients) await client.request({ action: 'subscribe', channel: 'alpha' })
  const pending: Array<Promise<number>> = []
  for (let seq = 0; seq < 1000; seq++) pending.push(app.notify('alpha', 'seq', { seq }))
  const counts = await Promise.all(pending)
  t.ok(counts.every((n) => n === 3), 'every call wrote 3 sockets')
  const expected = [...Array(1000).keys()]
  for (const client of clients) {
    const frames = await client.waitFor(1002)
    t.same(frames.slice(2).map((f) => f.data.seq), expected)
  }
  t.equal(app.notifications.stats().total_messages_sent, 3000)
})

test('the envelope is serialized once per call, whatever the number of subscribers', async (t) => {
  const { app, url } = await build(t)
  const clients = await Promise.all(Array.from({ length: 50 }, async () => await connect(t, url)))
  await Promise.all(clients.map(async (client) => await client.request({ action: 'subscribe', channel: 'alpha' })))
  const original = JSON.stringify
  let calls = 0
  JSON.stringify = function countingStringify (this: unknown, ...args: Parameters<typeof JSON.stringify>) {
    calls++
    return original.apply(this, args)
  } as typeof JSON.stringify
  let sent: Promise<number>
  try {
    // notify validates, serializes and fans out synchronously; only its promise settles later.
    sent = app.notify('alpha', 'once', { payload: 'x'.repeat(100) })
  } finally {
    JSON.stringify = original
  }
  t.equal(calls, 1, 'one JSON.stringify for 50 subscribers')
  t.equal(await sent, 50)
  for (const client of clients) t.equal((await client.waitFor(3))[2].type, 'once')
})
