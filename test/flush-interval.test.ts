// The write window (flushInterval, issue 15 part 3): a socket's frames of up to N ms go out in one
// write, behind one timer per registration; order is kept, and nothing waiting in the window is
// lost to a disconnect or to app.close().
import { test, type Test } from 'tap'
import Fastify from 'fastify'
import notifications from '../lib/index'
import { build, connect, recordWrites, type Client } from './helper'

/** Counts the writes to the server side of every socket open now, stream or native (test/helper.ts). */
function countWrites (t: Test, app: Parameters<typeof recordWrites>[1]): { readonly writes: number } {
  const writes = recordWrites(t, app)
  return { get writes () { return [...writes.values()].reduce((sum, list) => sum + list.length, 0) } }
}

/** Records the timers set and cleared while `body` runs (the window's are set with the global setTimeout). */
async function watchTimers (body: () => Promise<void>): Promise<{ set: unknown[], cleared: unknown[] }> {
  const seen = { set: [] as unknown[], cleared: [] as unknown[] }
  const { setTimeout: set, clearTimeout: clear } = globalThis
  globalThis.setTimeout = ((...args: Parameters<typeof set>) => {
    const timer = set(...args)
    seen.set.push(timer)
    return timer
  }) as typeof set
  globalThis.clearTimeout = ((timer: Parameters<typeof clear>[0]) => {
    seen.cleared.push(timer)
    clear(timer)
  }) as typeof clear
  try {
    await body()
  } finally {
    globalThis.setTimeout = set
    globalThis.clearTimeout = clear
  }
  return seen
}

const turn = async (): Promise<void> => await new Promise((resolve) => setImmediate(resolve))

async function subscribe (client: Client, channel: string): Promise<void> {
  const reply = await client.request({ action: 'subscribe', channel })
  if (reply.type !== 'subscribed') throw new Error(`not subscribed: ${JSON.stringify(reply)}`)
}

test('frames of several event-loop turns go out in one write, in order', async (t) => {
  // Long enough that the turns below all fall in one window, however slow the machine.
  const { app, url } = await build(t, { flushInterval: 1000, heartbeatInterval: 0 })
  const client = await connect(t, url, '?client_id=reader')
  await subscribe(client, 'alpha')
  const counter = countWrites(t, app)
  for (let seq = 0; seq < 10; seq++) {
    if (seq % 3 === 2) await app.notifications.sendTo('reader', 'direct', { seq })
    else await app.notify('alpha', 'tick', { seq })
    await turn()
  }
  const frames = await client.waitFor(12)
  t.same(frames.slice(2).map((frame) => frame.data.seq), [...Array(10).keys()], 'every frame, in the order written')
  t.equal(counter.writes, 1, 'ten turns of frames were one write to the socket')
})

test('off by default: each turn\'s frames are written at its end', async (t) => {
  const { app, url } = await build(t, { heartbeatInterval: 0 })
  const client = await connect(t, url)
  await subscribe(client, 'alpha')
  const counter = countWrites(t, app)
  for (let seq = 0; seq < 3; seq++) {
    await app.notify('alpha', 'tick', { seq })
    await turn()
  }
  await client.waitFor(5)
  t.equal(counter.writes, 3, 'three turns, three writes')
})

test('one timer for the whole registration, however many sockets wait', async (t) => {
  const { app, url } = await build(t, { flushInterval: 1000, heartbeatInterval: 0 })
  const clients: Client[] = []
  for (let i = 0; i < 20; i++) {
    const client = await connect(t, url)
    await subscribe(client, 'alpha')
    clients.push(client)
  }
  const timers = await watchTimers(async () => {
    await app.notify('alpha', 'tick', { seq: 0 })
    await app.notify('alpha', 'tick', { seq: 1 })
  })
  t.equal(timers.set.length, 1, '20 sockets, two notifications waiting: one timer')
  for (const client of clients) await client.waitFor(4)
  t.pass('and each socket got its frame when the window closed')
})

// With a minute's window, connect() and subscribe() still get their answers at once: answers do not wait.
test('disconnect right after notify: the frames waiting in the window go first', async (t) => {
  const { app, url } = await build(t, { flushInterval: 60_000, heartbeatInterval: 0 })
  const client = await connect(t, url, '?client_id=leaving')
  await subscribe(client, 'alpha')
  await app.notify('alpha', 'last', { seq: 1 })
  app.notifications.disconnect('leaving', 4001, 'bye')
  const { code } = await client.closed
  t.equal(code, 4001, 'closed with the code given')
  t.same(client.frames.map((frame) => frame.type), ['connected', 'subscribed', 'last'], 'the notification arrived before the close')
})

test('app.close(): nothing waiting in the window is lost, and no timer is left', async (t) => {
  const app = Fastify()
  await app.register(notifications, { channels: ['alpha'], flushInterval: 60_000, heartbeatInterval: 0 })
  const address = await app.listen({ port: 0, host: '127.0.0.1' })
  const client = await connect(t, address.replace('http', 'ws'))
  await subscribe(client, 'alpha')
  const timers = await watchTimers(async () => {
    await app.notify('alpha', 'tick', { seq: 1 })
    await app.close()
  })
  const { code } = await client.closed
  t.equal(code, 1001, 'closed as going away')
  t.same(client.frames.map((frame) => frame.type), ['connected', 'subscribed', 'tick'], 'the notification arrived before it')
  t.ok(timers.set.length > 0 && timers.cleared.includes(timers.set[0]), 'the window\'s timer is cleared at close')
})

test('flushInterval is validated', async (t) => {
  for (const value of [-1, 1.5, '5']) {
    const app = Fastify()
    await t.rejects(async () => await app.register(notifications, { channels: ['a'], flushInterval: value as number }).ready(),
      { code: 'FST_WS_NOTIFY_INVALID_OPTION', message: /flushInterval must be an integer >= 0/ })
    await app.close()
  }
})
