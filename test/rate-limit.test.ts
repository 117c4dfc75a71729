// Inbound rate limit: a token bucket per socket refilled from timestamps (no timers); RATE_LIMITED
// for a frame over the allowance, close 1008 for a client that keeps going; other clients unaffected.
import { test } from 'tap'
import { TokenBucket, InboundRateLimiter } from '../lib/rate-limit'
import { build, connect } from './helper'
import type { NotificationsOptions } from '../types/index'

test('TokenBucket: burst at once, then perSecond, refilled lazily and capped at burst', async (t) => {
  const bucket = new TokenBucket({ perSecond: 2, burst: 3 }, 0)
  t.same([bucket.take(0), bucket.take(0), bucket.take(0), bucket.take(0)], [true, true, true, false])
  t.notOk(bucket.take(499), 'not yet a whole token')
  t.ok(bucket.take(500))
  t.notOk(bucket.take(500))
  t.same([bucket.take(60_000), bucket.take(60_000), bucket.take(60_000), bucket.take(60_000)], [true, true, true, false], 'never more than burst')
  t.notOk(bucket.take(59_000), 'a clock that goes back adds nothing')
})

test('InboundRateLimiter: `burst` refusals in a row, then close; an accepted frame resets the count', async (t) => {
  const limiter = new InboundRateLimiter({ perSecond: 1, burst: 2 }, 0)
  t.same([0, 0, 0, 0, 0].map(() => limiter.check(0)), ['accept', 'accept', 'refuse', 'refuse', 'close'])
  const patient = new InboundRateLimiter({ perSecond: 1, burst: 2 }, 0)
  t.same([patient.check(0), patient.check(0), patient.check(0), patient.check(0)], ['accept', 'accept', 'refuse', 'refuse'])
  t.equal(patient.check(1000), 'accept', 'waiting earns a token back')
  t.same([patient.check(1000), patient.check(1000)], ['refuse', 'refuse'], 'and resets the refusals')
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
