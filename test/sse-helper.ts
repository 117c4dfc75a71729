// A real SSE reader for tests: one HTTP GET on 127.0.0.1, its events parsed as a browser's
// EventSource parses them (lib/client/event-source.ts's parser), every event and comment recorded.
import http from 'node:http'
import type { Test } from 'tap'
import { EventStreamParser } from '../lib/client/event-source'
import type { Frame } from './helper'

export interface SseEvent {
  readonly event: string
  /** The `id:` line of this event, if it had one. */
  readonly id: string | undefined
  readonly data: Frame
}

export class SseReader {
  readonly events: SseEvent[] = []
  readonly comments: string[] = []
  request!: http.ClientRequest
  /** Resolves with the status and body of the response head (the body only when not a stream). */
  readonly response: Promise<{ status: number, headers: http.IncomingHttpHeaders, body: Frame | null }>
  /** Resolves once the stream ended or failed. */
  readonly ended: Promise<void>
  #waiters: Array<() => void> = []

  constructor (url: string, headers: Record<string, string> = {}) {
    let ended = (): void => {}
    this.ended = new Promise((resolve) => { ended = resolve })
    this.response = new Promise((resolve, reject) => {
      this.request = http.get(url, { headers: { accept: 'text/event-stream', ...headers } }, (res) => {
        res.setEncoding('utf8')
        res.on('close', ended)
        if (res.statusCode !== 200) {
          let body = ''
          res.on('data', (chunk: string) => { body += chunk })
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: body === '' ? null : JSON.parse(body) }))
          return
        }
        resolve({ status: 200, headers: res.headers, body: null })
        const parser = new EventStreamParser((event) => {
          this.events.push({ event: event.type, id: event.id, data: JSON.parse(event.data) })
          this.#wake()
        }, (text) => {
          this.comments.push(text)
          this.#wake()
        })
        res.on('data', (chunk: string) => parser.push(chunk))
      })
      this.request.on('error', (err) => { ended(); reject(err) })
    })
    this.response.catch(() => {})
  }

  #wake (): void {
    const waiters = this.#waiters
    this.#waiters = []
    for (const wake of waiters) wake()
  }

  /** Resolves once `check` holds over what arrived (fails after 5 s). */
  async until (check: (reader: SseReader) => boolean, what: string, timeout = 5000): Promise<void> {
    const deadline = Date.now() + timeout
    while (!check(this)) {
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.events)}`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        this.#waiters.push(() => { clearTimeout(timer); resolve() })
      })
    }
  }

  /** Resolves once `count` events in total have arrived. */
  async waitFor (count: number): Promise<SseEvent[]> {
    await this.until((reader) => reader.events.length >= count, `${count} events`)
    return this.events
  }

  close (): void {
    this.request.destroy()
  }
}

/** Opens a stream and waits for its response head; closed in teardown. */
export async function openSse (t: Test, url: string, headers?: Record<string, string>): Promise<SseReader> {
  const reader = new SseReader(url, headers)
  t.teardown(() => reader.close())
  await reader.response
  return reader
}
