// Connection limits (HTTP 503 on the upgrade), subscriptions per connection
// (TOO_MANY_SUBSCRIPTIONS) and channel name length (INVALID_CHANNEL).
import { test, type Test } from 'tap'
import WebSocket from 'ws'
import { build, connect, Client, waitUntil } from './helper'
import type { NotificationsOptions } from '../types/index'

async function refused (t: Test, url: string, query = '', status = 503): Promise<void> {
  const client = new Client(`${url}/ws${query}`)
  t.teardown(() => client.ws.terminate())
  await t.rejects(client.opened, new RegExp(`HTTP ${status}`))
}

/** Status and JSON body of a refused upgrade. */
async function refusalOf (url: string): Promise<{ status: number | undefined, body: unknown }> {
  const ws = new WebSocket(url)
  ws.on('error', () => {})
  return await new Promise((resolve) => {
    ws.once('unexpected-response', (_request, response) => {
      let text = ''
      response.on('data', (chunk: Buffer) => { text += chunk.toString() })
      response.on('end', () => resolve({ status: response.statusCode, body: JSON.parse(text) }))
    })
  })
}

test('maxConnections: one more upgrade gets HTTP 503 with a JSON body; a freed slot is usable again', async (t) => {
  const { app, url } = await build(t, { maxConnections: 2 })
  const first = await connect(t, url)
  await connect(t, url)
  await refused(t, url)
  const response = await refusalOf(`${url}/ws`)
  t.equal(response.status, 503)
  t.match(response.body, { code: 'TOO_MANY_CONNECTIONS', message: /maxConnections 2/ })
  first.close()
  await waitUntil(() => app.notifications.stats().total_clients === 1, 'the first socket is gone')
  await connect(t, url)
})

test('maxConnectionsPerClient: counts sockets of one client id; other ids are not affected', async (t) => {
  const { url } = await build(t, { maxConnectionsPerClient: 2 })
  await connect(t, url, '?client_id=tabs')
  await connect(t, url, '?client_id=tabs')
  await refused(t, url, '?client_id=tabs')
  await connect(t, url, '?client_id=other')
  await connect(t, url)
})

test('maxConnectionsPerClient: with authenticate, the identity is what is counted', async (t) => {
  const { url } = await build(t, { maxConnectionsPerClient: 1, authenticate: async () => 'same-user' })
  await connect(t, url, '?client_id=a')
  await refused(t, url, '?client_id=b')
})

test('maxSubscriptionsPerConnection: one more is TOO_MANY_SUBSCRIPTIONS; held channels and freed slots still work', async (t) => {
  const { app, url } = await build(t, { maxSubscriptionsPerConnection: 2 })
  const client = await connect(t, url)
  await client.request({ action: 'subscribe', channel: 'alpha' })
  await client.request({ action: 'subscribe', channel: 'beta' })
  t.match(await client.request({ action: 'subscribe', channel: 'gamma', id: 9 }),
    { type: 'error', code: 'TOO_MANY_SUBSCRIPTIONS', id: 9, message: /at most 2/ })
  t.match(await client.request({ action: 'subscribe', channel: 'alpha', id: 10 }), { type: 'subscribed', id: 10 })
  await client.request({ action: 'unsubscribe', channel: 'beta' })
  t.match(await client.request({ action: 'subscribe', channel: 'gamma', id: 11 }), { type: 'subscribed', id: 11 })
  t.same(app.notifications.stats().channel_stats, { alpha: 1, gamma: 1 })
  // The limit is per socket: another socket starts from zero.
  const other = await connect(t, url)
  t.match(await other.request({ action: 'subscribe', channel: 'beta' }), { type: 'subscribed' })
})

test('channel names longer than 255 characters are INVALID_CHANNEL, declared or not', async (t) => {
  const { url } = await build(t, { channels: ['alpha', 'room:*'], authorize: async () => true })
  const client = await connect(t, url)
  const long = `room:${'x'.repeat(251)}`
  t.match(await client.request({ action: 'subscribe', channel: long, id: 1 }), { code: 'INVALID_CHANNEL', id: 1 })
  t.match(await client.request({ action: 'subscribe', channel: 'z'.repeat(10_000), id: 2 }), { code: 'INVALID_CHANNEL', id: 2 })
  t.ok((client.frames[2].message as string).length < 300, 'the message does not echo the whole name')
  t.match(await client.request({ action: 'subscribe', channel: long.slice(0, 255), id: 3 }), { type: 'subscribed', id: 3 })
})

test('limit options are checked at registration', async (t) => {
  const bad: Array<Partial<NotificationsOptions>> = [
    { maxConnections: -1 }, { maxConnectionsPerClient: 1.5 }, { maxSubscriptionsPerConnection: 0 },
    { maxSubscriptionsPerConnection: '5' as never }
  ]
  for (const options of bad) {
    const name = Object.keys(options)[0]
    await t.rejects(build(t, options), { code: 'FST_WS_NOTIFY_INVALID_OPTION', message: new RegExp(`${name} must be an integer`) }, name)
  }
})
