// The adapter seam (adapter.ts): the in-memory adapter owns history and inbox, assigns offsets,
// appends the offset member as the last one (history.ts, withOffset) and resolves with
// `{ delivered, position }`; it reaches the registration only through its context. And the size
// bound holds for the envelope with its offset, whatever the offset.
import { test } from 'tap'
import { memoryAdapter, type AdapterContext, type Route } from '../lib/core/adapter'
import { buildConfig } from '../lib/config/options'
import { OFFSET_MEMBER_MAX_BYTES, offsetPrefix, withOffset } from '../lib/core/history'
import { redisAdapter } from '../lib/cluster/redis-adapter'
import { Counters, snapshot } from '../lib/core/stats'
import { build } from './helper'
import { REDIS_SKIP, REDIS_URL, testPrefix } from './redis-helper'

/** A context that records what the adapter delivers, in place of a hub. */
function recordingContext (inbox: boolean): { context: AdapterContext, delivered: Array<[Route, string]> } {
  const config = buildConfig({
    channels: { kept: { history: { size: 2 } }, plain: {}, 'user:*': { history: { size: 2 } } },
    authenticate: async () => 'x',
    ...(inbox && { inbox: { size: 2 } })
  })
  const delivered: Array<[Route, string]> = []
  const context: AdapterContext = {
    channels: config.channels,
    log: { warn () {} } as unknown as AdapterContext['log'],
    inbox: config.inbox,
    deliver (route, json) {
      delivered.push([route, json])
      return 7
    },
    hasSubscribers: () => false,
    evict: () => 0,
    brokerError () {},
    stats: () => snapshot(new Counters(), 0, new Map())
  }
  return { context, delivered }
}

test('withOffset appends the offset as the last member; offsetPrefix is the part a Lua script appends to', async (t) => {
  const envelope = JSON.stringify({ type: 't', channel: 'c', data: { a: [1] }, timestamp: 'now' })
  const json = withOffset(envelope, 42)
  t.same(JSON.parse(json), { type: 't', channel: 'c', data: { a: [1] }, timestamp: 'now', offset: 42 })
  t.same(Object.keys(JSON.parse(json)).at(-1), 'offset')
  t.equal(json, `${offsetPrefix(envelope)}42}`, "the script's `prefix .. offset .. '}'` gives the same text")
  t.equal(Buffer.byteLength(withOffset('{"a":1}', Number.MAX_SAFE_INTEGER)) - Buffer.byteLength('{"a":1}'), OFFSET_MEMBER_MAX_BYTES)
})

test('the memory adapter owns history: offsets from 1 per channel, kept, resolved as position', async (t) => {
  const { context, delivered } = recordingContext(false)
  const adapter = memoryAdapter(context)
  t.equal(adapter.inbox, null, 'no inbox without the option')
  const envelope = '{"type":"t","channel":"kept","data":null,"timestamp":"now"}'
  const first = await adapter.publish({ kind: 'channel', channel: 'kept' }, envelope)
  const second = await adapter.publish({ kind: 'channel', channel: 'kept' }, envelope)
  const epoch = adapter.history.position('kept')?.epoch as string
  t.same(first, { delivered: 7, position: { epoch, offset: 1 } })
  t.same(second, { delivered: 7, position: { epoch, offset: 2 } })
  t.same(delivered.map(([, json]) => json), [withOffset(envelope, 1), withOffset(envelope, 2)], 'delivered with the offset it was kept with')
  t.same(adapter.history.after('kept', { epoch, offset: 0 }), [withOffset(envelope, 1), withOffset(envelope, 2)])
  const namespaced = await adapter.publish({ kind: 'channel', channel: 'user:42' }, envelope)
  t.equal(namespaced.position?.offset, 1, "a namespace channel's own offsets")
  const plain = await adapter.publish({ kind: 'channel', channel: 'plain' }, envelope)
  t.same(plain, { delivered: 7 }, 'no position without history')
  t.equal(delivered.at(-1)?.[1], envelope, 'delivered as serialized')
  const all = await adapter.publish({ kind: 'all' }, envelope)
  t.same(all, { delivered: 7 })
  t.equal(adapter.history.size(), 3)
})

test('the memory adapter owns the inbox with the option: offsets per client id', async (t) => {
  const { context, delivered } = recordingContext(true)
  const adapter = memoryAdapter(context)
  const envelope = '{"type":"t","data":null,"timestamp":"now"}'
  const a1 = await adapter.publish({ kind: 'client', clientId: 'a' }, envelope)
  const a2 = await adapter.publish({ kind: 'client', clientId: 'a' }, envelope)
  const b1 = await adapter.publish({ kind: 'client', clientId: 'b' }, envelope)
  t.same([a1.position?.offset, a2.position?.offset, b1.position?.offset], [1, 2, 1])
  t.not(a1.position?.epoch, b1.position?.epoch, 'each client id has its epoch')
  t.equal(delivered[1][1], withOffset(envelope, 2))
  t.equal(adapter.inbox?.size(), 3)
})

test('maxMessageSize counts the offset at its largest on a history channel and in an inbox, not elsewhere', async (t) => {
  const maxMessageSize = 200
  const { app } = await build(t, {
    channels: { kept: { history: { size: 5 } }, plain: {} },
    authenticate: async () => 'x',
    inbox: { size: 5 },
    maxMessageSize
  })
  // An envelope that fits as it is, but not with room for the largest offset member.
  const sized = (channel: string | undefined, target: number): string => {
    const base = Buffer.byteLength(JSON.stringify({ type: 'big', ...(channel !== undefined && { channel }), data: '', timestamp: new Date().toISOString() }))
    return 'x'.repeat(target - base)
  }
  const fits = maxMessageSize - OFFSET_MEMBER_MAX_BYTES
  await t.rejects(app.notify('kept', 'big', sized('kept', fits + 1)), { code: 'FST_WS_NOTIFY_MESSAGE_TOO_LARGE' })
  t.equal(await app.notify('kept', 'big', sized('kept', fits)), 0, 'within the bound with any offset')
  t.equal(await app.notify('plain', 'big', sized('plain', maxMessageSize)), 0, 'no offset to make room for')
  await t.rejects(app.notify('plain', 'big', sized('plain', maxMessageSize + 1)), { code: 'FST_WS_NOTIFY_MESSAGE_TOO_LARGE' })
  await t.rejects(app.notifications.sendTo('x', 'big', sized(undefined, fits + 1)), { code: 'FST_WS_NOTIFY_MESSAGE_TOO_LARGE' })
  t.equal(await app.notifications.sendTo('x', 'big', sized(undefined, fits)), 0)
  const stats = app.notifications.stats()
  t.same([stats.history_messages, stats.inbox_messages], [1, 1], 'a refused message is not kept')
})

test('the Redis adapter resolves with the epoch and offset Redis assigned, and delivers with them', { skip: REDIS_SKIP }, async (t) => {
  const { context, delivered } = recordingContext(true)
  const adapter = redisAdapter({ redis: REDIS_URL, keyPrefix: testPrefix(t) }).create(context)
  t.teardown(async () => { await adapter.close() })
  await adapter.ready?.()
  const envelope = '{"type":"t","channel":"kept","data":null,"timestamp":"now"}'
  const first = await adapter.publish({ kind: 'channel', channel: 'kept' }, envelope)
  const second = await adapter.publish({ kind: 'channel', channel: 'kept' }, envelope)
  const epoch = adapter.history.position('kept')?.epoch as string
  t.match(epoch, /^[\w-]{8,}$/)
  t.same([first, second], [{ delivered: 7, position: { epoch, offset: 1 } }, { delivered: 7, position: { epoch, offset: 2 } }])
  t.same(delivered.map(([, json]) => json), [withOffset(envelope, 1), withOffset(envelope, 2)], "the script's text is withOffset's")
  t.same(await adapter.publish({ kind: 'channel', channel: 'plain' }, envelope), { delivered: 7 }, 'no position without history')
  const direct = '{"type":"t","data":null,"timestamp":"now"}'
  const kept = await adapter.publish({ kind: 'client', clientId: 'a' }, direct)
  t.equal(kept.position?.offset, 1, 'an inbox offset')
  t.equal(delivered.at(-1)?.[1], withOffset(direct, 1))
})
