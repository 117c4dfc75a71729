// Channels declared with TypeBox schemas: notify() is checked against the declared events at
// run time, and each rejection names the failing path.
import { test } from 'tap'
import { Type } from '@sinclair/typebox'
import { build, connect } from './helper'

const channels = {
  files: {
    events: {
      file_resized: Type.Object({
        path: Type.String({ minLength: 1 }),
        old_size: Type.Integer({ minimum: 0 }),
        new_size: Type.Integer({ minimum: 0 })
      }),
      file_deleted: Type.Object({ path: Type.String() })
    }
  },
  counters: { events: { tick: Type.Integer() } },
  free: {}
}

test('typed channels: valid data is sent; connected lists every declared name', async (t) => {
  const { app, url } = await build(t, { channels })
  const client = await connect(t, url)
  t.same(client.frames[0].available_channels, ['files', 'counters', 'free'])
  await client.request({ action: 'subscribe', channel: 'files' })
  await client.request({ action: 'subscribe', channel: 'counters' })
  t.equal(await app.notify('files', 'file_resized', { path: '/a', old_size: 1, new_size: 2 }), 1)
  t.equal(await app.notify('files', 'file_deleted', { path: '/a' }), 1)
  t.equal(await app.notify('counters', 'tick', 7), 1)
  const frames = await client.waitFor(6)
  t.match(frames.slice(3), [
    { type: 'file_resized', channel: 'files', data: { path: '/a', old_size: 1, new_size: 2 } },
    { type: 'file_deleted', channel: 'files', data: { path: '/a' } },
    { type: 'tick', channel: 'counters', data: 7 }
  ])
})

test('typed channels: undeclared events and invalid data are refused, naming the path', async (t) => {
  const { app, url } = await build(t, { channels })
  const client = await connect(t, url)
  await client.request({ action: 'subscribe', channel: 'files' })
  await t.rejects(app.notify('files', 'file_created', { path: '/a' }), {
    code: 'FST_WS_NOTIFY_UNKNOWN_EVENT',
    message: 'Unknown event type "file_created" for channel "files"; declared types: file_resized, file_deleted'
  })
  await t.rejects(app.notify('files', 'file_resized', { path: '/a', old_size: 'big', new_size: 2 }), {
    code: 'FST_WS_NOTIFY_INVALID_PAYLOAD',
    message: /^Invalid data for "file_resized" on channel "files": data\/old_size: /
  })
  await t.rejects(app.notify('files', 'file_resized', { path: '/a', old_size: -1, new_size: 2 }), {
    code: 'FST_WS_NOTIFY_INVALID_PAYLOAD', message: /data\/old_size: .*greater or equal to 0/
  })
  await t.rejects(app.notify('files', 'file_resized', { path: '/a', old_size: 1 }), {
    code: 'FST_WS_NOTIFY_INVALID_PAYLOAD', message: /data\/new_size: /
  })
  await t.rejects(app.notify('files', 'file_deleted', 'not an object'), {
    code: 'FST_WS_NOTIFY_INVALID_PAYLOAD', message: /on channel "files": data: Expected object/
  })
  await t.rejects(app.notify('files', 'file_deleted', undefined), { code: 'FST_WS_NOTIFY_INVALID_PAYLOAD', message: /: data: / })
  await t.rejects(app.notify('counters', 'tick', 1.5), { code: 'FST_WS_NOTIFY_INVALID_PAYLOAD', message: /"tick" on channel "counters": data: Expected integer/ })
  await t.rejects(app.notify('nope', 'tick', 1), { code: 'FST_WS_NOTIFY_UNKNOWN_CHANNEL', message: /declared channels: files, counters, free/ })
  await t.rejects(app.notify('files', '', {}), { code: 'FST_WS_NOTIFY_INVALID_TYPE' })
  await client.settle()
  t.equal(client.frames.length, 2, 'nothing invalid was sent')
})

test('a declared channel without events accepts any type and any data', async (t) => {
  const { app, url } = await build(t, { channels })
  const client = await connect(t, url)
  await client.request({ action: 'subscribe', channel: 'free' })
  t.equal(await app.notify('free', 'anything', { a: [1, { b: null }] }), 1)
  t.equal(await app.notify('free', 'other', 'text'), 1)
  const frames = await client.waitFor(4)
  t.same(frames.slice(2).map((f) => [f.type, f.data]), [['anything', { a: [1, { b: null }] }], ['other', 'text']])
})
