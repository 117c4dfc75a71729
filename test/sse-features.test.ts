// Features built beside the SSE transport hear its streams as they hear WebSocket sockets: the
// lifecycle hooks (connect, subscribe, disconnect with the code the stream ended with), presence
// (a stream is a member, with its identity's public info; maxMembers refuses a new member as an
// HTTP status) and broadcast. Real HTTP streams on 127.0.0.1.
import { test } from 'tap'
import { build, connect, waitUntil } from './helper'
import { openSse } from './sse-helper'
import type { SocketContext } from '../types/index'

interface User { id: string, role: string }
const authenticate = async (request: { query: unknown }): Promise<User> => ({ id: (request.query as { user: string }).user, role: 'viewer' })

test('hooks: a stream connects, subscribes each channel it asked for, and disconnects with its code', async (t) => {
  const events: unknown[][] = []
  const hooks = {
    onConnect: (context: SocketContext) => { events.push(['connect', context.clientId, context.identity]) },
    onSubscribe: (context: SocketContext, channel: string) => { events.push(['subscribe', context.clientId, channel]) },
    onDisconnect: (context: SocketContext, code: number, reason: string) => { events.push(['disconnect', context.clientId, code, reason]) }
  }
  const { app, http } = await build(t, { sse: true, authenticate, hooks })
  const kicked = await openSse(t, `${http}/ws/sse?channel=alpha&channel=beta&user=alice`)
  await kicked.waitFor(3)
  t.same(events, [['connect', 'alice', { id: 'alice', role: 'viewer' }], ['subscribe', 'alice', 'alpha'], ['subscribe', 'alice', 'beta']])
  app.notifications.disconnect('alice', 4001, 'kicked')
  await kicked.ended
  await waitUntil(() => events.length === 4, 'onDisconnect of the kicked stream')
  t.same(events[3], ['disconnect', 'alice', 4001, 'kicked'], 'the code and reason of its close event')

  const left = await openSse(t, `${http}/ws/sse?user=bob`)
  await left.waitFor(1)
  left.close()
  await waitUntil(() => events.length === 6, 'onDisconnect of the stream its reader left')
  t.same(events.slice(4), [['connect', 'bob', { id: 'bob', role: 'viewer' }], ['disconnect', 'bob', 1006, '']],
    'a reader that leaves gives no close handshake: 1006, as ws reports a socket lost without one')
})

test('presence: a stream is a member with its public info; a full channel refuses a new member with 503 CHANNEL_FULL', async (t) => {
  const channels = { board: { joinLeave: true }, plain: {} }
  const presence = { grace: 0, maxMembers: 2, info: (identity: unknown) => ({ role: (identity as User).role }) }
  const { app, http, url } = await build(t, { sse: true, channels, authenticate, presence })
  const watcher = await connect(t, url, '?user=carol')
  await watcher.request({ action: 'subscribe', channel: 'board' })
  const stream = await openSse(t, `${http}/ws/sse?channel=board&user=dave`)
  await stream.waitFor(2)
  await waitUntil(() => watcher.frames.some((frame) => frame.type === 'join' && frame.client === 'dave'), 'the stream\'s join')
  t.match(watcher.frames.find((frame) => frame.type === 'join' && frame.client === 'dave'), { channel: 'board', info: { role: 'viewer' } })
  const list = await app.notifications.presence('board')
  t.same(list.members.map((member) => member.client).sort(), ['carol', 'dave'])
  t.same(await app.notifications.presenceStats('board'), { clients: 2, users: 2 })

  const refused = await openSse(t, `${http}/ws/sse?channel=board&user=erin`)
  t.match(await refused.response, { status: 503, body: { code: 'CHANNEL_FULL' } })
  const tab = await openSse(t, `${http}/ws/sse?channel=board&user=dave`)
  t.equal((await tab.response).status, 200, 'another tab of a member is no new member')
  t.same(await app.notifications.presenceStats('board'), { clients: 3, users: 2 })

  stream.close()
  tab.close()
  await waitUntil(() => watcher.frames.some((frame) => frame.type === 'leave' && frame.client === 'dave'), 'the stream\'s leave')
})

test('broadcast reaches a stream that asked for no channel', async (t) => {
  const { app, http } = await build(t, { sse: true })
  const reader = await openSse(t, `${http}/ws/sse`)
  await reader.waitFor(1)
  t.equal(await app.notifications.broadcast('maintenance', { at: '22:00' }), 1)
  await reader.waitFor(2)
  t.match(reader.events[1], { event: 'maintenance', data: { type: 'maintenance', broadcast: true, data: { at: '22:00' } } })
})
