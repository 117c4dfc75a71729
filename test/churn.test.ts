// Churn: thousands of connect/subscribe/disconnect cycles, half closed cleanly and half destroyed
// abruptly, with bounded concurrency; afterwards every map of the hub is empty.
import { test } from 'tap'
import WebSocket from 'ws'
import { build, fetchStats, waitUntil, within } from './helper'

const CYCLES = 2000
const CONCURRENCY = 20
const CHANNELS = ['alpha', 'beta', 'gamma']

/** One cycle: connect (some with a shared client id), subscribe, then close or destroy. */
async function cycle (url: string, i: number): Promise<void> {
  const query = i % 3 === 0 ? `?client_id=shared-${i % 7}` : ''
  const ws = new WebSocket(`${url}/ws${query}`)
  ws.on('error', () => {})
  const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()))
  let received = 0
  const subscribed = new Promise<void>((resolve, reject) => {
    ws.on('message', (data) => {
      const frame = JSON.parse(data.toString())
      if (frame.type === 'connected') ws.send(JSON.stringify({ action: 'subscribe', channel: CHANNELS[i % 3], id: i }))
      else if (frame.type === 'subscribed' && frame.id === i) resolve()
      else if (frame.type === 'error') reject(new Error(JSON.stringify(frame)))
      received++
    })
    ws.once('close', () => reject(new Error(`closed before subscribed (cycle ${i}, ${received} frames)`)))
  })
  await within(subscribed, `cycle ${i} to subscribe`)
  if (i % 2 === 0) ws.close()
  else (ws as unknown as { _socket: { destroy (): void } })._socket.destroy()
  await within(closed, `cycle ${i} to close`)
}

test(`${CYCLES} connect/subscribe/disconnect cycles leave every map empty`, async (t) => {
  const { app, url, http } = await build(t)
  let next = 0
  let notified = 0
  async function worker (): Promise<void> {
    while (next < CYCLES) {
      const i = next++
      await cycle(url, i)
      // Notifications while sockets come and go: fan-out must cope with sockets leaving.
      if (i % 50 === 0) { await app.notify(CHANNELS[i % 3], 'churn', { i }); notified++ }
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker))
  await waitUntil(() => app.notifications.stats().total_clients === 0, 'every socket is gone')

  const stats = await fetchStats(http)
  t.equal(stats.total_connections_ever, CYCLES, 'every socket was accepted once')
  t.equal(stats.total_clients, 0)
  t.equal(stats.total_channels, 0)
  t.same(stats.channel_stats, {})
  t.same(stats.active_channels, [])
  t.equal(stats.notifications_published, notified)
  // The client-id map, which stats do not show: the shared ids had many sockets, none is left.
  for (let k = 0; k < 7; k++) t.equal(app.notifications.disconnect(`shared-${k}`), 0, `no socket is left under shared-${k}`)
  for (const channel of CHANNELS) t.equal(await app.notify(channel, 'after', {}), 0, `no subscriber left on ${channel}`)
})
