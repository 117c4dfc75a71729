// Issue 12: the demo speaks the replaced service's events (PROTOCOL.md, "The replaced service's
// events"). Every documented payload, with and without its optional fields and with a field more,
// goes through POST /notify and through app.notify on the demo app, and a raw `ws` subscriber
// must receive `"data":` followed by exactly the bytes of JSON.stringify(payload). What the table
// forbids is refused with a 400 (or a rejection) that names the field.
import { test, type Test } from 'tap'
import WebSocket from 'ws'
import type { FastifyInstance } from 'fastify'
import { buildDemo, channels } from '../examples/server'
import type { ChannelEvents, TypedNotify } from '../types/index'
import { postJson } from './child'
import { within } from './helper'

interface Demo { app: FastifyInstance, http: string, ws: string }

async function listenDemo (t: Test): Promise<Demo> {
  const app = await buildDemo({ eventInterval: 0 })
  t.teardown(() => app.close())
  await app.listen({ port: 0, host: '127.0.0.1' })
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  return { app, http: `http://127.0.0.1:${address.port}`, ws: `ws://127.0.0.1:${address.port}/ws` }
}

/** A plain `ws` subscriber that keeps every frame as the text it arrived in. */
class RawSubscriber {
  readonly ws: WebSocket
  readonly texts: string[] = []
  #wake: () => void = () => {}

  constructor (url: string) {
    this.ws = new WebSocket(url)
    this.ws.on('error', () => {})
    this.ws.on('message', (data, isBinary) => {
      this.texts.push(isBinary ? `(binary frame of ${String(data)})` : data.toString())
      this.#wake()
    })
  }

  /** The text of frame number `index` (0 is `connected`), once it has arrived. */
  async frame (index: number): Promise<string> {
    while (this.texts.length <= index) {
      await within(new Promise<void>((resolve) => { this.#wake = resolve }), `frame #${index}; got ${JSON.stringify(this.texts)}`)
    }
    return this.texts[index]
  }

  async subscribe (channel: string): Promise<void> {
    const next = this.texts.length
    this.ws.send(JSON.stringify({ action: 'subscribe', channel }))
    const reply = JSON.parse(await this.frame(next)) as { type: string }
    if (reply.type !== 'subscribed') throw new Error(`subscribe ${channel}: ${JSON.stringify(reply)}`)
  }
}

type Payload = Record<string, unknown>
interface Sent { channel: string, type: string, data: Payload | unknown[] | string | number }

/** What PROTOCOL.md documents, each as a producer of the replaced service would send it. */
const documented: Array<[string, Sent]> = [
  // The table's example, exactly.
  ['the PROTOCOL.md example', { channel: 'error_firewall', type: 'error_blocked', data: { error_id: 'ios_build_no_device_iphone15_17.0', solution: 'use iPhone 15 Pro (iOS 17.2)' } }],
  ['error_blocked with a timestamp (ISO, UTC)', { channel: 'error_firewall', type: 'error_blocked', data: { error_id: 'e1', solution: 'retry', timestamp: '2025-11-20T14:30:00.000Z' } }],
  ['error_blocked with a timestamp without zone (Python isoformat)', { channel: 'error_firewall', type: 'error_blocked', data: { error_id: 'e2', solution: 'retry', timestamp: '2025-11-20T14:30:00' } }],
  ['error_blocked with microseconds and an offset', { channel: 'error_firewall', type: 'error_blocked', data: { error_id: 'e3', solution: 'retry', timestamp: '2025-11-20T14:30:00.123456+00:00' } }],
  ['error_blocked with a field more', { channel: 'error_firewall', type: 'error_blocked', data: { error_id: 'e4', solution: 'retry', blocked_count: 3, origin: { file: 'build.sh', line: 12 } } }],
  ['pool_resized', { channel: 'db_pool_stats', type: 'pool_resized', data: { old_size: 20, new_size: 30, reason: 'high utilization' } }],
  ['pool_resized with utilization', { channel: 'db_pool_stats', type: 'pool_resized', data: { old_size: 30, new_size: 25, reason: 'low utilization', utilization: '85%' } }],
  ['pool_resized with a field more', { channel: 'db_pool_stats', type: 'pool_resized', data: { old_size: 25, new_size: 40, reason: 'burst', utilization: '97.5%', pool: 'main' } }],
  ['search_progress at 0', { channel: 'vector_search', type: 'search_progress', data: { query_id: 'q1', progress: 0, status: 'searching' } }],
  ['search_progress, fractional', { channel: 'vector_search', type: 'search_progress', data: { query_id: 'q1', progress: 42.75, status: 'searching' } }],
  ['search_progress completed', { channel: 'vector_search', type: 'search_progress', data: { query_id: 'q1', progress: 100, status: 'completed' } }],
  ['search_progress beyond 100 (not capped)', { channel: 'vector_search', type: 'search_progress', data: { query_id: 'q2', progress: 133.3, status: 'completed' } }],
  ['search_progress with a field more', { channel: 'vector_search', type: 'search_progress', data: { query_id: 'q3', progress: 12, status: 'searching', results_so_far: ['doc-1', 'doc-2'] } }],
  // The other three channels had no fixed payloads: any type, any JSON data.
  ['ai_analysis, any type and data', { channel: 'ai_analysis', type: 'analysis_result', data: { anything: [1, 'two', null, true], nested: { deep: 0.5 } } }],
  ['memory_updates, a list as data', { channel: 'memory_updates', type: 'memory_changed', data: ['session:1', 'session:2'] }],
  ['system_alerts, a string as data', { channel: 'system_alerts', type: 'alert', data: 'disk 91% full' }]
]

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/

/** Checks one received frame against what the producer sent. */
function checkFrame (t: Test, text: string, sent: Sent, sentAt: number, name: string): void {
  const json = JSON.stringify(sent.data)
  t.ok(text.includes(`"data":${json}`), `${name}: the frame holds "data": followed by the producer's JSON byte for byte\n  sent ${json}\n  got  ${text}`)
  const frame = JSON.parse(text) as Record<string, unknown>
  t.equal(JSON.stringify(frame.data), json, `${name}: data re-serialized is the producer's JSON`)
  t.equal(frame.type, sent.type, `${name}: type`)
  t.equal(frame.channel, sent.channel, `${name}: channel`)
  const timestamp = String(frame.timestamp)
  t.match(timestamp, ISO_UTC, `${name}: timestamp is ISO 8601 UTC`)
  const age = Date.now() - Date.parse(timestamp)
  t.ok(Date.parse(timestamp) >= sentAt - 1000 && age < 60_000, `${name}: timestamp is the time of sending (${timestamp})`)
}

test('every documented payload arrives byte for byte: POST /notify and app.notify', async (t) => {
  const { app, http, ws } = await listenDemo(t)
  const subscriber = new RawSubscriber(ws)
  t.teardown(() => subscriber.ws.terminate())
  t.match(JSON.parse(await subscriber.frame(0)), { type: 'connected' })
  for (const channel of new Set(documented.map(([, sent]) => sent.channel))) await subscriber.subscribe(channel)

  const notify = app.notify as (channel: string, type: string, data: unknown) => Promise<number>
  for (const [name, sent] of documented) {
    // A refusal is reported and the next payload tried, so one run lists every payload refused.
    let next = subscriber.texts.length
    let sentAt = Date.now()
    const posted = await postJson(`${http}/notify`, sent)
    t.same(posted, { status: 200, body: { delivered: 1 } }, `${name}: POST /notify answers delivered 1`)
    if (posted.status === 200) checkFrame(t, await subscriber.frame(next), sent, sentAt, `${name} (POST /notify)`)

    next = subscriber.texts.length
    sentAt = Date.now()
    const delivered = await notify(sent.channel, sent.type, sent.data).catch((err: Error) => err.message)
    t.equal(delivered, 1, `${name}: app.notify resolves 1`)
    if (delivered === 1) checkFrame(t, await subscriber.frame(next), sent, sentAt, `${name} (app.notify)`)
  }
})

const invalid = (type: string, channel: string, detail: string): string => `Invalid data for "${type}" on channel "${channel}": ${detail}`
const error = (data: unknown): Sent => ({ channel: 'error_firewall', type: 'error_blocked', data: data as Payload })
const pool = (data: unknown): Sent => ({ channel: 'db_pool_stats', type: 'pool_resized', data: data as Payload })
const search = (data: unknown): Sent => ({ channel: 'vector_search', type: 'search_progress', data: data as Payload })
const blocked = (detail: string): string => invalid('error_blocked', 'error_firewall', detail)
const resized = (detail: string): string => invalid('pool_resized', 'db_pool_stats', detail)
const progressed = (detail: string): string => invalid('search_progress', 'vector_search', detail)
const ISO_PATTERN = "'^\\d{4}-\\d{2}-\\d{2}[T ]\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?(Z|[+-]\\d{2}:\\d{2})?$'"

/** What the table forbids, each with the exact message of its 400. */
const refused: Array<[string, Sent, string]> = [
  ['error_blocked without error_id', error({ solution: 'retry' }), blocked('data/error_id: Expected required property')],
  ['error_blocked without solution', error({ error_id: 'e1' }), blocked('data/solution: Expected required property')],
  ['error_blocked with a numeric error_id', error({ error_id: 7, solution: 'retry' }), blocked('data/error_id: Expected string')],
  ['error_blocked with a timestamp that is not ISO', error({ error_id: 'e1', solution: 'retry', timestamp: 'yesterday' }), blocked(`data/timestamp: Expected string to match ${ISO_PATTERN}`)],
  ['error_blocked with a numeric timestamp', error({ error_id: 'e1', solution: 'retry', timestamp: 1732113000 }), blocked('data/timestamp: Expected string')],
  ['error_blocked with a string as data', error('e1'), blocked('data: Expected object')],
  ['pool_resized with a fractional old_size', pool({ old_size: 20.5, new_size: 30, reason: 'r' }), resized('data/old_size: Expected integer')],
  ['pool_resized with a string new_size', pool({ old_size: 20, new_size: '30', reason: 'r' }), resized('data/new_size: Expected integer')],
  ['pool_resized without reason', pool({ old_size: 20, new_size: 30 }), resized('data/reason: Expected required property')],
  ['pool_resized with a numeric reason', pool({ old_size: 20, new_size: 30, reason: 1 }), resized('data/reason: Expected string')],
  ['pool_resized with a numeric utilization', pool({ old_size: 20, new_size: 30, reason: 'r', utilization: 85 }), resized('data/utilization: Expected string')],
  ['search_progress without query_id', search({ progress: 10, status: 'searching' }), progressed('data/query_id: Expected required property')],
  ['search_progress with a string progress', search({ query_id: 'q1', progress: '50', status: 'searching' }), progressed('data/progress: Expected number')],
  ['search_progress with a negative progress', search({ query_id: 'q1', progress: -1, status: 'searching' }), progressed('data/progress: Expected number to be greater or equal to 0')],
  ['search_progress with an unknown status', search({ query_id: 'q1', progress: 10, status: 'paused' }), progressed("data/status: Expected string to match '^(searching|completed)$'")],
  ['search_progress without status', search({ query_id: 'q1', progress: 10 }), progressed('data/status: Expected required property')]
]

test('what the table forbids gets a 400 naming the field, and app.notify rejects alike', async (t) => {
  const { app, http, ws } = await listenDemo(t)
  const subscriber = new RawSubscriber(ws)
  t.teardown(() => subscriber.ws.terminate())
  await subscriber.frame(0)
  for (const channel of ['error_firewall', 'db_pool_stats', 'vector_search']) await subscriber.subscribe(channel)
  const before = subscriber.texts.length

  const notify = app.notify as (channel: string, type: string, data: unknown) => Promise<number>
  for (const [name, sent, message] of refused) {
    t.same(await postJson(`${http}/notify`, sent), {
      status: 400,
      body: { statusCode: 400, code: 'FST_WS_NOTIFY_INVALID_PAYLOAD', error: 'Bad Request', message }
    }, `${name}: 400`)
    await t.rejects(notify(sent.channel, sent.type, sent.data), { code: 'FST_WS_NOTIFY_INVALID_PAYLOAD', message }, `${name}: app.notify rejects`)
  }
  // Nothing refused reached the subscriber: the next frame is the pong of this ping.
  subscriber.ws.send(JSON.stringify({ action: 'ping' }))
  t.match(JSON.parse(await subscriber.frame(before)), { type: 'pong' }, 'no refused notification was delivered')
})

/**
 * Compile-time half (checked by `npm run typecheck`, never called): with the demo's declarations,
 * the replaced service's payloads type-check and what the table forbids does not.
 */
export async function typedLikeTheReplacedService (notify: TypedNotify<ChannelEvents<typeof channels>>): Promise<void> {
  await notify('error_firewall', 'error_blocked', { error_id: 'e1', solution: 'retry' })
  await notify('error_firewall', 'error_blocked', { error_id: 'e1', solution: 'retry', timestamp: '2025-11-20T14:30:00' })
  await notify('db_pool_stats', 'pool_resized', { old_size: 20, new_size: 30, reason: 'load', utilization: '85%' })
  await notify('vector_search', 'search_progress', { query_id: 'q1', progress: 42.5, status: 'completed' })
  await notify('system_alerts', 'anything', { at: 'all' }) // no fixed payload
  // @ts-expect-error solution is required
  await notify('error_firewall', 'error_blocked', { error_id: 'e1' })
  // @ts-expect-error progress is a number
  await notify('vector_search', 'search_progress', { query_id: 'q1', progress: '50', status: 'searching' })
  // @ts-expect-error status is "searching" or "completed"
  await notify('vector_search', 'search_progress', { query_id: 'q1', progress: 50, status: 'paused' })
  // @ts-expect-error reason is required
  await notify('db_pool_stats', 'pool_resized', { old_size: 20, new_size: 30 })
}
