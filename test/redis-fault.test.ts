// Redis dies mid-stream and comes back empty. This test starts its own `redis-server` on a free
// port (no persistence), kills it (SIGKILL) while three instances publish, and restarts it:
// the instances stay up, notify() rejects meanwhile (FST_WS_NOTIFY_BROKER_UNAVAILABLE, or _TIMEOUT
// for what was in flight when Redis died; what was rejected as not sent is delivered nowhere), errors
// are counted, delivery resumes by itself, and every client either has every accepted message
// (once) or was told `recovered: false`.
import { test } from 'tap'
import { sleep, waitUntil } from './helper'
import { REDIS_SKIP, ResumingClient, buildCluster, freePort, kill, publishMarker, startRedis } from './redis-helper'

// The redis-server binary is needed as much as a Redis server: same rule as REDIS_SKIP.
test('Redis killed mid-stream and restarted: instances stay up, delivery resumes, no silent hole', { skip: REDIS_SKIP }, async (t) => {
  const port = await freePort()
  let redis = await startRedis(port)
  t.teardown(async () => { await kill(redis) })
  const cluster = await buildCluster(t, 3, { channels: { kept: { history: { size: 10_000 } } } },
    { url: `redis://127.0.0.1:${port}`, publishTimeout: 500 })
  const urls = cluster.map(({ url }) => url)
  const clients = Array.from({ length: 6 }, (_, i) => new ResumingClient(t, urls, 'kept', i))
  for (const client of clients) await client.start()
  await waitUntil(() => clients.every((client) => client.replies.length === 1), 'every client subscribed')

  const accepted: number[] = []
  const rejections: string[] = []
  /** Rejected as certainly not sent: on a history channel, delivered nowhere. */
  const notSent: number[] = []
  let sequence = 0
  const run = { publishing: true }
  const publisher = (async () => {
    while (run.publishing) {
      const n = sequence++
      try {
        await cluster[n % 3].app.notify('kept', 'tick', { n })
        accepted.push(n)
      } catch (err) {
        const code = (err as { code?: string }).code ?? String(err)
        rejections.push(code)
        if (code === 'FST_WS_NOTIFY_BROKER_UNAVAILABLE') notSent.push(n)
      }
      await sleep(2)
    }
  })()

  await waitUntil(() => accepted.length >= 200, '200 messages before the fault', 10_000)
  await kill(redis)
  await waitUntil(() => rejections.length >= 20, 'notify rejects while Redis is down', 10_000)
  const acceptedBeforeRestart = accepted.length
  redis = await startRedis(port)
  await waitUntil(() => accepted.length >= acceptedBeforeRestart + 300, 'delivery resumed by itself', 15_000)
  run.publishing = false
  await publisher

  const last = accepted[accepted.length - 1]
  await waitUntil(() => clients.every((client) => client.received.some((frame) => frame.data.n === last)),
    'every client got the last message', 10_000)
  // Markers from every instance: each comes after what that instance sent Redis before it (a
  // message its client retried after the restart included), so nothing more is on its way.
  for (const { app } of cluster) {
    const isMarker = await publishMarker(app, 'kept')
    for (const client of clients) await client.takeMarker(isMarker)
  }

  // UNAVAILABLE: certainly not sent; TIMEOUT: written when the connection died, outcome unknown.
  t.ok(rejections.every((code) => code === 'FST_WS_NOTIFY_BROKER_UNAVAILABLE' || code === 'FST_WS_NOTIFY_BROKER_TIMEOUT'),
    `rejections are BROKER_UNAVAILABLE or BROKER_TIMEOUT (${rejections.length})`)
  t.ok(notSent.length > 0, 'some rejections say not sent')
  for (const { app } of cluster) {
    t.ok(app.notifications.stats().broker_errors > 0, 'broker errors are counted')
  }
  // Messages accepted once every client had resumed after the restart.
  const afterResume = accepted.slice(-100)
  clients.forEach((client, i) => {
    const got = client.received.map((frame) => frame.data.n as number)
    t.equal(new Set(got).size, got.length, `client ${i}: no message twice`)
    const missing = accepted.filter((n) => !got.includes(n))
    t.ok(missing.length === 0 || client.toldOfGap, `client ${i}: every message, or told recovered: false (missing ${missing.length})`)
    t.ok(afterResume.every((n) => got.includes(n)), `client ${i}: delivery resumed`)
    t.notOk(notSent.some((n) => got.includes(n)), `client ${i}: nothing rejected as not sent was delivered`)
    const offsets = client.received.map((frame) => frame.offset as number)
    const ordered = offsets.every((offset, k) => k === 0 || client.epochs[k] !== client.epochs[k - 1] || offset > offsets[k - 1])
    t.ok(ordered, `client ${i}: offsets increase within each epoch`)
  })
  t.ok(clients.some((client) => client.toldOfGap), 'Redis came back empty: the history was lost and clients were told')
})
