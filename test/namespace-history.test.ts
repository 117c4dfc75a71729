// History on namespace channels (issue 17's first defect): `'user:*': { history }` gives each of
// its channels (`user:42`) its own offsets, resume and `latest`, in memory, bounded by
// `history.channels` logs per namespace (least recently used dropped first).
import { test } from 'tap'
import type { FastifyRequest } from 'fastify'
import { build, connect, type Frame } from './helper'

/** `?user=ID` is the identity: enough to open private namespace channels in these tests. */
async function byQuery (request: FastifyRequest): Promise<string | null> {
  return (request.query as { user?: string }).user ?? null
}
const notes = (frames: Frame[], channel: string): Frame[] => frames.filter((frame) => frame.channel === channel && frame.data !== undefined)

test('each channel of a namespace with history has its own offsets, resume and epoch', async (t) => {
  const { app, url } = await build(t, { channels: { 'user:*': { history: { size: 10 } } }, authenticate: byQuery })
  const first = await connect(t, url, '?user=42')
  const reply = await first.request({ action: 'subscribe', channel: 'user:42' })
  t.match(reply, { type: 'subscribed', channel: 'user:42', offset: 0, epoch: /^[\w-]{8,}$/ })
  for (let n = 1; n <= 3; n++) await app.notify('user:42', 'tick', { n })
  t.same(notes(await first.waitFor(5), 'user:42').map((frame) => frame.offset), [1, 2, 3])
  first.ws.terminate()
  await app.notify('user:42', 'tick', { n: 4 })
  await app.notify('user:42', 'tick', { n: 5 })
  await app.notify('user:7', 'tick', { n: 1 })

  const again = await connect(t, url, '?user=42')
  const resumed = await again.request({ action: 'subscribe', channel: 'user:42', since: { epoch: reply.epoch, offset: 3 } })
  t.match(resumed, { recovered: true, epoch: reply.epoch, offset: 5 })
  const frames = await again.waitFor(4)
  t.same(notes(frames, 'user:42').map((frame) => [frame.offset, frame.data.n]), [[4, 4], [5, 5]], 'what was missed is replayed')

  const seven = await connect(t, url, '?user=7')
  const other = await seven.request({ action: 'subscribe', channel: 'user:7' })
  t.match(other, { offset: 1 }, 'user:7 counts its own offsets')
  t.not(other.epoch, reply.epoch, 'and has its own epoch')
  t.equal(app.notifications.stats().history_messages, 6)
})

test('latest on a namespace: a new subscriber of user:42 gets user:42\'s last message', async (t) => {
  const { app, url } = await build(t, { channels: { 'user:*': { latest: true } }, authenticate: byQuery })
  await app.notify('user:42', 'status', { state: 'away' })
  await app.notify('user:42', 'status', { state: 'online' })
  await app.notify('user:7', 'status', { state: 'busy' })
  const client = await connect(t, url, '?user=42')
  await client.request({ action: 'subscribe', channel: 'user:42' })
  const [, , last] = await client.waitFor(3)
  t.match(last, { type: 'status', channel: 'user:42', data: { state: 'online' }, offset: 2 })
  t.equal((await client.request({ action: 'ping' })).type, 'pong', 'nothing else came before the pong')
})

test('history.channels bounds the logs of a namespace: the least recently used is dropped, and its resume says recovered: false', async (t) => {
  const { app, url } = await build(t, { channels: { 'user:*': { history: { size: 5, channels: 2 } } }, authenticate: byQuery })
  const alice = await connect(t, url, '?user=alice')
  const { epoch } = await alice.request({ action: 'subscribe', channel: 'user:alice' })
  await app.notify('user:alice', 'tick', { n: 1 })
  await alice.waitFor(3)
  alice.ws.terminate()
  await app.notify('user:bob', 'tick', {})
  await app.notify('user:carol', 'tick', {}) // a third log: alice's, used least recently, goes
  t.equal(app.notifications.stats().history_messages, 2, 'two logs held, one message each')

  const back = await connect(t, url, '?user=alice')
  const resumed = await back.request({ action: 'subscribe', channel: 'user:alice', since: { epoch, offset: 1 } })
  t.match(resumed, { recovered: false, offset: 0 }, 'the dropped history is a gap, said plainly')
  t.not(resumed.epoch, epoch, 'a new epoch: the old offsets are never reused')
})

test('the most specific namespace decides; the plugin default applies to namespaces; options are checked', async (t) => {
  const { app, url } = await build(t, {
    history: { size: 3 },
    channels: { 'user:*': {}, 'user:admin:*': { history: false } },
    authorize: async () => true,
    authenticate: byQuery
  })
  const client = await connect(t, url, '?user=x')
  t.match(await client.request({ action: 'subscribe', channel: 'user:x' }), { offset: 0 }, 'user:* inherits the default')
  t.notOk('offset' in await client.request({ action: 'subscribe', channel: 'user:admin:x' }), 'user:admin:* opted out')
  await app.notify('user:admin:x', 'tick', {})
  const [, , , admin] = await client.waitFor(4)
  t.notOk('offset' in admin, 'its messages carry no offset')

  for (const [channels, message] of [
    [{ 'user:*': { history: { size: 5, channels: 0 } } }, /channels\.user:\*\.history\.channels must be an integer >= 1/],
    [{ 'user:*': { history: { size: 5, channel: 1 } } }, /unknown key "channel"; accepted: size, ttl, channels/]
  ] as const) {
    await t.rejects(build(t, { channels: channels as never, authenticate: byQuery }), { code: 'FST_WS_NOTIFY_INVALID_OPTION', message })
  }
})
