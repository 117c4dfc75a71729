// Presence on one instance (issue 13): who is on a channel, how many, join/leave, over real sockets.
import { test } from 'tap'
import Fastify from 'fastify'
import { Parser } from '@asyncapi/parser'
import notifications from '../lib/index'
import { PresenceTracker } from '../lib/core/presence'
import { ask, build, connect, fetchStats, waitUntil, type Client, type Frame } from './helper'

const channels = {
  room: { joinLeave: true },
  board: { presence: true },
  plain: {}
}

async function subscribe (client: Client, channel: string): Promise<Frame> {
  const reply = await ask(client, { action: 'subscribe', channel })
  if (reply.type !== 'subscribed') throw new Error(`subscribe answered ${JSON.stringify(reply)}`)
  return reply
}

const joinsOf = (client: Client): Frame[] => client.frames.filter((frame) => frame.type === 'join' || frame.type === 'leave')

test('presence lists the members of a channel; several tabs of one client id are one member', async (t) => {
  const { app, url } = await build(t, { channels, presence: { grace: 0 } })
  const a1 = await connect(t, url, '?client_id=alice')
  const a2 = await connect(t, url, '?client_id=alice')
  const b = await connect(t, url, '?client_id=bob')
  for (const client of [a1, a2, b]) await subscribe(client, 'board')
  const reply = await a1.request({ action: 'presence', channel: 'board', request_id: 'r1', id: 3 })
  t.equal(reply.type, 'presence')
  t.equal(reply.request_id, 'r1')
  t.equal(reply.id, 3)
  t.same(reply.members.map((member: Frame) => member.client).sort(), ['alice', 'bob'])
  t.equal(reply.total, 2)
  t.equal(reply.truncated, false)
  const stats = await ask(b, { action: 'presence_stats', channel: 'board', request_id: 7 })
  t.match(stats, { type: 'presence_stats', channel: 'board', clients: 3, users: 2, request_id: 7 })
  t.same(await app.notifications.presenceStats('board'), { clients: 3, users: 2 })
  a2.close()
  await waitUntil(async () => (await app.notifications.presenceStats('board')).clients === 2, 'a tab closed')
  t.same((await app.notifications.presence('board')).members.map((member) => member.client).sort(), ['alice', 'bob'], 'alice still has a tab')
  a1.close()
  await waitUntil(async () => (await app.notifications.presenceStats('board')).users === 1, 'alice gone')
  t.same(await app.notifications.presence('board'), { members: [{ client: 'bob' }], total: 1, truncated: false })
})

test('join and leave: only on joinLeave channels, once per client id, not for a second tab', async (t) => {
  const { app, url } = await build(t, { channels, presence: { grace: 0 } })
  const watcher = await connect(t, url, '?client_id=watcher')
  await subscribe(watcher, 'room')
  await subscribe(watcher, 'board')
  const c1 = await connect(t, url, '?client_id=carol')
  await subscribe(c1, 'room')
  await subscribe(c1, 'board')
  const c2 = await connect(t, url, '?client_id=carol')
  await subscribe(c2, 'room')
  await waitUntil(() => joinsOf(watcher).length >= 2, 'carol joined')
  c2.close()
  await c2.closed
  // A leave is written when the server drops the socket: each ping round trip comes after that.
  await waitUntil(() => app.notifications.stats().total_clients === 2, 'the server to drop the second tab')
  await watcher.settle()
  c1.close()
  await waitUntil(() => joinsOf(watcher).length >= 3, 'carol left')
  await waitUntil(() => app.notifications.stats().total_clients === 1, 'the server to drop the first tab')
  await watcher.settle()
  const events = joinsOf(watcher).map((frame) => `${frame.type} ${frame.channel} ${frame.client}`)
  t.same(events, ['join room watcher', 'join room carol', 'leave room carol'], 'no event on board (presence without joinLeave), none for the 2nd tab')
  t.match(joinsOf(watcher)[1], { type: 'join', channel: 'room', client: 'carol', timestamp: String })
})

test('a reconnect within the grace does not flap; after it, one leave', async (t) => {
  const { app, url } = await build(t, { channels, presence: { grace: 300 } })
  const watcher = await connect(t, url, '?client_id=watcher')
  await subscribe(watcher, 'room')
  const first = await connect(t, url, '?client_id=dave')
  await subscribe(first, 'room')
  first.ws.terminate()
  await first.closed
  // Dropped by the server before the reconnect, so a leave written at the drop comes before the ping round trip.
  await waitUntil(() => app.notifications.stats().total_clients === 1, 'the server to drop the first socket')
  const again = await connect(t, url, '?client_id=dave')
  await subscribe(again, 'room')
  await watcher.settle()
  t.same(joinsOf(watcher).map((frame) => `${frame.type} ${frame.client}`), ['join watcher', 'join dave'], 'no leave, no second join')
  t.equal((await app.notifications.presenceStats('room')).users, 2)
  again.close()
  t.equal((await app.notifications.presence('room')).total, 2, 'dave is listed while in grace')
  await waitUntil(() => joinsOf(watcher).some((frame) => frame.type === 'leave'), 'dave left after the grace')
  t.same(await app.notifications.presence('room'), { members: [{ client: 'watcher' }], total: 1, truncated: false })
})

test('channels without presence: PRESENCE_NOT_ENABLED, FST_WS_NOTIFY_NO_PRESENCE, nothing sent', async (t) => {
  const { app, url, http } = await build(t, { channels, presence: { grace: 0 } })
  const client = await connect(t, url, '?client_id=erin')
  await subscribe(client, 'plain')
  const refused = await ask(client, { action: 'presence', channel: 'plain', request_id: 'x' })
  t.match(refused, { type: 'error', code: 'PRESENCE_NOT_ENABLED', request_id: 'x' })
  const other = await connect(t, url, '?client_id=frank')
  await subscribe(other, 'plain')
  other.close()
  await other.closed
  // A leave is written when the server drops the socket: the ping round trip must come after that.
  await waitUntil(() => app.notifications.stats().total_clients === 1, 'the server to drop the closed socket')
  await client.settle()
  t.same(joinsOf(client), [], 'no join/leave on a channel without joinLeave')
  await t.rejects(app.notifications.presence('plain'), { code: 'FST_WS_NOTIFY_NO_PRESENCE' })
  await t.rejects(app.notifications.presenceStats('nope'), { code: 'FST_WS_NOTIFY_UNKNOWN_CHANNEL' })
  t.equal((await fetch(`${http}/ws/presence?channel=plain`)).status, 404)
  const undeclared = await ask(client, { action: 'presence_stats', channel: 'nope' })
  t.equal(undeclared.code, 'INVALID_CHANNEL')
  const notSubscribed = await ask(client, { action: 'presence', channel: 'board' })
  t.equal(notSubscribed.code, 'FORBIDDEN', 'only a subscriber reads presence')
})

test('without any presence channel: no presence route, PRESENCE_NOT_ENABLED', async (t) => {
  const { app, url, http } = await build(t)
  const client = await connect(t, url)
  await subscribe(client, 'alpha')
  t.equal((await ask(client, { action: 'presence', channel: 'alpha' })).code, 'PRESENCE_NOT_ENABLED')
  t.equal((await fetch(`${http}/ws/presence?channel=alpha`)).status, 404)
  await t.rejects(app.notifications.presence('alpha'), { code: 'FST_WS_NOTIFY_NO_PRESENCE' })
})

test('authorize decides who reads presence (action "presence"); public info is what presence.info returns', async (t) => {
  const asked: string[] = []
  const { url, http } = await build(t, {
    channels,
    authenticate: async (request) => {
      const name = (request.headers['x-user'] as string | undefined) ?? null
      return name === null ? null : { id: name, email: `${name}@example.com`, display: name.toUpperCase() }
    },
    authorize: async (identity, _channel, _request, { action }) => {
      asked.push(action)
      return action === 'subscribe' || (typeof identity === 'object' && identity.id === 'admin')
    },
    presence: { grace: 0, info: (identity) => ({ display: (identity as unknown as { display: string }).display }) }
  })
  const admin = await connect(t, url, '', { headers: { 'x-user': 'admin' } })
  const guest = await connect(t, url, '', { headers: { 'x-user': 'guest' } })
  await subscribe(admin, 'board')
  await subscribe(guest, 'board')
  const list = await ask(admin, { action: 'presence', channel: 'board' })
  t.same(list.members.sort((a: Frame, b: Frame) => a.client.localeCompare(b.client)),
    [{ client: 'admin', info: { display: 'ADMIN' } }, { client: 'guest', info: { display: 'GUEST' } }], 'info only, never the e-mail')
  t.match(await ask(guest, { action: 'presence_stats', channel: 'board' }), { type: 'error', code: 'FORBIDDEN' })
  t.same(asked, ['subscribe', 'subscribe', 'presence', 'presence'])
  const route = await fetchStats(http, '/ws/presence?channel=board')
  t.equal(route.total, 2)
  t.equal(route.clients, 2)
})

test('maxListed caps the reply and says so; 10 000 members: stats without listing them', async (t) => {
  const { app, url } = await build(t, { channels: { big: { presence: true } }, presence: { grace: 0, maxListed: 50 }, maxConnections: 0, maxConnectionsPerClient: 0 })
  const clients: Client[] = []
  for (let i = 0; i < 120; i++) clients.push(await connect(t, url, `?client_id=m${i}`))
  await Promise.all(clients.map(async (client) => await subscribe(client, 'big')))
  const reply = await clients[0].request({ action: 'presence', channel: 'big' })
  t.equal(reply.members.length, 50)
  t.equal(reply.total, 120)
  t.equal(reply.truncated, true)

  // 10 000 members straight into the tracker (10 000 sockets would not fit the test machine).
  const tracker = new PresenceTracker({ grace: 0, maxMembers: 20_000, maxListed: 100, info: null }, false, { joined () {}, left () {} })
  for (let i = 0; i < 10_000; i++) tracker.add({ clientId: `c${i}` }, 'big')
  t.same(tracker.counts('big'), { clients: 10_000, users: 10_000 })
  const listed = tracker.list('big')
  t.equal(listed.members.length, 100)
  t.equal(listed.total, 10_000)
  t.equal(listed.truncated, true)
  t.equal((await app.notifications.presence('big')).members.length, 50)
})

test('maxMembers refuses a new member with CHANNEL_FULL, not another tab of a member', async (t) => {
  const { url } = await build(t, { channels, presence: { grace: 0, maxMembers: 2 } })
  const a = await connect(t, url, '?client_id=a')
  const b = await connect(t, url, '?client_id=b')
  const c = await connect(t, url, '?client_id=c')
  const a2 = await connect(t, url, '?client_id=a')
  await subscribe(a, 'board')
  await subscribe(b, 'board')
  t.equal((await ask(c, { action: 'subscribe', channel: 'board', id: 1 })).code, 'CHANNEL_FULL')
  await subscribe(a2, 'board')
  await subscribe(c, 'plain')
})

test('metrics count members per declared channel and namespace, never per client id', async (t) => {
  const { url, http } = await build(t, { channels: { ...channels, 'user:*': { presence: true } }, presence: { grace: 0 }, metrics: true, authorize: async () => true })
  for (const id of ['u1', 'u2']) {
    const client = await connect(t, url, `?client_id=${id}`)
    await subscribe(client, `user:${id}`)
    await subscribe(client, 'board')
  }
  const text = await (await fetch(`${http}/ws/metrics`)).text()
  t.match(text, /ws_notify_presence_members\{namespace="user:\*"\} 2/)
  t.match(text, /ws_notify_presence_members\{namespace="board"\} 2/)
  t.match(text, /ws_notify_presence_members\{namespace="room"\} 0/)
  t.notMatch(text, /namespace="plain"/)
  t.notMatch(text, /u1/)
})

test('presence options are checked at registration', async (t) => {
  for (const [presence, message] of [
    [{ grace: -1 }, /presence.grace must be an integer >= 0/],
    [{ maxListed: 0 }, /presence.maxListed must be an integer >= 1/],
    [{ info: 'x' }, /presence.info must be a function/],
    [{ other: 1 }, /presence: unknown key "other"/]
  ] as const) {
    const app = Fastify()
    await t.rejects(async () => { await app.register(notifications, { channels, presence: presence as never }); await app.ready() }, { message })
    await app.close()
  }
  const app = Fastify()
  await t.rejects(async () => { await app.register(notifications, { channels: { x: { presence: 'yes' as never } } }); await app.ready() }, { message: /channels.x.presence must be a boolean/ })
  await app.close()
})

test('AsyncAPI documents the presence frames only when some channel has presence', async (t) => {
  const { http } = await build(t, { channels, presence: { grace: 0 } })
  const document = await fetchStats(http, '/ws/asyncapi.json')
  const messages = document.components.messages
  t.match(messages.presence.payload.properties, { members: { type: 'array' }, total: {}, truncated: {} })
  t.match(messages.presence_stats.payload.properties, { clients: {}, users: {} })
  t.match(messages.join_leave.payload.properties.type, { anyOf: [{ const: 'join' }, { const: 'leave' }] })
  t.match(messages['presence.ask'].payload.properties, { request_id: {}, id: {} })
  t.ok(document.operations.presence)
  t.ok(messages.error.payload.properties.code.enum.includes('PRESENCE_NOT_ENABLED'))
  const plain = await build(t, { channels: ['alpha'] })
  const without = await fetchStats(plain.http, '/ws/asyncapi.json')
  t.same(Object.keys(without.components.messages).filter((key) => /presence|join/.test(key)), [])
  t.notOk(without.operations.presence)
  const { diagnostics } = await new Parser().parse(JSON.stringify(document))
  t.same(diagnostics.map((d) => `${d.code}: ${d.message} at ${d.path.join('.')}`), [], 'the document with presence parses without diagnostics')
})
