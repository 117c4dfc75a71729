// Issue 19.8: server-side lifecycle hooks with the identity from authenticate, and broadcast().
import { test } from 'tap'
import Fastify from 'fastify'
import notifications from '../lib/index'
import { build, connect, waitUntil, type Frame } from './helper'
import type { SocketContext } from '../types/index'

interface User { id: string, role: string }

function recorder (): { events: unknown[][], hooks: Record<string, (...args: any[]) => void> } {
  const events: unknown[][] = []
  const identityOf = (context: SocketContext): unknown => context.identity
  return {
    events,
    hooks: {
      onConnect: (context: SocketContext) => { events.push(['connect', context.clientId, identityOf(context), typeof context.request.headers]) },
      onSubscribe: (context: SocketContext, channel: string) => { events.push(['subscribe', context.clientId, channel]) },
      onUnsubscribe: (context: SocketContext, channel: string) => { events.push(['unsubscribe', context.clientId, channel]) },
      onDisconnect: (context: SocketContext, code: number, reason: string) => { events.push(['disconnect', context.clientId, code, reason]) }
    }
  }
}

test('hooks: connect, subscribe, unsubscribe and disconnect, with the identity from authenticate', async (t) => {
  const { events, hooks } = recorder()
  const authenticate = async (request: { query: unknown }): Promise<User> => ({ id: (request.query as { user: string }).user, role: 'admin' })
  const { app, url } = await build(t, { authenticate, hooks })
  const client = await connect(t, url, '?user=alice')
  t.same(events, [['connect', 'alice', { id: 'alice', role: 'admin' }, 'object']])
  await client.request({ action: 'subscribe', channel: 'alpha' })
  // Held already: no second onSubscribe; an unknown channel or one not held: no hook.
  await client.request({ action: 'subscribe', channel: 'alpha' })
  await client.request({ action: 'unsubscribe', channel: 'beta' })
  await client.request({ action: 'subscribe', channel: 'nope' })
  await client.request({ action: 'unsubscribe', channel: 'alpha' })
  t.same(events.slice(1), [['subscribe', 'alice', 'alpha'], ['unsubscribe', 'alice', 'alpha']])
  app.notifications.disconnect('alice', 4001, 'bye')
  await client.closed
  await waitUntil(() => events.length === 4, 'onDisconnect')
  t.same(events[3], ['disconnect', 'alice', 4001, 'bye'])
})

test('hooks: a refused subscribe (authorize) calls no onSubscribe; a client close reaches onDisconnect', async (t) => {
  const { events, hooks } = recorder()
  const { url } = await build(t, { hooks, authorize: async (_identity, channel) => channel !== 'beta' })
  const client = await connect(t, url, '?client_id=bob')
  t.match(await client.request({ action: 'subscribe', channel: 'beta' }), { type: 'error', code: 'FORBIDDEN' })
  t.match(await client.request({ action: 'subscribe', channel: 'gamma' }), { type: 'subscribed' })
  client.ws.close(4100, 'leaving')
  await waitUntil(() => events.length === 3, 'onDisconnect')
  t.same(events, [['connect', 'bob', 'bob', 'object'], ['subscribe', 'bob', 'gamma'], ['disconnect', 'bob', 4100, 'leaving']])
})

test('hooks: a throwing or rejecting hook is logged; the socket carries on', async (t) => {
  const lines: Array<{ level: number, msg: string, err?: { message?: string } }> = []
  const app = Fastify({ logger: { level: 'error', stream: { write: (text: string) => { lines.push(JSON.parse(text)) } } } })
  t.teardown(() => app.close())
  await app.register(notifications, {
    channels: ['alpha'],
    hooks: {
      onConnect () { throw new Error('connect broke') },
      onSubscribe: async () => { throw new Error('subscribe broke') }
    }
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }
  const client = await connect(t, `ws://127.0.0.1:${port}`)
  t.match(await client.request({ action: 'subscribe', channel: 'alpha' }), { type: 'subscribed' })
  t.equal(await app.notify('alpha', 'hello', 1), 1, 'still delivered to')
  await waitUntil(() => lines.length === 2, 'both failures logged')
  t.match(lines, [
    { level: 50, msg: /the onConnect hook failed/, err: { message: 'connect broke' } },
    { level: 50, msg: /the onSubscribe hook failed/, err: { message: 'subscribe broke' } }
  ])
})

test('hooks: wrong values are refused at registration, naming the hook', async (t) => {
  for (const [hooks, message] of [
    [5, /hooks must be an object of functions/],
    [{ onConnect: 'x' }, /hooks.onConnect must be a function/],
    [{ onOpen () {} }, /unknown hook "onOpen"; accepted: onConnect, onDisconnect, onSubscribe, onUnsubscribe/]
  ] as const) {
    const app = Fastify()
    t.teardown(() => app.close())
    app.register(notifications, { channels: ['a'], hooks: hooks as never })
    await t.rejects(async () => { await app.ready() }, { code: 'FST_WS_NOTIFY_INVALID_OPTION', message })
  }
})

test('broadcast: every socket gets it, subscribed or not; flagged broadcast, without channel', async (t) => {
  const { app, url } = await build(t)
  const subscribed = await connect(t, url, '?client_id=a')
  await subscribed.request({ action: 'subscribe', channel: 'alpha' })
  const idle = await connect(t, url, '?client_id=b')
  t.equal(await app.notifications.broadcast('maintenance', { at: '22:00' }), 2)
  const expected: Frame = { type: 'maintenance', data: { at: '22:00' }, broadcast: true }
  t.match((await subscribed.waitFor(3))[2], expected)
  t.match((await idle.waitFor(2))[1], expected)
  t.notOk('channel' in idle.frames[1])
  t.equal(app.notifications.stats().notifications_published, 1)
  await t.rejects(app.notifications.broadcast('', {}), { code: 'FST_WS_NOTIFY_INVALID_TYPE' })
  await app.close()
  await t.rejects(app.notifications.broadcast('late', {}), { code: 'FST_WS_NOTIFY_CLOSED' })
})

test('hooks: app.close() reaches onDisconnect for every socket, with 1001', async (t) => {
  const { events, hooks } = recorder()
  const { app, url } = await build(t, { hooks })
  const first = await connect(t, url, '?client_id=a')
  const second = await connect(t, url, '?client_id=b')
  await app.close()
  await Promise.all([first.closed, second.closed])
  const closes = events.filter((event) => event[0] === 'disconnect').map((event) => [event[1], event[2]])
  t.same(closes.sort(), [['a', 1001], ['b', 1001]])
})
