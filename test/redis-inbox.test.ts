// The inbox with the Redis adapter (issue 15, part 2): direct messages kept in one Redis Stream per
// client id, offsets cluster-wide, so a client that was away recovers on any instance.
import { test } from 'tap'
import type { FastifyRequest } from 'fastify'
import { Redis } from 'ioredis'
import { Client, connect, waitUntil, type Frame } from './helper'
import { REDIS_SKIP, REDIS_URL, buildCluster, freePort, kill, startRedis, testPrefix } from './redis-helper'
import { createPublisher } from '../lib/cluster/external-publisher'

const skip = REDIS_SKIP

async function byQuery (request: FastifyRequest): Promise<string | null> {
  return (request.query as { user?: string }).user ?? null
}
const direct = (frames: Frame[]): Frame[] => frames.filter((frame) => frame.type === 'note')

test('sent on A while the client is offline, replayed in order on B with inbox_since', { skip }, async (t) => {
  const [a, b] = await buildCluster(t, 2, { authenticate: byQuery, inbox: { size: 10 } })
  const first = await connect(t, a.url, '?user=42')
  const { inbox } = first.frames[0]
  t.match(inbox, { epoch: /^[\w-]{8,}$/, offset: 0 })
  t.equal(await a.app.notifications.sendTo('42', 'note', { n: 1 }), 1)
  t.match((await first.waitFor(2))[1], { type: 'note', offset: 1, data: { n: 1 } }, 'live, with its cluster-wide offset')
  first.ws.terminate()
  await waitUntil(() => a.app.notifications.stats().total_clients === 0, 'A saw the close')

  for (let n = 2; n <= 4; n++) t.equal(await a.app.notifications.sendTo('42', 'note', { n }), 0)
  const onB = await connect(t, b.url, `?user=42&inbox_since=${inbox.epoch as string}:1`)
  const frames = await onB.waitFor(4)
  t.match(frames[0], { type: 'connected', inbox: { epoch: inbox.epoch, offset: 4, recovered: true } })
  t.same(direct(frames).map((frame) => [frame.offset, frame.data.n]), [[2, 2], [3, 3], [4, 4]])
  await b.app.notifications.sendTo('42', 'note', { n: 5 })
  t.match((await onB.waitFor(5))[4], { offset: 5, data: { n: 5 } }, 'then live: B continues the same offsets')
  t.equal(direct(await onB.settle()).length, 4, 'nothing twice')

  const fresh = await connect(t, a.url, '?user=42')
  t.match(fresh.frames[0].inbox, { epoch: inbox.epoch, offset: 5 })
  t.same(direct(await fresh.settle()), [], 'no replay without inbox_since')
})

test('a gap says recovered: false: another epoch, or an inbox whose keys expired', { skip }, async (t) => {
  const prefix = testPrefix(t)
  const [a, b] = await buildCluster(t, 2, { authenticate: byQuery, inbox: { size: 10 } }, { prefix })
  await a.app.notifications.sendTo('42', 'note', { n: 1 })
  const probe = await connect(t, b.url, '?user=42')
  const { inbox } = probe.frames[0]
  t.match(inbox, { offset: 1 })
  const stranger = await connect(t, b.url, '?user=42&inbox_since=AAAAAAAAAAAA:0')
  t.match(stranger.frames[0].inbox, { recovered: false, epoch: inbox.epoch, offset: 1 })
  t.same(direct(await stranger.settle()), [])

  // Redis lost the inbox (expired, evicted, restarted empty): a new epoch, nothing replayed.
  const redis = new Redis(REDIS_URL)
  t.teardown(() => redis.disconnect())
  await redis.del(`${prefix}{inbox:42}:state`, `${prefix}{inbox:42}:log`)
  await a.app.notifications.sendTo('42', 'note', { n: 2 })
  const after = await connect(t, b.url, `?user=42&inbox_since=${inbox.epoch as string}:1`)
  t.match(after.frames[0].inbox, { recovered: false, offset: 1 })
  t.not(after.frames[0].inbox.epoch, inbox.epoch)
  t.same(direct(await after.settle()), [])
  t.ok(await redis.pttl(`${prefix}{inbox:42}:log`) > 0, 'the inbox keys expire (ttl)')
})

test('direct messages sent while a connection reads its inbox are neither lost nor doubled', { skip }, async (t) => {
  const [a, b] = await buildCluster(t, 2, { authenticate: byQuery, inbox: { size: 1000 } })
  const probe = await connect(t, a.url, '?user=42')
  const { inbox } = probe.frames[0]
  probe.ws.terminate()
  const state = { sending: true }
  let sent = 0
  const sender = (async () => {
    while (state.sending && sent < 300) {
      await a.app.notifications.sendTo('42', 'note', { n: ++sent })
    }
  })()
  await waitUntil(() => sent >= 20, 'some sent')
  const onB = await connect(t, b.url, `?user=42&inbox_since=${inbox.epoch as string}:0`)
  await waitUntil(() => sent >= 60, 'more sent')
  state.sending = false
  await sender
  await waitUntil(() => direct(onB.frames).length >= sent, `all ${sent} arrived`)
  t.match(onB.frames[0].inbox, { recovered: true })
  t.same(direct(await onB.settle()).map((frame) => frame.offset), Array.from({ length: sent }, (_, i) => i + 1), 'every offset once, in order')
})

test('Redis away: a connect that cannot read its inbox is closed with 1013; a first subscribe to a namespace channel answers HISTORY_UNAVAILABLE', { skip }, async (t) => {
  const port = await freePort()
  const redis = await startRedis(port)
  t.teardown(async () => { await kill(redis) })
  const url = `redis://127.0.0.1:${port}`
  const [a] = await buildCluster(t, 1, { authenticate: byQuery, inbox: { size: 10 }, channels: { 'room:*': { history: { size: 10 } } } }, { url, prefix: 'fault:' })
  const early = await connect(t, a.url, '?user=42')
  t.match(early.frames[0].inbox, { offset: 0 })
  await kill(redis)
  await waitUntil(() => a.app.notifications.stats().broker_errors > 0, 'the adapter saw Redis go')
  const refused = await early.request({ action: 'subscribe', channel: 'room:42', id: 'r' })
  t.match(refused, { type: 'error', code: 'HISTORY_UNAVAILABLE', id: 'r' })
  t.equal((await early.request({ action: 'ping', id: 'p' })).type, 'pong', 'the socket stays open')
  const late = new Client(`${a.url}/ws?user=42`)
  t.teardown(() => late.ws.terminate())
  t.match(await late.closed, { code: 1013, reason: 'inbox unavailable' }, 'the client retries later, and resumes then')
  t.same(late.frames, [], 'never greeted: no position that could skip what it missed')
})

test('createPublisher with inbox: a worker\'s sendTo is kept too, in the same offsets', { skip }, async (t) => {
  const prefix = testPrefix(t)
  const [a] = await buildCluster(t, 1, { authenticate: byQuery, inbox: { size: 10 } }, { prefix })
  const probe = await connect(t, a.url, '?user=42')
  const { inbox } = probe.frames[0]
  probe.ws.terminate()
  await waitUntil(() => a.app.notifications.stats().total_clients === 0, 'offline')
  const publisher = createPublisher({ redis: REDIS_URL, channels: ['alpha', 'beta', 'gamma'], keyPrefix: prefix, inbox: { size: 10 } })
  t.teardown(() => publisher.close())
  t.equal(await publisher.sendTo('42', 'note', { n: 1 }), 1, 'one instance subscribed')
  await a.app.notifications.sendTo('42', 'note', { n: 2 })
  const back = await connect(t, a.url, `?user=42&inbox_since=${inbox.epoch as string}:0`)
  const frames = await back.waitFor(3)
  t.match(frames[0].inbox, { recovered: true, offset: 2 })
  t.same(direct(frames).map((frame) => [frame.offset, frame.data.n]), [[1, 1], [2, 2]])
})
