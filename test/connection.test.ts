// One socket's handling (lib/transports/connection.ts): its state lives on one object per socket and its
// listeners are shared functions, so an idle connection costs no closures (bench S4 measures it).
import { test } from 'tap'
import type { WebSocket as ServerSocket } from 'ws'
import { build, connect } from './helper'

function serverSockets (app: { websocketServer: { clients: Set<ServerSocket> } }): ServerSocket[] {
  return [...app.websocketServer.clients]
}

test('every socket shares the same listener functions: no closure per socket', async (t) => {
  const { app, url } = await build(t)
  const first = await connect(t, url, '?client_id=first')
  const second = await connect(t, url, '?client_id=second')
  const [a, b] = serverSockets(app)
  const names = { message: 'onMessage', pong: 'onPong', close: 'onClose', error: 'onError' } as const
  for (const [event, name] of Object.entries(names)) {
    const ofA = a.listeners(event).filter((listener) => listener.name === name)
    const ofB = b.listeners(event).filter((listener) => listener.name === name)
    t.equal(ofA.length, 1, `one '${event}' listener of ours`)
    t.equal(ofA[0], ofB[0], `the same '${event}' function on both sockets`)
  }
  // The shared listeners still act per socket.
  t.match(await first.request({ action: 'ping', id: 1 }), { type: 'pong', id: 1 })
  t.match(await second.request({ action: 'subscribe', channel: 'beta', id: 2 }), { type: 'subscribed', channel: 'beta', id: 2 })
  t.equal(app.notifications.stats().channel_stats.beta, 1)
  first.close()
  await first.closed
  t.match(await second.request({ action: 'ping', id: 3 }), { type: 'pong', id: 3 }, 'one socket closing leaves the other alone')
})

// Issue 18.8: frames that wait for an async `authorize` are bounded by count and by bytes: a
// socket cannot park 128 frames of maxPayload (8 MiB) while a slow authorize decides.
test('frames waiting for an async authorize are bounded by bytes (maxPayload in all): more are RATE_LIMITED', async (t) => {
  let release!: () => void
  const released = new Promise<void>((resolve) => { release = resolve })
  const { url } = await build(t, {
    rateLimit: false,
    authorize: async (_identity, channel) => {
      if (channel === 'alpha') await released
      return true
    }
  })
  const client = await connect(t, url)
  client.ws.send(JSON.stringify({ action: 'subscribe', channel: 'alpha', id: 'slow' }))
  // Each ~40 KiB (under maxPayload, 64 KiB): the first fits in the waiting room, the others do not.
  const pad = 'x'.repeat(40 * 1024)
  for (let id = 1; id <= 6; id++) client.ws.send(JSON.stringify({ action: 'ping', id, pad }))
  const refused = await client.waitFor(1 + 5)
  t.same(refused.slice(1).map((frame) => frame.code), Array(5).fill('RATE_LIMITED'), 'five refused while the authorize is pending')
  t.match(refused[1].message, /waiting/, 'saying why')
  release()
  const frames = await client.waitFor(1 + 5 + 2)
  t.same(frames.slice(6).map((frame) => [frame.type, frame.id]), [['subscribed', 'slow'], ['pong', 1]],
    'the one that waited is answered, in order, after the subscribe')
  t.match(await client.request({ action: 'ping', id: 'next' }), { type: 'pong', id: 'next' }, 'and the socket carries on')
})

test('frames waiting for an async authorize are bounded by count: 128, then RATE_LIMITED', async (t) => {
  let release!: () => void
  const released = new Promise<void>((resolve) => { release = resolve })
  const { url } = await build(t, {
    rateLimit: false,
    authorize: async () => { await released; return true }
  })
  const client = await connect(t, url)
  client.ws.send(JSON.stringify({ action: 'subscribe', channel: 'alpha', id: 'slow' }))
  for (let id = 1; id <= 130; id++) client.ws.send(JSON.stringify({ action: 'ping', id }))
  const refused = await client.waitFor(1 + 2)
  t.same(refused.slice(1).map((frame) => frame.code), ['RATE_LIMITED', 'RATE_LIMITED'], 'the 129th and 130th are refused')
  release()
  const frames = await client.waitFor(3 + 1 + 128)
  t.same(frames.slice(3).map((frame) => frame.id), ['slow', ...Array.from({ length: 128 }, (_, i) => i + 1)], 'the 128 that waited are answered in order')
})
