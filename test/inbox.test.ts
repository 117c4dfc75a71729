// The inbox of direct messages (issue 15, part 2), in memory: sendTo() to a client id is kept with
// an offset and replayed, in order, right after `connected` when the client connects with
// `?inbox_since=EPOCH:OFFSET`; gaps (ttl, size, clients bound) say `recovered: false`.
import { test } from 'tap'
import type { FastifyRequest } from 'fastify'
import Fastify from 'fastify'
import notifications from '../lib/index'
import { build, connect, sleep, waitUntil, type Frame } from './helper'
import { openSse } from './sse-helper'
import type { NotificationsOptions } from '../types/index'

/** `?user=ID` is the identity: the inbox needs authenticate. */
async function byQuery (request: FastifyRequest): Promise<string | null> {
  return (request.query as { user?: string }).user ?? null
}
const direct = (frames: Frame[]): Frame[] => frames.filter((frame) => frame.type === 'note')
const since = (inbox: { epoch: string }, offset: number): string => `&inbox_since=${inbox.epoch}:${offset}`

function withInbox (inbox: NotificationsOptions['inbox']): Partial<NotificationsOptions> {
  return { authenticate: byQuery, inbox }
}

test('a direct message to an offline client id is kept, and replayed in order after connected on inbox_since', async (t) => {
  const { app, url } = await build(t, withInbox({ size: 10 }))
  const first = await connect(t, url, '?user=42')
  t.match(first.frames[0], { type: 'connected', client_id: '42', inbox: { epoch: /^[\w-]{8,}$/, offset: 0 } })
  t.notOk('recovered' in first.frames[0].inbox, 'recovered only answers an inbox_since')
  const { inbox } = first.frames[0]
  t.equal(await app.notifications.sendTo('42', 'note', { n: 1 }), 1)
  t.match((await first.waitFor(2))[1], { type: 'note', data: { n: 1 }, offset: 1 }, 'a live direct message carries its offset')
  first.ws.terminate()
  await waitUntil(() => app.notifications.stats().total_clients === 0, 'the server saw the close')

  for (let n = 2; n <= 4; n++) t.equal(await app.notifications.sendTo('42', 'note', { n }), 0, 'nobody is connected: 0, but kept')
  t.equal(app.notifications.stats().inbox_messages, 4)

  const again = await connect(t, url, `?user=42${since(inbox, 1)}`)
  const frames = await again.waitFor(4)
  t.match(frames[0], { type: 'connected', inbox: { epoch: inbox.epoch, offset: 4, recovered: true } })
  t.same(direct(frames).map((frame) => [frame.offset, frame.data.n]), [[2, 2], [3, 3], [4, 4]], 'replayed in order, right after connected')
  await app.notifications.sendTo('42', 'note', { n: 5 })
  t.match((await again.waitFor(5))[4], { offset: 5, data: { n: 5 } }, 'then live, with the next offset')
  t.same(direct(await again.settle()).length, 4, 'nothing twice')
})

test('without inbox_since a connection gets no replay (replay is on explicit recovery only)', async (t) => {
  const { app, url } = await build(t, withInbox({ size: 10 }))
  await app.notifications.sendTo('42', 'note', { n: 1 })
  const client = await connect(t, url, '?user=42')
  t.match(client.frames[0].inbox, { offset: 1 })
  t.same(direct(await client.settle()), [])
})

test('an inbox_since at the current offset is recovered with nothing to replay; another epoch is not recovered', async (t) => {
  const { app, url } = await build(t, withInbox({ size: 10 }))
  await app.notifications.sendTo('42', 'note', { n: 1 })
  const probe = await connect(t, url, '?user=42')
  const { inbox } = probe.frames[0]
  const current = await connect(t, url, `?user=42${since(inbox, 1)}`)
  t.match(current.frames[0].inbox, { recovered: true, offset: 1 })
  t.same(direct(await current.settle()), [])
  const stranger = await connect(t, url, '?user=42&inbox_since=AAAAAAAAAAAA:0')
  t.match(stranger.frames[0].inbox, { recovered: false, epoch: inbox.epoch, offset: 1 })
  t.same(direct(await stranger.settle()), [], 'a gap replays nothing: the client reloads what it needs')
})

test('past the size, the oldest message goes: a resume from before it is recovered: false', async (t) => {
  const { app, url } = await build(t, withInbox({ size: 2 }))
  const probe = await connect(t, url, '?user=42')
  const { inbox } = probe.frames[0]
  for (let n = 1; n <= 3; n++) await app.notifications.sendTo('42', 'note', { n })
  t.equal(app.notifications.stats().inbox_messages, 2, 'bounded by size')
  const gap = await connect(t, url, `?user=42${since(inbox, 0)}`)
  t.match(gap.frames[0].inbox, { recovered: false, offset: 3 })
  t.same(direct(await gap.settle()), [])
  const kept = await connect(t, url, `?user=42${since(inbox, 1)}`)
  t.match(kept.frames[0].inbox, { recovered: true })
  t.same(direct(await kept.waitFor(3)).map((frame) => frame.offset), [2, 3])
})

test('past the ttl, messages go: the resume is recovered: false', async (t) => {
  const { app, url } = await build(t, withInbox({ size: 10, ttl: 30 }))
  const probe = await connect(t, url, '?user=42')
  const { inbox } = probe.frames[0]
  probe.ws.terminate()
  await app.notifications.sendTo('42', 'note', { n: 1 })
  await sleep(80)
  t.equal(app.notifications.stats().inbox_messages, 0)
  const late = await connect(t, url, `?user=42${since(inbox, 0)}`)
  t.match(late.frames[0].inbox, { recovered: false, offset: 1 })
  t.same(direct(await late.settle()), [])
})

test('inbox.clients bounds the client ids kept: the least recently used goes, and its resume is recovered: false', async (t) => {
  const { app, url } = await build(t, withInbox({ size: 10, clients: 2 }))
  const alice = await connect(t, url, '?user=alice')
  const { inbox } = alice.frames[0]
  alice.ws.terminate()
  await app.notifications.sendTo('alice', 'note', {})
  await app.notifications.sendTo('bob', 'note', {})
  await app.notifications.sendTo('carol', 'note', {}) // a third inbox: alice's, used least recently, goes
  t.equal(app.notifications.stats().inbox_messages, 2)
  const back = await connect(t, url, `?user=alice${since(inbox, 0)}`)
  t.match(back.frames[0].inbox, { recovered: false, offset: 0 })
  t.not(back.frames[0].inbox.epoch, inbox.epoch, 'a new inbox, a new epoch')
})

test('every socket of the client id gets a direct message live; each reconnect resumes its own position', async (t) => {
  const { app, url } = await build(t, withInbox({ size: 10 }))
  const tab1 = await connect(t, url, '?user=42')
  const tab2 = await connect(t, url, '?user=42')
  t.equal(await app.notifications.sendTo('42', 'note', { n: 1 }), 2)
  t.match((await tab2.waitFor(2))[1], { offset: 1 })
  t.match((await tab1.waitFor(2))[1], { offset: 1 })
})

test('the inbox needs authenticate, and its options are checked at registration', async (t) => {
  const register = async (options: Record<string, unknown>): Promise<void> => {
    const app = Fastify()
    t.teardown(() => app.close())
    await app.register(notifications, { channels: ['a'], ...options } as never)
    await app.ready()
  }
  await t.rejects(register({ inbox: { size: 10 } }), { code: 'FST_WS_NOTIFY_INVALID_OPTION', message: /inbox needs authenticate/ })
  await t.rejects(register({ inbox: { size: 0 }, authenticate: byQuery }), { code: 'FST_WS_NOTIFY_INVALID_OPTION', message: /inbox\.size must be an integer from 1/ })
  await t.rejects(register({ inbox: { sizes: 1 }, authenticate: byQuery }), { message: /inbox: unknown key "sizes"/ })
  await t.rejects(register({ inbox: 5, authenticate: byQuery }), { message: /inbox must be/ })
  await register({ inbox: false })
})

test('a malformed inbox_since is refused with HTTP 400; without inbox, direct messages have no offset', async (t) => {
  const { url } = await build(t, withInbox({ size: 10 }))
  await t.rejects(connect(t, url, '?user=42&inbox_since=nope'), /HTTP 400/)
  const plain = await build(t, { authenticate: byQuery })
  const client = await connect(t, plain.url, '?user=42&inbox_since=abc:1')
  t.notOk('inbox' in client.frames[0])
  await plain.app.notifications.sendTo('42', 'note', {})
  t.notOk('offset' in (await client.waitFor(2))[1])
})

test('an SSE stream honours inbox_since: the replay follows connected, as on a WebSocket', async (t) => {
  const { app, http } = await build(t, { ...withInbox({ size: 10 }), sse: true })
  const probe = await openSse(t, `${http}/ws/sse?user=42`)
  const [greeting] = await probe.waitFor(1)
  t.match(greeting.data, { type: 'connected', inbox: { offset: 0 } })
  const { inbox } = greeting.data
  probe.close()
  await waitUntil(() => app.notifications.stats().total_clients === 0, 'the server saw the stream end')
  await app.notifications.sendTo('42', 'note', { n: 1 })
  await app.notifications.sendTo('42', 'note', { n: 2 })
  const back = await openSse(t, `${http}/ws/sse?user=42${since(inbox, 0)}`)
  const events = await back.waitFor(3)
  t.match(events[0].data, { type: 'connected', inbox: { recovered: true, offset: 2 } })
  t.same(events.slice(1).map((event) => [event.data.type, event.data.offset]), [['note', 1], ['note', 2]])
})
