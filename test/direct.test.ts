// Point to point: sendTo() reaches every socket of one client id, disconnect() closes them all,
// channels() lists the declared names.
import { test } from 'tap'
import { build, connect, fetchStats, tcpSocketOf, waitUntil, within } from './helper'

test('sendTo reaches every socket of the client id with {type, data, timestamp} and no channel', async (t) => {
  const { app, url, http } = await build(t)
  const tab1 = await connect(t, url, '?client_id=alice')
  const tab2 = await connect(t, url, '?client_id=alice')
  const bob = await connect(t, url, '?client_id=bob')
  await bob.request({ action: 'subscribe', channel: 'alpha' })
  t.equal(await app.notifications.sendTo('alice', 'welcome', { n: 1 }), 2, 'two tabs written')
  for (const tab of [tab1, tab2]) {
    const message = (await tab.waitFor(2))[1]
    t.same(Object.keys(message), ['type', 'data', 'timestamp'])
    t.same(message, { type: 'welcome', data: { n: 1 }, timestamp: message.timestamp })
    t.match(message.timestamp, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/)
  }
  t.equal(await app.notifications.sendTo('carol', 'nobody', {}), 0, 'an id with no socket: 0')
  t.equal(await app.notifications.sendTo('bob', 'no-data', undefined), 1)
  t.same((await bob.waitFor(3))[2], { type: 'no-data', data: null, timestamp: bob.frames[2].timestamp })
  await bob.settle()
  t.equal(bob.frames.length, 3, 'bob got only his own message')
  const stats = await fetchStats(http)
  t.equal(stats.total_messages_sent, 3)
  t.equal(stats.notifications_published, 3)

  tab1.close()
  await tab1.closed
  await waitUntil(() => app.notifications.stats().total_clients === 2, 'the server to drop the closed tab')
  t.equal(await app.notifications.sendTo('alice', 'one-left', {}), 1, 'the remaining tab still gets it')
})

test('sendTo refuses an invalid client id or type', async (t) => {
  const { app } = await build(t)
  for (const id of ['', 'a b', 'x'.repeat(129), 'é', 5, null]) {
    await t.rejects(app.notifications.sendTo(id as string, 'x', {}), {
      code: 'FST_WS_NOTIFY_INVALID_CLIENT_ID',
      message: /^Invalid client id .*: expected 1-128 characters of \[A-Za-z0-9_.:@|-\]$/
    }, `client id ${JSON.stringify(id)}`)
  }
  await t.rejects(app.notifications.sendTo('ok', '', {}), { code: 'FST_WS_NOTIFY_INVALID_TYPE' })
  const cycle: unknown[] = []
  cycle.push(cycle)
  await t.rejects(app.notifications.sendTo('ok', 'x', cycle), { code: 'FST_WS_NOTIFY_UNSERIALIZABLE' })
})

test('disconnect closes every socket of the client id with the code and returns the count', async (t) => {
  const { app, url } = await build(t)
  const tab1 = await connect(t, url, '?client_id=alice')
  const tab2 = await connect(t, url, '?client_id=alice')
  const bob = await connect(t, url, '?client_id=bob')
  await tab1.request({ action: 'subscribe', channel: 'alpha' })
  t.equal(app.notifications.disconnect('alice', 4001, 'kicked'), 2)
  t.same(app.notifications.stats().channel_stats, {}, 'removed from every map at once')
  t.equal(app.notifications.stats().total_clients, 1)
  for (const tab of [tab1, tab2]) t.same(await within(tab.closed, 'the tab to close'), { code: 4001, reason: 'kicked' })
  t.equal(app.notifications.disconnect('alice'), 0, 'nothing left to close')
  t.equal(app.notifications.disconnect('bob'), 1)
  t.same(await within(bob.closed, 'bob to close'), { code: 1000, reason: '' }, 'default code 1000')
})

test('channels() lists the declared names in order, as a copy', async (t) => {
  const { app } = await build(t, { channels: ['z', 'a', 'm'] })
  const names = app.notifications.channels()
  t.same(names, ['z', 'a', 'm'])
  names.push('x')
  t.same(app.notifications.channels(), ['z', 'a', 'm'], 'changing the result changes nothing')
})

test('disconnect terminates a socket whose peer does not answer the close within closeTimeout', async (t) => {
  const { app, url } = await build(t, { closeTimeout: 100 })
  const mute = await connect(t, url, '?client_id=mute')
  tcpSocketOf(mute).pause()
  t.equal(app.notifications.disconnect('mute', 4002, 'bye'), 1)
  t.equal(app.notifications.stats().total_clients, 0, 'out of the hub at once')
  // ws alone would wait 30 s for the handshake; the server side is gone after closeTimeout.
  await waitUntil(() => app.websocketServer.clients.size === 0, 'the server socket is terminated', 3000)
  tcpSocketOf(mute).resume()
  await within(mute.closed, 'the mute client to see its end')
})

test('disconnect refuses a close code or reason a close frame cannot carry, and closes nothing', async (t) => {
  const { app, url } = await build(t)
  const alice = await connect(t, url, '?client_id=alice')
  await alice.request({ action: 'subscribe', channel: 'alpha' })
  for (const code of [999, 1004, 1005, 1006, 1015, 2000, 5000, 1000.5, Number.NaN]) {
    t.throws(() => app.notifications.disconnect('alice', code), { code: 'FST_WS_NOTIFY_INVALID_CLOSE', message: /code/ }, `code ${code}`)
  }
  t.throws(() => app.notifications.disconnect('alice', 1000, 'x'.repeat(124)), { code: 'FST_WS_NOTIFY_INVALID_CLOSE', message: /123 bytes/ })
  t.match(app.notifications.stats(), { total_clients: 1, channel_stats: { alpha: 1 } }, 'alice is still in every map')
  t.equal(await app.notify('alpha', 'still', {}), 1, 'and still receives')
  t.equal(app.notifications.disconnect('alice', 4999, 'x'.repeat(123)), 1, 'the limits themselves are accepted')
  t.same(await within(alice.closed, 'alice to close'), { code: 4999, reason: 'x'.repeat(123) })
})
