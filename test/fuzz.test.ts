// Property-based fuzzing of the inbound side: 10 000 generated frames (wrong types, huge strings,
// deep nesting, __proto__ keys, binary, invalid UTF-8), sent in batches of 100 on one socket, each
// batch followed by a sentinel ping: every frame before the sentinel's pong got exactly one reply,
// the one its frame calls for. Frames that must close the socket (invalid UTF-8: 1007, over
// maxPayload: 1009) are each sent on a socket of their own. The process stays up, an observer
// client receives every notification untouched, and no prototype is polluted. The rate limit is
// raised so parsing, not the limiter, is what is tested.
import { test } from 'tap'
import fc from 'fast-check'
import { isUtf8 } from 'node:buffer'
import { build, connect, waitUntil, within, type Client, type Frame } from './helper'

const MAX_PAYLOAD = 16 * 1024
const BATCH = 100
/** 100 batches of 100: 10 000 frames. FUZZ_BATCHES raises it for a longer local run. */
const BATCHES = Number(process.env.FUZZ_BATCHES ?? 100)

type Generated =
  | { kind: 'text', text: string }
  | { kind: 'binary', bytes: Uint8Array }
  | { kind: 'invalid-utf8', bytes: Buffer }

const text = (arbitrary: fc.Arbitrary<string>): fc.Arbitrary<Generated> => arbitrary.map((value) => ({ kind: 'text', text: value }))
const anyValue = fc.anything({ maxDepth: 3 })
const frame: fc.Arbitrary<Generated> = fc.oneof(
  { weight: 3, arbitrary: text(fc.json({ maxDepth: 4 })) },
  { weight: 2, arbitrary: text(fc.string({ maxLength: 200 })) },
  { weight: 2, arbitrary: text(anyValue.map((value) => JSON.stringify(value) ?? 'undefined')) },
  {
    weight: 4,
    arbitrary: text(fc.record({
      action: fc.oneof(fc.constantFrom('subscribe', 'unsubscribe', 'ping', 'publish', '__proto__', 'constructor'), anyValue),
      channel: fc.oneof(fc.constantFrom('alpha', 'beta', 'nope', '', 'user:1', '__proto__'), fc.string({ maxLength: 300 }), anyValue),
      id: fc.oneof(fc.integer(), fc.double(), fc.string({ maxLength: 80 }), anyValue)
    }, { requiredKeys: [] }).map((value) => JSON.stringify(value)))
  },
  {
    weight: 2,
    arbitrary: text(fc.tuple(fc.constantFrom('__proto__', 'constructor', 'prototype'), fc.constantFrom('subscribe', 'ping'))
      .map(([key, action]) => `{"${key}":{"polluted":true,"prototype":{"polluted":true}},"action":"${action}","channel":"alpha"}`))
  },
  {
    weight: 1,
    arbitrary: text(fc.integer({ min: 1, max: MAX_PAYLOAD + 1000 })
      .chain((n) => fc.constantFrom(`{"action":"subscribe","channel":"${'x'.repeat(n)}"}`, `"${'a'.repeat(n)}"`, `{"action":"ping","id":"${'9'.repeat(n)}"}`)))
  },
  {
    weight: 1,
    arbitrary: text(fc.integer({ min: 1, max: 8000 })
      .chain((n) => fc.constantFrom('['.repeat(n) + ']'.repeat(n), '{"a":'.repeat(n) + '1' + '}'.repeat(n), '['.repeat(n))))
  },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }).map((bytes): Generated => ({ kind: 'binary', bytes })) },
  {
    weight: 1,
    arbitrary: fc.tuple(fc.string({ maxLength: 50 }), fc.constantFrom(0xff, 0xc0, 0xed), fc.uint8Array({ maxLength: 20 }))
      .map(([prefix, bad, rest]): Generated => ({ kind: 'invalid-utf8', bytes: Buffer.concat([Buffer.from(prefix), Buffer.from([bad]), rest]) }))
  }
)

/** The close this frame must cause, or null when it must get exactly one reply. */
function expectedClose (generated: Generated): number | null {
  // A byte such as 0xED followed by the right ones is valid UTF-8 after all: then it is answered.
  if (generated.kind === 'invalid-utf8' && !isUtf8(generated.bytes)) return 1007
  if (generated.kind === 'text' && Buffer.byteLength(generated.text) > MAX_PAYLOAD) return 1009
  return null
}

const REPLY_TO: Record<string, string> = { subscribe: 'subscribed', unsubscribe: 'unsubscribed', ping: 'pong' }

/**
 * Whether `reply` is the one reply PROTOCOL.md calls for. Only FORBIDDEN (no authorize),
 * TOO_MANY_SUBSCRIPTIONS (three channels) and RATE_LIMITED (raised) can never be right here.
 */
function replyFits (generated: Generated, reply: Frame): boolean {
  const isError = (...codes: string[]): boolean =>
    reply.type === 'error' && codes.includes(reply.code) && typeof reply.message === 'string' && reply.message.length > 0
  if (generated.kind === 'binary') return isError('INVALID_MESSAGE')
  const text = generated.kind === 'text' ? generated.text : generated.bytes.toString('utf8')
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    // INVALID_MESSAGE when nested too deep to be parsed at all.
    return isError('INVALID_JSON', 'INVALID_MESSAGE')
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return isError('INVALID_MESSAGE')
  const { action, channel, id } = json as Record<string, unknown>
  if (typeof action !== 'string') return isError('INVALID_MESSAGE')
  if (!Object.hasOwn(REPLY_TO, action)) return isError('UNKNOWN_ACTION')
  if (reply.type === 'error') {
    return isError('INVALID_MESSAGE', 'INVALID_CHANNEL') && !(reply.code === 'INVALID_CHANNEL' && (channel === 'alpha' || channel === 'beta'))
  }
  return reply.type === REPLY_TO[action] && reply.id === id && (action === 'ping' || reply.channel === channel)
}

function send (client: Client, generated: Generated): void {
  if (generated.kind === 'text') client.ws.send(generated.text)
  else client.ws.send(generated.bytes, { binary: generated.kind === 'binary' })
}

/** Resolves with the index in client.frames of the pong answering `id`, searching from `from`. */
async function sentinelPong (client: Client, from: number, id: string): Promise<number> {
  let index = -1
  let searched = from
  await waitUntil(() => {
    for (; searched < client.frames.length; searched++) {
      const frame = client.frames[searched]
      if (frame.type === 'pong' && frame.id === id) {
        index = searched
        return true
      }
    }
    return false
  }, `the pong of ${id}`, 15_000)
  return index
}

test(`${BATCHES * BATCH} generated frames in batches: one fitting reply or the documented close each; nothing else affected`, async (t) => {
  const { app, url } = await build(t, {
    channels: ['alpha', 'beta', 'gamma'],
    maxPayload: MAX_PAYLOAD,
    heartbeatInterval: 0,
    rateLimit: { perSecond: 1_000_000, burst: 1_000_000 }
  })
  // A bystander on a channel the generator does not name: it must see its notifications and nothing else.
  const observer = await connect(t, url)
  await observer.request({ action: 'subscribe', channel: 'gamma' })
  const fuzzed = await connect(t, url)
  let sent = 0
  let closes = 0
  let sentinels = 0
  let observed = 0

  /** A frame that must close its socket, on a socket of its own. */
  async function closesWith (generated: Generated, code: number): Promise<boolean> {
    const own = await connect(t, url)
    send(own, generated)
    const closed = await within(own.closed, `the close (${code}) of a fuzzed socket`)
    closes++
    return closed.code === code && own.frames.length === 1
  }

  await fc.assert(fc.asyncProperty(fc.array(frame, { minLength: BATCH, maxLength: BATCH }), async (batch) => {
    sent += batch.length
    const answered = batch.filter((generated) => expectedClose(generated) === null)
    const closing = batch.filter((generated) => expectedClose(generated) !== null)
    const closed = Promise.all(closing.map(async (generated) => await closesWith(generated, expectedClose(generated) as number)))

    const from = fuzzed.frames.length
    for (const generated of answered) send(fuzzed, generated)
    const id = `sentinel-${sentinels++}`
    fuzzed.ws.send(JSON.stringify({ action: 'ping', id }))
    const pong = await sentinelPong(fuzzed, from, id)
    // Notifications the fuzzed socket may have subscribed to are not replies.
    const replies = fuzzed.frames.slice(from, pong).filter((reply) => reply.type !== 'observed')

    await app.notify('gamma', 'observed', { n: observed++ })
    return replies.length === answered.length &&
      answered.every((generated, i) => replyFits(generated, replies[i])) &&
      (await closed).every(Boolean)
  }), {
    numRuns: BATCHES,
    seed: 20251120,
    // Shrinking a failure re-runs whole batches (each may wait for a timeout): bounded, and a run
    // cut short fails rather than passing with fewer frames.
    interruptAfterTimeLimit: 60_000,
    markInterruptAsFailure: true
  })

  t.ok(sent >= BATCHES * BATCH, `${sent} frames sent, ${closes} of them closed their own socket as documented`)
  t.equal(fuzzed.ws.readyState, fuzzed.ws.OPEN, 'the fuzzed socket is still open')
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'no prototype polluted')
  t.equal((Object.prototype as Record<string, unknown>).polluted, undefined, 'Object.prototype untouched')
  await observer.waitFor(2 + observed)
  t.same(observer.frames.slice(2), [...Array(observed).keys()].map((n) => ({ type: 'observed', channel: 'gamma', data: { n }, timestamp: observer.frames[2 + n].timestamp })),
    'the observer received every notification, in order, and nothing else')
  await waitUntil(() => app.notifications.stats().total_clients === 2, 'only the observer and the fuzzed socket to be open')
  // Still serving: a fresh socket subscribes and receives.
  const fresh = await connect(t, url)
  t.match(await fresh.request({ action: 'subscribe', channel: 'beta', id: 'fresh' }), { type: 'subscribed', channel: 'beta', id: 'fresh' }, 'a fresh socket subscribes')
  t.ok(await app.notify('beta', 'alive', {}) >= 1, 'notify still writes')
  t.match((await fresh.waitFor(3))[2], { type: 'alive' }, 'and the fresh socket receives it')
})
