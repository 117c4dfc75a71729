// Issue 19.2: the client honours the classes of close codes (lib/client/close-codes.mts): a kick
// (4000-4099, 1008) ends the session, 4100-4199 and 1013 reconnect later, 4200-4299 reconnect at
// once; `reconnect: false` says `disconnected` once.
import { test } from 'tap'
import { build, sleep, waitUntil } from './helper'
import { loaded, named, open } from './client-helper'

test('a kick (4001) ends the session: one disconnected, willReconnect false, no reconnect', async (t) => {
  const { app, url } = await build(t, { channels: ['alpha'] })
  const { client, events } = await open(t, url, { clientId: 'kicked' })
  await client.subscribe('alpha', () => {})
  t.equal(app.notifications.disconnect('kicked', 4001, 'kicked'), 1)
  await waitUntil(() => named(events, 'disconnected').length === 1, 'the kick')
  await sleep(200) // far longer than the 5-50 ms backoff: a reconnect would have happened
  t.same(named(events, 'disconnected'), [{ code: 4001, reason: 'kicked', willReconnect: false }])
  t.equal(named(events, 'connected').length, 1, 'no reconnect')
  t.equal(app.notifications.stats().total_clients, 0)
  t.equal(client.state, 'closed')
  t.equal(named(events, 'state').at(-1), 'closed')
})

test('1008 (policy) does not reconnect either', async (t) => {
  const { app, url } = await build(t)
  const { client, events } = await open(t, url, { clientId: 'bad' })
  await waitUntil(() => client.state === 'open', 'open')
  app.notifications.disconnect('bad', 1008, 'policy')
  await waitUntil(() => client.state === 'closed', 'closed')
  await sleep(100)
  t.same(named(events, 'disconnected'), [{ code: 1008, reason: 'policy', willReconnect: false }])
  t.equal(named(events, 'connected').length, 1)
})

test('reconnect: false says disconnected once, with the server\'s code', async (t) => {
  const { app, url } = await build(t)
  const { client, events } = await open(t, url, { clientId: 'once', reconnect: false })
  await waitUntil(() => client.state === 'open', 'open')
  app.notifications.disconnect('once', 1011, 'oops')
  await waitUntil(() => client.state === 'closed', 'closed')
  await sleep(50)
  t.same(named(events, 'disconnected'), [{ code: 1011, reason: 'oops', willReconnect: false }])
})

test('4100-4199, 1013, 1012, 1001, 1000 reconnect; 4200-4299 reconnect at once', async (t) => {
  const { app, url } = await build(t)
  const { client, events } = await open(t, url, { clientId: 'back' })
  await waitUntil(() => client.state === 'open', 'open')
  const codes = [4100, 4199, 1013, 1012, 1000, 4200, 4299]
  for (const [i, code] of codes.entries()) {
    app.notifications.disconnect('back', code, 'again')
    await waitUntil(() => named(events, 'connected').length === i + 2, `a reconnect after ${code}`, 10_000)
  }
  t.same(named(events, 'disconnected'), codes.map((code) => ({ code, reason: 'again', willReconnect: true })))
})

test('the classes of close codes', async (t) => {
  const { closeCodeAction } = await loaded
  const cases: Array<[number, string]> = [
    [1000, 'backoff'], [1001, 'backoff'], [1006, 'backoff'], [1008, 'stop'], [1011, 'backoff'],
    [1012, 'backoff'], [1013, 'later'], [4000, 'stop'], [4099, 'stop'], [4100, 'later'],
    [4199, 'later'], [4200, 'now'], [4299, 'now'], [4300, 'backoff'], [3000, 'backoff']
  ]
  for (const [code, action] of cases) t.equal(closeCodeAction(code), action, String(code))
})
