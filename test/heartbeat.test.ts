// Liveness with short intervals: a peer that answers pings stays, one that does not is
// terminated; idleTimeout closes a silent socket and keeps one that sends frames. Deadlines are
// generous bounds for correctness, never measurements; intervals are long enough (100-200 ms)
// that a loaded machine stalling the event loop cannot make a healthy peer look dead.
import { test } from 'tap'
import { build, connect, sleep, within } from './helper'

test('heartbeat: a peer that answers pings stays; one that does not is terminated', async (t) => {
  const { app, url } = await build(t, { heartbeatInterval: 200, idleTimeout: 0 })
  const answering = await connect(t, url)
  const mute = await connect(t, url, '', { autoPong: false })
  let pings = 0
  answering.ws.on('ping', () => { pings++ })
  await mute.request({ action: 'subscribe', channel: 'alpha' })
  await answering.request({ action: 'subscribe', channel: 'alpha' })

  const { code } = await within(mute.closed, 'the mute peer to be terminated', 3000)
  t.equal(code, 1006, 'terminated without a close handshake')
  t.same(app.notifications.stats().channel_stats, { alpha: 1 }, 'removed from the hub')
  // Several more intervals: the answering peer is still there.
  const before = pings
  await sleep(1000)
  t.ok(pings > before, 'pings keep coming')
  t.equal(answering.ws.readyState, answering.ws.OPEN)
  t.equal(app.notifications.stats().total_clients, 1)
  t.equal((await answering.request({ action: 'ping', id: 1 })).type, 'pong')
})

test('heartbeatInterval 0 sends no pings', async (t) => {
  const { url } = await build(t, { heartbeatInterval: 0, idleTimeout: 0 })
  const mute = await connect(t, url, '', { autoPong: false })
  let pings = 0
  mute.ws.on('ping', () => { pings++ })
  await sleep(200)
  // A ping the server wrote in that time would be read before the answer to this one.
  await mute.settle()
  t.equal(pings, 0)
  t.equal(mute.ws.readyState, mute.ws.OPEN)
})

test('idleTimeout closes a socket from which nothing arrived and keeps one that sends frames', async (t) => {
  const { app, url } = await build(t, { heartbeatInterval: 0, idleTimeout: 500 })
  const silent = await connect(t, url, '', { autoPong: false })
  const talking = await connect(t, url, '', { autoPong: false })
  await silent.request({ action: 'subscribe', channel: 'alpha' })
  // One frame per 100 ms: well inside idleTimeout and far below any inbound rate limit.
  const talk = setInterval(() => talking.ws.send('{"action":"ping"}'), 100)
  t.teardown(() => clearInterval(talk))

  t.same(await within(silent.closed, 'the silent socket to be closed', 3000), { code: 1000, reason: 'idle timeout' })
  t.same(app.notifications.stats().channel_stats, {}, 'removed from the hub')
  await sleep(1000)
  // A close the server wrote in that time would be read before the answer to this ping.
  await talking.settle()
  t.equal(talking.ws.readyState, talking.ws.OPEN, 'a socket that sends frames stays')
  clearInterval(talk)
  t.equal(app.notifications.stats().total_clients, 1)
})

test('pongs count as activity for idleTimeout', async (t) => {
  const { app, url } = await build(t, { heartbeatInterval: 100, idleTimeout: 500 })
  const client = await connect(t, url)
  await sleep(1200)
  await client.settle()
  t.equal(client.ws.readyState, client.ws.OPEN, 'a peer that only answers pings is not idle')
  t.equal(app.notifications.stats().total_clients, 1)
})

test('idleTimeout 0 never closes', async (t) => {
  const { url } = await build(t, { heartbeatInterval: 0, idleTimeout: 0 })
  const silent = await connect(t, url, '', { autoPong: false })
  await sleep(200)
  await silent.settle()
  t.equal(silent.ws.readyState, silent.ws.OPEN)
})
