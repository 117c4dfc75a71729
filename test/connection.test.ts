// One socket's handling (lib/connection.ts): its state lives on one object per socket and its
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
