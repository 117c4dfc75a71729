// TypeBox 1.x schemas (the `typebox` package, what @fastify/type-provider-typebox 6 builds) are
// accepted beside 0.34 ones and checked at run time by TypeBox 1's own compiler (issue 19.5).
import { test } from 'tap'
import { Type as Type034 } from '@sinclair/typebox'
import type * as TypeBox1 from 'typebox' with { 'resolution-mode': 'import' }
import { build, connect } from './helper'

// TypeBox 1 is ES-module only; this test file is CommonJS (Node 20.19+ requires ES modules).
const { Type } = require('typebox') as typeof TypeBox1

const channels = {
  orders: {
    events: {
      created: Type.Object({ id: Type.String({ minLength: 1 }), total: Type.Number({ minimum: 0 }), note: Type.Optional(Type.String()) })
    }
  },
  legacy: { events: { ping: Type034.Object({ at: Type034.Integer() }) } }
}

test('typebox 1: good data is delivered, bad data refused naming the path; 0.34 beside it', async (t) => {
  const { app, url } = await build(t, { channels })
  const client = await connect(t, url)
  await client.request({ action: 'subscribe', channel: 'orders' })
  await client.request({ action: 'subscribe', channel: 'legacy' })
  await t.rejects(app.notify('orders', 'created', { id: 'o1', total: 'lots' }), {
    code: 'FST_WS_NOTIFY_INVALID_PAYLOAD', message: /^Invalid data for "created" on channel "orders": data\/total: /
  })
  await t.rejects(app.notify('orders', 'created', { id: 'o1', total: -1 }), { code: 'FST_WS_NOTIFY_INVALID_PAYLOAD' })
  await t.rejects(app.notify('orders', 'created', { total: 1 }), { code: 'FST_WS_NOTIFY_INVALID_PAYLOAD', message: /data: .*required/ })
  await t.rejects(app.notify('legacy', 'ping', { at: 'now' }), { code: 'FST_WS_NOTIFY_INVALID_PAYLOAD' })
  t.equal(await app.notify('orders', 'created', { id: 'o1', total: 9.5 }), 1)
  t.equal(await app.notify('orders', 'created', { id: 'o2', total: 0, note: 'gift' }), 1)
  t.equal(await app.notify('legacy', 'ping', { at: 1 }), 1)
  const frames = await client.waitFor(6)
  t.match(frames.slice(3), [
    { type: 'created', channel: 'orders', data: { id: 'o1', total: 9.5 } },
    { type: 'created', channel: 'orders', data: { id: 'o2', total: 0, note: 'gift' } },
    { type: 'ping', channel: 'legacy', data: { at: 1 } }
  ])
  await client.settle()
  t.equal(client.frames.length, 6, 'nothing of the refused notifications arrived')
})

test('typebox 1: the AsyncAPI document lists its schemas as plain JSON Schema', async (t) => {
  const { app } = await build(t, { channels })
  const res = await app.inject('/ws/asyncapi.json')
  t.equal(res.statusCode, 200)
  t.match(res.body, /"minLength":1/)
})
