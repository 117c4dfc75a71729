// Cluster-wide presence with the Redis adapter (issue 13): instances sharing real Redis, one of them
// a child process killed with SIGKILL, whose members must expire within the stated bound.
import { test } from 'tap'
import { existsSync } from 'node:fs'
import { Redis } from 'ioredis'
import { join } from 'node:path'
import { ask, connect, waitUntil, type Client, type Frame } from './helper'
import { REDIS_SKIP, REDIS_URL, buildCluster, deleteKeys, freePort, kill, quiet, startRedis, testPrefix } from './redis-helper'
import { root, spawnChild } from './child'
import { PRESENCE_MISSED_HEARTBEATS } from '../lib/cluster/redis-presence'

const channels = { room: { joinLeave: true }, board: { presence: true }, plain: {} }
const statsInterval = 200
/** The bound of docs/presence.md: 4 missed heartbeats, plus one until a live instance's next heartbeat. */
const EXPIRY_BOUND = (PRESENCE_MISSED_HEARTBEATS + 1) * statsInterval

async function subscribe (client: Client, channel: string): Promise<void> {
  const reply = await ask(client, { action: 'subscribe', channel })
  if (reply.type !== 'subscribed') throw new Error(`subscribe answered ${JSON.stringify(reply)}`)
}

const eventsOf = (client: Client): string[] => client.frames
  .filter((frame) => frame.type === 'join' || frame.type === 'leave')
  .map((frame) => `${frame.type as string} ${frame.client as string}`)

const clientsOf = (list: { members: Array<{ client: string }> }): string[] => list.members.map((member) => member.client).sort()

test('presence is cluster-wide: members and counts of every instance, several tabs one member', { skip: REDIS_SKIP }, async (t) => {
  const [a, b] = await buildCluster(t, 2, { channels, presence: { grace: 0 } }, { statsInterval })
  const alice = await connect(t, a.url, '?client_id=alice')
  const bob = await connect(t, b.url, '?client_id=bob')
  const alice2 = await connect(t, b.url, '?client_id=alice')
  for (const client of [alice, bob, alice2]) await subscribe(client, 'board')
  await waitUntil(async () => (await a.app.notifications.presenceStats('board')).clients === 3, 'three sockets counted')
  t.same(await a.app.notifications.presenceStats('board'), { clients: 3, users: 2 })
  t.same(clientsOf(await a.app.notifications.presence('board')), ['alice', 'bob'])
  const reply = await ask(bob, { action: 'presence', channel: 'board', request_id: 'q' })
  t.match(reply, { type: 'presence', channel: 'board', total: 2, truncated: false, request_id: 'q' })
  alice.close()
  await waitUntil(async () => (await b.app.notifications.presenceStats('board')).clients === 2, 'one tab of alice closed')
  t.same(clientsOf(await b.app.notifications.presence('board')), ['alice', 'bob'], 'alice still has a tab on b')
  alice2.close()
  await waitUntil(async () => (await b.app.notifications.presenceStats('board')).users === 1, 'alice gone')
  t.same(await a.app.notifications.presence('board'), { members: [{ client: 'bob' }], total: 1, truncated: false })
})

test('join and leave are delivered once per subscriber, cluster-wide; none on channels without joinLeave', { skip: REDIS_SKIP }, async (t) => {
  const [a, b] = await buildCluster(t, 2, { channels, presence: { grace: 0 } }, { statsInterval })
  const onA = await connect(t, a.url, '?client_id=wa')
  const onB = await connect(t, b.url, '?client_id=wb')
  for (const watcher of [onA, onB]) {
    await subscribe(watcher, 'room')
    await subscribe(watcher, 'board')
  }
  await waitUntil(() => eventsOf(onA).length >= 2 && eventsOf(onB).length >= 1, 'the watchers\' joins arrived')
  const carol = await connect(t, b.url, '?client_id=carol')
  await subscribe(carol, 'room')
  await subscribe(carol, 'board')
  const carol2 = await connect(t, a.url, '?client_id=carol')
  await subscribe(carol2, 'room')
  await waitUntil(async () => (await a.app.notifications.presenceStats('room')).clients === 4, 'carol\'s two tabs counted')
  carol.close()
  await waitUntil(async () => (await a.app.notifications.presenceStats('room')).clients === 3, 'one tab of carol closed')
  carol2.close()
  await waitUntil(() => eventsOf(onA).includes('leave carol') && eventsOf(onB).includes('leave carol'), 'carol left')
  // What came after the leave would be a duplicate. Join/leave frames are published on each
  // instance's command connection, as notify is: markers from both instances, once received,
  // prove no join or leave published before them is still on its way (a ping round trip would
  // prove it only for what the watcher's own instance had already written).
  await quiet([a.app, b.app], 'room', [onA, onB])
  for (const watcher of [onA, onB]) {
    t.same(eventsOf(watcher).filter((event) => event.endsWith('carol')), ['join carol', 'leave carol'], 'one join, one leave')
  }
  t.same(onA.frames.filter((frame: Frame) => frame.channel === 'board' && (frame.type === 'join' || frame.type === 'leave')), [])
})

test('an instance killed with SIGKILL: its members leave within the bound, with one leave', { skip: REDIS_SKIP }, async (t) => {
  const script = join(root, 'dist', 'lib', 'index.js')
  if (!existsSync(script)) throw new Error('dist/lib/index.js missing: run `npm run build`')
  const prefix = testPrefix(t)
  const [a] = await buildCluster(t, 1, { channels, presence: { grace: 0 } }, { statsInterval, prefix })
  const child = spawnChild(t, process.execPath, ['-e', `
    const app = require('fastify')()
    const notifications = require(${JSON.stringify(script)})
    app.register(notifications, {
      channels: ${JSON.stringify(channels)},
      presence: { grace: 0 },
      adapter: notifications.redisAdapter({ redis: ${JSON.stringify(REDIS_URL)}, keyPrefix: ${JSON.stringify(prefix)}, statsInterval: ${statsInterval} })
    })
    app.listen({ port: 0, host: '127.0.0.1' }).then(() => console.log(JSON.stringify({ port: app.server.address().port })))
  `])
  const { port } = await child.waitForJson({}) as { port: number }
  const watcher = await connect(t, a.url, '?client_id=watcher')
  await subscribe(watcher, 'room')
  const dave = await connect(t, `ws://127.0.0.1:${port}`, '?client_id=dave')
  await subscribe(dave, 'room')
  await waitUntil(() => eventsOf(watcher).includes('join dave'), 'dave joined through the child')
  t.same(clientsOf(await a.app.notifications.presence('room')), ['dave', 'watcher'])

  child.process.kill('SIGKILL')
  await child.exited
  // Fails if dave is still listed past the bound (plus slack for a loaded machine).
  await waitUntil(async () => !clientsOf(await a.app.notifications.presence('room')).includes('dave'),
    `dave expired within ${EXPIRY_BOUND} ms`, EXPIRY_BOUND + 2000)
  await waitUntil(() => eventsOf(watcher).includes('leave dave'), 'the watcher was told')
  // The live instance's script wrote the leave: a marker from it comes after any second one.
  await quiet([a.app], 'room', [watcher])
  t.same(eventsOf(watcher), ['join watcher', 'join dave', 'leave dave'])
  t.same(await a.app.notifications.presenceStats('room'), { clients: 1, users: 1 }, 'the dead instance\'s sockets are not counted')
})

test('an instance that closes: its members leave at once', { skip: REDIS_SKIP }, async (t) => {
  const [a, b] = await buildCluster(t, 2, { channels, presence: { grace: 60_000 } }, { statsInterval })
  const watcher = await connect(t, a.url, '?client_id=watcher')
  await subscribe(watcher, 'room')
  const erin = await connect(t, b.url, '?client_id=erin')
  await subscribe(erin, 'room')
  await waitUntil(() => eventsOf(watcher).includes('join erin'), 'erin joined')
  await b.app.close()
  // With a grace of a minute, only the goodbye of b can make erin leave now.
  await waitUntil(() => eventsOf(watcher).includes('leave erin'), 'erin left with b')
  t.same(clientsOf(await a.app.notifications.presence('room')), ['watcher'])
})

test('a cluster-wide list is capped by maxListed and says so; info comes from presence.info', { skip: REDIS_SKIP }, async (t) => {
  const [a, b] = await buildCluster(t, 2, {
    channels,
    authenticate: async (request) => ({ id: String(request.headers['x-user']), secret: 'never shown' }),
    presence: { grace: 0, maxListed: 2, info: (identity) => ({ name: `user ${typeof identity === 'string' ? identity : identity.id}` }) }
  }, { statsInterval })
  for (const [built, user] of [[a, 'u1'], [b, 'u2'], [b, 'u3']] as const) {
    const client = await connect(t, built.url, '', { headers: { 'x-user': user } })
    await subscribe(client, 'board')
  }
  await waitUntil(async () => (await a.app.notifications.presenceStats('board')).users === 3, 'three members')
  const list = await a.app.notifications.presence('board')
  t.equal(list.members.length, 2)
  t.equal(list.total, 3)
  t.equal(list.truncated, true)
  for (const member of list.members) t.same(member.info, { name: `user ${member.client}` })
})

test('a reconnect to another instance within the grace is no leave and no join', { skip: REDIS_SKIP }, async (t) => {
  const prefix = testPrefix(t)
  const [a, b] = await buildCluster(t, 2, { channels, presence: { grace: 1500 } }, { statsInterval, prefix })
  const redis = new Redis(REDIS_URL)
  t.teardown(() => redis.disconnect())
  /** Instances holding gus on room: 2 while a's grace runs, 1 once a wrote its leave. */
  const holders = async (): Promise<number> => {
    const keys = await redis.keys(`${prefix}{room}:pi:*`)
    const held = await Promise.all(keys.map(async (key) => await redis.sismember(key, 'gus')))
    return held.filter((value) => value === 1).length
  }
  const watcher = await connect(t, a.url, '?client_id=watcher')
  await subscribe(watcher, 'room')
  const first = await connect(t, a.url, '?client_id=gus')
  await subscribe(first, 'room')
  await waitUntil(() => eventsOf(watcher).includes('join gus'), 'gus joined')
  first.ws.terminate()
  await first.closed
  const again = await connect(t, b.url, '?client_id=gus')
  await subscribe(again, 'room')
  await waitUntil(async () => await holders() === 2, 'gus held by a (in grace) and b')
  // Past a's grace: its leave of gus is written, and gus stays a member through b.
  await waitUntil(async () => await holders() === 1, 'a\'s grace ran out')
  // A leave from a's script or a second join from b's would come before their markers.
  await quiet([a.app, b.app], 'room', [watcher])
  t.same(eventsOf(watcher), ['join watcher', 'join gus'], 'no leave, no second join')
  t.same(clientsOf(await a.app.notifications.presence('room')), ['gus', 'watcher'])
})

test('after Redis lost the presence keys, the next heartbeat writes this instance\'s members again', { skip: REDIS_SKIP }, async (t) => {
  const prefix = testPrefix(t)
  const [a] = await buildCluster(t, 1, { channels, presence: { grace: 0 } }, { statsInterval, prefix })
  const hank = await connect(t, a.url, '?client_id=hank')
  await subscribe(hank, 'board')
  await waitUntil(async () => (await a.app.notifications.presenceStats('board')).users === 1, 'hank listed')
  await deleteKeys(REDIS_URL, prefix)
  await waitUntil(async () => (await a.app.notifications.presenceStats('board')).users === 0, 'the keys are gone')
  await waitUntil(async () => clientsOf(await a.app.notifications.presence('board')).includes('hank'), 'hank written again', EXPIRY_BOUND + 2000)
  t.same(await a.app.notifications.presenceStats('board'), { clients: 1, users: 1 })
})

test('Redis unreachable: a presence read answers PRESENCE_UNAVAILABLE, the socket stays open', { skip: REDIS_SKIP }, async (t) => {
  const port = await freePort()
  const server = await startRedis(port)
  t.teardown(async () => { await kill(server) })
  const url = `redis://127.0.0.1:${port}`
  const [a] = await buildCluster(t, 1, { channels, presence: { grace: 0 } }, { statsInterval, url, prefix: 'p:' })
  const ivy = await connect(t, a.url, '?client_id=ivy')
  await subscribe(ivy, 'board')
  await kill(server)
  const reply = await ask(ivy, { action: 'presence_stats', channel: 'board', request_id: 'u' })
  t.match(reply, { type: 'error', code: 'PRESENCE_UNAVAILABLE', request_id: 'u' })
  t.equal((await ivy.request({ action: 'ping' })).type, 'pong', 'still open')
})

test('a leave Redis never got (it was away) is made when the instance resyncs', { skip: REDIS_SKIP }, async (t) => {
  const prefix = testPrefix(t)
  const [a] = await buildCluster(t, 1, { channels, presence: { grace: 0 } }, { statsInterval, prefix })
  const redis = new Redis(REDIS_URL)
  t.teardown(() => redis.disconnect())
  const watcher = await connect(t, a.url, '?client_id=watcher')
  await subscribe(watcher, 'room')
  await waitUntil(async () => (await a.app.notifications.presenceStats('room')).users === 1, 'watcher listed')
  // A member this instance no longer has, still held for it in Redis: what a lost LEAVE leaves behind.
  const [instance] = await redis.zrange(`${prefix}presence:alive`, '0', '-1')
  await redis.sadd(`${prefix}{room}:pi:${String(instance)}`, 'ghost')
  await redis.hincrby(`${prefix}{room}:pc`, 'ghost', 1)
  t.same(clientsOf(await a.app.notifications.presence('room')), ['ghost', 'watcher'])
  // Unlisted, as after an outage: the next heartbeat resyncs.
  await redis.zrem(`${prefix}presence:alive`, instance)
  await waitUntil(async () => !clientsOf(await a.app.notifications.presence('room')).includes('ghost'), 'the ghost left', EXPIRY_BOUND + 2000)
  await waitUntil(() => eventsOf(watcher).includes('leave ghost'), 'its leave was delivered')
  t.same(clientsOf(await a.app.notifications.presence('room')), ['watcher'])
})
