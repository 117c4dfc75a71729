// Shutdown under load: 1 000 open sockets, 10 of them never answering the close handshake (their
// TCP reading is paused). Every client gets 1001 and app.close() ends within closeTimeout plus a
// little, because the mute ones are terminated.
import { test } from 'tap'
import Fastify from 'fastify'
import notifications from '../lib/index'
import { Client, tcpSocketOf } from './helper'

const SOCKETS = 1000
const MUTE = 10
const CLOSE_TIMEOUT = 1000

test('1 000 sockets, 10 mute: every client gets 1001; app.close() within closeTimeout plus a little', async (t) => {
  const app = Fastify()
  await app.register(notifications, { channels: ['alpha'], closeTimeout: CLOSE_TIMEOUT, heartbeatInterval: 0 })
  const address = await app.listen({ port: 0, host: '127.0.0.1' })
  const url = `${address.replace('http', 'ws')}/ws`
  const clients: Client[] = []
  t.teardown(async () => {
    for (const client of clients) client.ws.terminate()
    await app.close()
  })
  for (let i = 0; i < SOCKETS; i += 100) {
    const batch = Array.from({ length: 100 }, () => new Client(url))
    clients.push(...batch)
    await Promise.all(batch.map(async (client) => { await client.opened; await client.waitFor(1) }))
  }
  t.equal(app.notifications.stats().total_clients, SOCKETS)
  const mute = clients.slice(0, MUTE)
  for (const client of mute) tcpSocketOf(client).pause()

  const started = Date.now()
  await app.close()
  const elapsed = Date.now() - started
  // A bound, not a measurement: without terminate, the mute peers would hold close for ws's 30 s.
  t.ok(elapsed < CLOSE_TIMEOUT + 2000, `app.close() took ${elapsed} ms (closeTimeout ${CLOSE_TIMEOUT} ms)`)

  for (const client of mute) tcpSocketOf(client).resume()
  const codes = await Promise.all(clients.map(async (client) => (await client.closed).code))
  t.equal(codes.filter((code) => code === 1001).length, SOCKETS, 'every client saw 1001')
})
