// Inbound rate limit: a token bucket per socket refilled from timestamps (no timers); RATE_LIMITED
// for a frame over the allowance, close 1008 for a client that keeps going; other clients unaffected.
import { test } from 'tap'
import { InboundRateLimit, type RateState } from '../lib/transports/rate-limit'
import { build, connect } from './helper'
import type { NotificationsOptions } from '../types/index'

const fresh = (): RateState => ({ rateFullAt: 0, refusedInARow: 0 })

test('InboundRateLimit.take: burst at once, then perSecond, refilled lazily and capped at burst', async (t) => {
  const limit = new InboundRateLimit({ perSecond: 2, burst: 3 })
  const state = fresh()
  t.same([limit.take(state, 0), limit.take(state, 0), limit.take(state, 0), limit.take(state, 0)], [true, true, true, false])
  t.notOk(limit.take(state, 499), 'not yet a whole token')
  t.ok(limit.take(state, 500))
  t.notOk(limit.take(state, 500))
  t.same([60_000, 60_000, 60_000, 60_000].map((now) => limit.take(state, now)), [true, true, true, false], 'never more than burst')
  t.notOk(limit.take(state, 59_000), 'a clock that goes back adds nothing')
  const third = new InboundRateLimit({ perSecond: 3, burst: 3 })
  const other = fresh()
  t.same([0, 0, 0, 0].map((now) => third.take(other, now)), [true, true, true, false], 'intervals that are not whole milliseconds')
  t.same([333, 334, 666, 667].map((now) => third.take(other, now)), [false, true, false, true])
})

test('InboundRateLimit.check: `burst` refusals in a row, then close; an accepted frame resets the count', async (t) => {
  const limit = new InboundRateLimit({ perSecond: 1, burst: 2 })
  const flooder = fresh()
  t.same([0, 0, 0, 0, 0].map(() => limit.check(flooder, 0)), ['accept', 'accept', 'refuse', 'refuse', 'close'])
  const patient = fresh()
  t.same([patient, patient, patient, patient].map((state) => limit.check(state, 0)), ['accept', 'accept', 'refuse', 'refuse'])
  t.equal(limit.check(patient, 1000), 'accept', 'waiting earns a token back')
  t.same([limit.check(patient, 1000), limit.check(patient, 1000)], ['refuse', 'refuse'], 'and resets the refusals')
  t.same(limit.check(fresh(), 0), 'accept', 'one registration\'s limit, separate state per socket')
})

test('a flooding socket gets RATE_LIMITED, then 1008; another socket is unaffected', async (t) => {
  // One token per 1000 s: no refill can happen during the test, so the counts are exact.
  const { url } = await build(t, { rateLimit: { perSecond: 0.001, burst: 5 } })
  const flooder = await connect(t, url)
  const bystander = await connect(t, url)
  for (let i = 0; i < 20; i++) flooder.ws.send(JSON.stringify({ action: 'ping', id: i }))
  const closed = await flooder.closed
  t.equal(closed.code, 1008)
  t.equal(closed.reason, 'rate limit exceeded')
  const replies = flooder.frames.slice(1)
  t.same(replies.slice(0, 5).map((f) => [f.type, f.id]), [0, 1, 2, 3, 4].map((id) => ['pong', id]))
  t.equal(replies.length, 10, '5 pongs, then one RATE_LIMITED for each of the next 5 frames')
  for (const frame of replies.slice(5)) t.match(frame, { type: 'error', code: 'RATE_LIMITED', message: /at most 5 at once/ })
  t.match(await bystander.request({ action: 'ping', id: 'b' }), { type: 'pong', id: 'b' })
})

test('rateLimit: false turns it off', async (t) => {
  const { url } = await build(t, { rateLimit: false })
  const client = await connect(t, url)
  for (let i = 0; i < 200; i++) client.ws.send(JSON.stringify({ action: 'ping', id: i }))
  const frames = await client.waitFor(201)
  t.ok(frames.slice(1).every((f, i) => f.type === 'pong' && f.id === i))
})

test('rateLimit is checked at registration', async (t) => {
  const bad: unknown[] = [true, 20, { perSecond: 0 }, { perSecond: Infinity }, { burst: 1.5 }, { burst: 0 }, { frames: 3 }]
  for (const rateLimit of bad) {
    await t.rejects(build(t, { rateLimit } as Partial<NotificationsOptions>), { code: 'FST_WS_NOTIFY_INVALID_OPTION', message: /rateLimit/ }, JSON.stringify(rateLimit))
  }
})
