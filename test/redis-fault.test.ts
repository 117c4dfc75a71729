// Redis dies mid-stream and comes back empty. This test starts its own `redis-server` on a free
// port (no persistence), kills it (SIGKILL) while three instances publish, and restarts it:
// the instances stay up, notify() rejects with FST_WS_NOTIFY_BROKER_UNAVAILABLE meanwhile, errors
// are counted, delivery resumes by itself, and every client either has every accepted message
// (once) or was told `recovered: false`.
import { test } from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import { createServer, connect as tcpConnect } from 'node:net'
import { sleep, waitUntil } from './helper'
import { REDIS_SKIP, ResumingClient, buildCluster } from './redis-helper'

async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  await new Promise<void>((resolve) => server.close(() => resolve()))
  if (address === null || typeof address === 'string') throw new Error('no port')
  return address.port
}

async function reachable (port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const socket = tcpConnect(port, '127.0.0.1')
    socket.once('connect', () => { socket.destroy(); resolve(true) })
    socket.once('error', () => resolve(false))
  })
}

/** Starts redis-server on `port` without persistence; resolves once it accepts connections. */
async function startRedis (port: number): Promise<ChildProcess> {
  const server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
  server.on('error', () => {})
  await waitUntil(async () => await reachable(port), `redis-server listening on ${port}`)
  return server
}

async function kill (server: ChildProcess): Promise<void> {
  if (server.exitCode !== null || server.signalCode !== null) return
  const exited = new Promise((resolve) => server.once('exit', resolve))
  server.kill('SIGKILL')
  await exited
}

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
  let sequence = 0
  const run = { publishing: true }
  const publisher = (async () => {
    while (run.publishing) {
      const n = sequence++
      try {
        await cluster[n % 3].app.notify('kept', 'tick', { n })
        accepted.push(n)
      } catch (err) {
        rejections.push((err as { code?: string }).code ?? String(err))
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
  await sleep(100)

  t.ok(rejections.every((code) => code === 'FST_WS_NOTIFY_BROKER_UNAVAILABLE'), `rejections are BROKER_UNAVAILABLE (${rejections.length})`)
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
    const offsets = client.received.map((frame) => frame.offset as number)
    const ordered = offsets.every((offset, k) => k === 0 || client.epochs[k] !== client.epochs[k - 1] || offset > offsets[k - 1])
    t.ok(ordered, `client ${i}: offsets increase within each epoch`)
  })
  t.ok(clients.some((client) => client.toldOfGap), 'Redis came back empty: the history was lost and clients were told')
})
