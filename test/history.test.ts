// Channel history and resume, server side, with raw `ws` clients: offsets, epochs, `since`,
// `latest`, the size and ttl bounds, and no gap or duplicate while notifications are published
// during a resume.
import { test } from 'tap'
import { build, connect, fetchStats, sleep, type Frame } from './helper'
import type { NotificationsOptions } from '../types/index'

const channels: NotificationsOptions['channels'] = {
  kept: { history: { size: 5 } },
  state: { history: { size: 3 }, latest: true },
  plain: {},
  latestOnly: { latest: true }
}

const notes = (frames: Frame[], channel: string): Frame[] => frames.filter((frame) => frame.channel === channel && frame.data !== undefined)

test('notifications on a history channel carry offsets from 1; others carry none', async (t) => {
  const { app, url } = await build(t, { channels })
  const client = await connect(t, url)
  const reply = await client.request({ action: 'subscribe', channel: 'kept', id: 1 })
  t.match(reply, { type: 'subscribed', channel: 'kept', id: 1, offset: 0, epoch: /^[\w-]{8,}$/ })
  t.notOk('recovered' in reply, 'recovered only answers a since')
  const plain = await client.request({ action: 'subscribe', channel: 'plain' })
  t.notOk('epoch' in plain || 'offset' in plain, 'no epoch or offset without history')
  for (let n = 1; n <= 3; n++) await app.notify('kept', 'tick', { n })
  await app.notify('plain', 'tick', {})
  await app.notifications.sendTo(client.frames[0].client_id as string, 'direct', {})
  const frames = await client.waitFor(8)
  t.same(notes(frames, 'kept').map((frame) => frame.offset), [1, 2, 3])
  t.same(Object.keys(notes(frames, 'kept')[0]), ['type', 'channel', 'data', 'timestamp', 'offset'])
  t.notOk('offset' in notes(frames, 'plain')[0])
  t.notOk('offset' in frames[7], 'a direct message has no offset')
  const again = await client.request({ action: 'subscribe', channel: 'kept' })
  t.match(again, { epoch: reply.epoch, offset: 3 }, 'subscribed reports the latest offset')
})

test('a resume within history replays every missed message, in order, then live ones', async (t) => {
  const { app, url } = await build(t, { channels })
  const first = await connect(t, url)
  const { epoch } = await first.request({ action: 'subscribe', channel: 'kept' })
  await app.notify('kept', 'tick', { n: 1 })
  await first.waitFor(3)
  first.ws.terminate()
  for (let n = 2; n <= 4; n++) await app.notify('kept', 'tick', { n })

  const second = await connect(t, url)
  const reply = await second.request({ action: 'subscribe', channel: 'kept', id: 'r', since: { offset: 1, epoch } })
  t.match(reply, { type: 'subscribed', id: 'r', recovered: true, epoch, offset: 4 })
  const replayed = await second.waitFor(5)
  t.same(replayed.slice(2).map((frame) => [frame.offset, frame.data.n, frame.type, frame.channel]),
    [[2, 2, 'tick', 'kept'], [3, 3, 'tick', 'kept'], [4, 4, 'tick', 'kept']])
  await app.notify('kept', 'tick', { n: 5 })
  t.equal((await second.waitFor(6))[5].offset, 5, 'live messages follow the replay')

  const upToDate = await connect(t, url)
  t.match(await upToDate.request({ action: 'subscribe', channel: 'kept', since: { offset: 5, epoch } }), { recovered: true, offset: 5 })
  await app.notify('kept', 'tick', { n: 6 })
  const frames = await upToDate.waitFor(3)
  t.same(frames.slice(2).map((frame) => frame.offset), [6], 'nothing replayed when nothing was missed')
})

test('recovered: false and nothing replayed when the resume cannot be complete', async (t) => {
  const { app, url } = await build(t, { channels })
  const client = await connect(t, url)
  const { epoch } = await client.request({ action: 'subscribe', channel: 'kept' })
  for (let n = 1; n <= 8; n++) await app.notify('kept', 'tick', { n }) // size 5 keeps 4..8
  await client.waitFor(10)

  const cases: Array<[string, Frame]> = [
    ['older than history', { offset: 2, epoch }],
    ['another epoch', { offset: 7, epoch: 'another-epoch' }],
    ['from the future', { offset: 9, epoch }]
  ]
  for (const [what, since] of cases) {
    const other = await connect(t, url)
    const reply = await other.request({ action: 'subscribe', channel: 'kept', since })
    t.match(reply, { type: 'subscribed', recovered: false, epoch, offset: 8 }, what)
    // Whatever the server sends for the subscribe comes before the pong.
    t.match(await other.request({ action: 'ping' }), { type: 'pong' }, `${what}: nothing replayed`)
  }
  const edge = await connect(t, url)
  t.match(await edge.request({ action: 'subscribe', channel: 'kept', since: { offset: 3, epoch } }), { recovered: true },
    'the oldest message still held is enough')
  t.same((await edge.waitFor(7)).slice(2).map((frame) => frame.offset), [4, 5, 6, 7, 8])

  const plain = await connect(t, url)
  t.match(await plain.request({ action: 'subscribe', channel: 'plain', since: { offset: 0, epoch } }), { recovered: false },
    'since on a channel without history')
})

// Issue 18: the socket was sent every message since it joined; a replay would be a second copy
// (and let a client make the server queue its whole history again and again).
test('a resume on a channel the socket already holds replays nothing and has no recovered', async (t) => {
  const { app, url } = await build(t, { channels })
  const client = await connect(t, url)
  const { epoch } = await client.request({ action: 'subscribe', channel: 'state' })
  for (let n = 1; n <= 3; n++) await app.notify('state', 'tick', { n })
  await client.waitFor(5)
  const again = await client.request({ action: 'subscribe', channel: 'state', since: { offset: 0, epoch }, id: 'again' })
  t.match(again, { type: 'subscribed', channel: 'state', id: 'again', epoch, offset: 3 }, 'the current position')
  t.notOk('recovered' in again, 'nothing was interrupted: no recovered')
  t.match(await client.request({ action: 'ping' }), { type: 'pong' }, 'no replay and no latest before the pong')
  await app.notify('state', 'tick', { n: 4 })
  t.same(notes(await client.waitFor(8), 'state').map((frame) => frame.offset), [1, 2, 3, 4], 'each message once')
  t.match(await client.request({ action: 'unsubscribe', channel: 'state' }), { type: 'unsubscribed' })
  t.match(await client.request({ action: 'subscribe', channel: 'state', since: { offset: 2, epoch } }), { recovered: true, offset: 4 },
    'after an unsubscribe it is a resume again')
  t.same(notes(await client.waitFor(12), 'state').slice(4).map((frame) => frame.offset), [3, 4])
})

test('ttl evicts old messages lazily; stats count what is held', async (t) => {
  const { app, url, http } = await build(t, { channels: { short: { history: { size: 10, ttl: 100 } }, long: { history: { size: 10 } } } })
  const client = await connect(t, url)
  const { epoch } = await client.request({ action: 'subscribe', channel: 'short' })
  await app.notify('short', 'tick', { n: 1 })
  await app.notify('short', 'tick', { n: 2 })
  await app.notify('long', 'tick', { n: 1 })
  await app.notify('long', 'tick', { n: 2 })
  t.equal(app.notifications.stats().history_messages, 4, 'read in the same tick: nothing expired yet')
  await sleep(150) // > ttl: both messages of "short" are now older than 100 ms
  const late = await connect(t, url)
  t.match(await late.request({ action: 'subscribe', channel: 'short', since: { offset: 0, epoch } }), { recovered: false, offset: 2 })
  t.equal((await fetchStats(http)).history_messages, 2, 'expired messages are no longer held; the stats route reports it')
  await app.notify('short', 'tick', { n: 3 })
  t.equal(app.notifications.stats().history_messages, 3)
})

test('history memory is bounded by size', async (t) => {
  const { app } = await build(t, { channels: { a: { history: { size: 4 } }, b: { history: { size: 2 } }, c: {} } })
  for (let n = 0; n < 50; n++) {
    await app.notify('a', 'tick', { n })
    await app.notify('b', 'tick', { n })
    await app.notify('c', 'tick', { n })
  }
  t.equal(app.notifications.stats().history_messages, 6)
})

test('latest: a new subscriber gets the last message right after subscribed', async (t) => {
  const { app, url } = await build(t, { channels })
  const empty = await connect(t, url)
  await empty.request({ action: 'subscribe', channel: 'state' })
  for (let n = 1; n <= 4; n++) await app.notify('state', 'pool', { n })
  await empty.waitFor(6)

  const client = await connect(t, url)
  const reply = await client.request({ action: 'subscribe', channel: 'state', id: 9 })
  t.match(reply, { type: 'subscribed', id: 9, offset: 4 })
  const [, , latest] = await client.waitFor(3)
  t.match(latest, { type: 'pool', channel: 'state', data: { n: 4 }, offset: 4 })
  await client.request({ action: 'subscribe', channel: 'state' })
  await app.notify('state', 'pool', { n: 5 })
  const frames = await client.waitFor(5)
  t.same(notes(frames, 'state').map((frame) => frame.offset), [4, 5], 'subscribing again sends no second copy')

  const resumed = await connect(t, url)
  t.match(await resumed.request({ action: 'subscribe', channel: 'state', since: { offset: 5, epoch: reply.epoch } }), { recovered: true })
  t.match(await resumed.request({ action: 'ping' }), { type: 'pong' }, 'a resume up to date gets no latest copy')

  const only = await connect(t, url)
  await only.request({ action: 'subscribe', channel: 'latestOnly' })
  await app.notify('latestOnly', 'pool', { n: 1 })
  await app.notify('latestOnly', 'pool', { n: 2 })
  const late = await connect(t, url)
  await late.request({ action: 'subscribe', channel: 'latestOnly' })
  t.match((await late.waitFor(3))[2], { data: { n: 2 } }, 'latest without history keeps the last message')
  t.equal(app.notifications.stats().history_messages, 3 + 1)
})

test('a malformed since is INVALID_MESSAGE; the connection stays usable', async (t) => {
  const { url } = await build(t, { channels })
  const client = await connect(t, url)
  const bad: unknown[] = [
    'x', 1, null, [], {}, { offset: 1 }, { epoch: 'e' }, { offset: -1, epoch: 'e' }, { offset: 1.5, epoch: 'e' },
    { offset: '1', epoch: 'e' }, { offset: 1, epoch: '' }, { offset: 1, epoch: 'e'.repeat(65) }, { offset: 1, epoch: 7 }
  ]
  for (const since of bad) {
    const reply = await client.request({ action: 'subscribe', channel: 'kept', since, id: 3 })
    t.match(reply, { type: 'error', code: 'INVALID_MESSAGE', message: /since/, id: 3 }, JSON.stringify(since))
  }
  t.match(await client.request({ action: 'unsubscribe', channel: 'kept', since: 'ignored' }), { type: 'unsubscribed' },
    'since means nothing on unsubscribe')
  t.match(await client.request({ action: 'subscribe', channel: 'kept' }), { type: 'subscribed' })
})

test('no gap and no duplicate while notifications are published during the resume', async (t) => {
  const { app, url } = await build(t, { channels: { busy: { history: { size: 5000 } } } })
  const first = await connect(t, url)
  const { epoch } = await first.request({ action: 'subscribe', channel: 'busy' })
  const total = 3000
  const resumers = await Promise.all([1, 2, 3].map(async () => await connect(t, url)))
  let allSent!: () => void
  const sent = new Promise<void>((resolve) => { allSent = resolve })
  let published = 0
  const publishing = (async () => {
    while (published < total) {
      // The last 500 wait until every resume was sent, so each one races live publishing.
      if (published === total - 500) await sent
      // Batches with a turn of the event loop between them, so subscribe frames interleave.
      const batch: Array<Promise<number>> = []
      for (let i = 0; i < 20; i++) batch.push(app.notify('busy', 'tick', { n: ++published }))
      await Promise.all(batch)
      await new Promise((resolve) => setImmediate(resolve))
    }
  })()
  const sinces: number[] = []
  for (const [index, resumer] of resumers.entries()) {
    await first.waitFor(2 + 600 * (index + 1))
    const seen = notes(first.frames, 'busy')
    const since = seen[seen.length - 1].offset as number
    sinces.push(since)
    resumer.ws.send(JSON.stringify({ action: 'subscribe', channel: 'busy', since: { offset: since, epoch } }))
  }
  allSent()
  await publishing
  t.same(notes(await first.waitFor(2 + total), 'busy').map((frame) => frame.offset), range(1, total))
  for (const [index, resumer] of resumers.entries()) {
    const frames = await resumer.waitFor(2 + total - sinces[index])
    t.match(frames[1], { type: 'subscribed', recovered: true, epoch }, `resumer ${index} recovered`)
    t.same(frames.slice(2).map((frame) => frame.offset), range(sinces[index] + 1, total),
      `resumer ${index} (since ${sinces[index]}): every later message once, in order`)
  }
  await app.notify('busy', 'tick', { n: 'last' })
  for (const resumer of resumers) t.equal((await resumer.waitFor(resumer.frames.length + 1)).at(-1)?.offset, total + 1, 'nothing extra')
})

/** [from, from + 1, ..., to] */
function range (from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i)
}

test('options: history and latest are checked with messages naming them', async (t) => {
  const cases: Array<[Partial<NotificationsOptions>, RegExp]> = [
    [{ history: { size: 0 } }, /history\.size must be an integer from 1 to 1000000/],
    [{ history: 5 as never }, /history must be \{ size, ttl\? \} or false; got number 5/],
    [{ history: { size: 10, ttl: 0 } }, /history\.ttl must be an integer >= 1 \(milliseconds\); got number 0/],
    [{ history: { size: 10, max: 1 } as never }, /history: unknown key "max"/],
    [{ channels: { a: { history: { size: 1.5 } } } }, /channels\.a\.history\.size must be an integer/],
    [{ channels: { a: { history: 'yes' as never } } }, /channels\.a\.history must be/],
    [{ channels: { a: { latest: 'yes' as never } } }, /channels\.a\.latest must be a boolean; got string "yes"/]
  ]
  for (const [options, message] of cases) {
    await t.rejects(build(t, options), { code: 'FST_WS_NOTIFY_INVALID_OPTION', message }, message.source)
  }
})

test('the plugin default applies to every channel that does not say otherwise', async (t) => {
  const { app, url } = await build(t, {
    history: { size: 2 },
    channels: { inherits: {}, own: { history: { size: 10 } }, optedOut: { history: false } }
  })
  const client = await connect(t, url)
  t.match(await client.request({ action: 'subscribe', channel: 'inherits' }), { offset: 0 })
  t.match(await client.request({ action: 'subscribe', channel: 'own' }), { offset: 0 })
  t.notOk('offset' in await client.request({ action: 'subscribe', channel: 'optedOut' }))
  for (let n = 0; n < 5; n++) {
    await app.notify('inherits', 't', {})
    await app.notify('own', 't', {})
  }
  t.equal(app.notifications.stats().history_messages, 2 + 5)

  const list = await build(t, { history: { size: 3 }, channels: ['x'] })
  const listed = await connect(t, list.url)
  t.match(await listed.request({ action: 'subscribe', channel: 'x' }), { offset: 0 }, 'a list of names inherits it too')
})
