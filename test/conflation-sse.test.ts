// Conflation on a stalled Server-Sent Events reader (issue 15): an SSE stream goes through the
// hub's send path as a WebSocket does, and its HTTP response's `drain` is its backpressure
// signal. A stream that stops reading on a `delivery: 'latest'` channel is held the newest update
// per key, not queued every one and not closed as a slow consumer; what the hub holds for it is
// one entry per key however many updates go out, and it gets those once it reads again.
import { test } from 'tap'
import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import { EventStreamParser } from '../lib/client/event-source'
import type { Conflatable } from '../lib/core/conflation'
import { build } from './helper'
import { watchHeld } from './conflation-helper'

const KEYS = ['q1', 'q2', 'q3']
/** Big enough that the loopback buffers of the stalled reader fill within a few hundred rounds. */
const PAD = 'x'.repeat(8 * 1024)
/** A bound on the rounds it takes to fill them: past it, the reader never fell behind. */
const MAX_ROUNDS = 3000
/** Rounds of one update per key once the reader is behind: thousands of updates. */
const ROUNDS_BEHIND = 1000

interface Update { query_id: string, seq: number }

/**
 * A real SSE reader (one HTTP GET) that keeps each update's key and seq, not its payload, and can
 * stop reading: a paused response stops reading its TCP socket, so the server's writes back up.
 */
class UpdateReader {
  readonly updates: Update[] = []
  readonly other: Array<Record<string, unknown>> = []
  request!: http.ClientRequest
  readonly response: Promise<IncomingMessage>
  #waiters: Array<{ count: number, resolve: () => void }> = []

  constructor (url: string) {
    this.response = new Promise((resolve, reject) => {
      this.request = http.get(url, { headers: { accept: 'text/event-stream' } }, (res) => {
        res.setEncoding('utf8')
        const parser = new EventStreamParser((event) => {
          const frame = JSON.parse(event.data) as { type: string, data?: Update }
          if (frame.type !== 'progress') {
            this.other.push(frame)
            return
          }
          const { query_id: key, seq } = frame.data as Update
          this.updates.push({ query_id: key, seq })
          this.#waiters = this.#waiters.filter((waiter) => {
            if (this.updates.length < waiter.count) return true
            waiter.resolve()
            return false
          })
        })
        res.on('data', (chunk: string) => parser.push(chunk))
        resolve(res)
      })
      this.request.on('error', reject)
    })
    this.response.catch(() => {})
  }

  /** Resolves once `count` updates in total arrived (fails after 15 s). */
  async waitFor (count: number): Promise<void> {
    if (this.updates.length >= count) return
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${count} updates; got ${this.updates.length}`)), 15_000)
      this.#waiters.push({ count, resolve: () => { clearTimeout(timer); resolve() } })
    })
  }

  last (key: string): number | undefined {
    return this.updates.filter((update) => update.query_id === key).at(-1)?.seq
  }

  close (): void {
    this.request.destroy()
  }
}

/** The server's side of a reader's stream, among the connections conflation saw. */
function serverSideOf (connections: Iterable<Conflatable>, reader: UpdateReader): Conflatable & { stream: { output: ServerResponse } } {
  const port = reader.request.socket?.localPort
  for (const connection of connections) {
    const output = connection.stream?.output as ServerResponse | undefined
    if (output?.socket?.remotePort === port) return connection as Conflatable & { stream: { output: ServerResponse } }
  }
  throw new Error('conflation never saw the stalled stream')
}

test('an SSE stream that stops reading on a latest channel is held one update per key, not closed; it gets the newest of each once it reads', async (t) => {
  const held = watchHeld(t)
  const { app, http: base } = await build(t, {
    sse: true,
    channels: { search_progress: { delivery: 'latest', conflateBy: 'query_id' } },
    heartbeatInterval: 0,
    closeTimeout: 25_000
  })
  const url = `${base}/ws/sse?channel=search_progress`
  const stalled = new UpdateReader(url)
  const healthy = new UpdateReader(url)
  t.teardown(() => { stalled.close(); healthy.close() })
  const stalledResponse = await stalled.response
  await healthy.response
  stalledResponse.pause()

  let seq = 0
  const round = async (): Promise<void> => {
    // One update per key, then the healthy stream catches up: only the stalled one is ever behind.
    for (const key of KEYS) await app.notify('search_progress', 'progress', { query_id: key, seq: seq++, pad: PAD })
    await healthy.waitFor(seq)
  }
  let rounds = 0
  while (app.notifications.stats().messages_conflated === 0 && rounds < MAX_ROUNDS) {
    await round()
    rounds++
  }
  t.ok(app.notifications.stats().messages_conflated > 0, `the stalled stream fell behind after ${rounds} rounds`)
  for (let i = 0; i < ROUNDS_BEHIND; i++) await round()
  const lastOf = (key: string): number => seq - KEYS.length + KEYS.indexOf(key)

  const stats = app.notifications.stats()
  t.equal(stats.slow_consumers_closed, 0, 'it was not closed as a slow consumer')
  t.equal(stats.messages_dropped, 0, 'nothing was dropped')
  t.equal(stats.sse_clients, 2, 'it is still connected')
  t.ok(stats.messages_conflated >= (ROUNDS_BEHIND - 1) * KEYS.length, `${stats.messages_conflated} updates were replaced while it was behind`)
  const side = serverSideOf(held.peak.keys(), stalled)
  t.equal(held.now(side), KEYS.length, 'the hub holds one update per key for it now')
  t.equal(stats.total_messages_sent - seq + stats.messages_conflated + held.now(side), seq,
    'each update was written to it, replaced (messages_conflated) or is held: none is lost or counted twice')
  t.ok((held.peak.get(side) ?? 0) <= KEYS.length, `and never held more than one per key (at most ${held.peak.get(side) ?? 0})`)
  t.ok(side.stream.output.writableLength < 256 * 1024,
    `its response's queue stayed bounded (${side.stream.output.writableLength} bytes), not ${ROUNDS_BEHIND * KEYS.length} updates`)
  t.same(healthy.updates.map((update) => update.seq), [...Array(seq).keys()], 'the healthy stream got every update, in order')

  stalledResponse.resume()
  for (const key of KEYS) await waitForLast(stalled, key, lastOf(key))
  for (const key of KEYS) {
    const seqs = stalled.updates.filter((update) => update.query_id === key).map((update) => update.seq)
    t.ok(seqs.every((value, i) => i === 0 || value > seqs[i - 1]), `its ${key} updates arrived in order`)
    t.equal(seqs.at(-1), lastOf(key), `ending with the newest ${key}`)
  }
  t.equal(stalled.updates.length, seq - stats.messages_conflated, 'it got every update but the replaced ones: messages_conflated counts them')
  t.equal(held.now(side), 0, 'nothing is held once it read')
  const after = app.notifications.stats()
  t.equal(after.messages_conflated, stats.messages_conflated, 'nothing more was conflated')
  t.equal(after.total_messages_sent, seq * 2 - after.messages_conflated, 'sent counts every update written, the held ones once released')
  t.same(stalled.other.map((frame) => frame.type), ['connected', 'subscribed'], 'no close event')

  // It reads again: the next updates reach it directly.
  const before = stalled.updates.length
  await round()
  await stalled.waitFor(before + KEYS.length)
  t.same(stalled.updates.slice(-KEYS.length).map((update) => update.seq), KEYS.map((key) => lastOf(key)), 'the next round, whole')
  t.equal(app.notifications.stats().messages_conflated, stats.messages_conflated, 'a stream that keeps up is not conflated')
})

/** Resolves once `reader`'s newest update of `key` is `seq`. */
async function waitForLast (reader: UpdateReader, key: string, seq: number): Promise<void> {
  while (reader.last(key) !== seq) await reader.waitFor(reader.updates.length + 1)
}
