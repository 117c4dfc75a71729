// A small EventSource for Node (the `listen --sse` CLI; Node has no global one): the part of the
// browser's API the client uses (open, message and error events, readyState, close), over
// http/https. It connects once: reconnecting, with Last-Event-ID resume, is the client's job
// (lib/client), so that backoff and resume work the same on both transports. The stream parser
// follows the HTML spec's event-stream interpretation (fields, comments, CR/LF/CRLF line ends).
import http from 'node:http'
import https from 'node:https'
import { EventEmitter } from 'node:events'

/** One dispatched event: its type (`message` unless named), data and the stream's last id. */
export interface StreamEvent {
  readonly type: string
  readonly data: string
  readonly lastEventId: string
  /** The `id:` of this event itself, when it had one. */
  readonly id: string | undefined
}

/** Reads an event stream chunk by chunk; calls back once per event and once per comment. */
export class EventStreamParser {
  #buffer = ''
  #type = ''
  #data: string[] = []
  #lastEventId = ''
  #id: string | undefined
  /** A chunk ended right after a CR: an LF starting the next chunk is the same line end. */
  #afterCr = false
  readonly #onEvent: (event: StreamEvent) => void
  readonly #onComment: (text: string) => void

  constructor (onEvent: (event: StreamEvent) => void, onComment: (text: string) => void = () => {}) {
    this.#onEvent = onEvent
    this.#onComment = onComment
  }

  get lastEventId (): string { return this.#lastEventId }

  push (chunk: string): void {
    if (this.#afterCr && chunk.startsWith('\n')) chunk = chunk.slice(1)
    this.#buffer += chunk
    let start = 0
    for (;;) {
      const match = /\r\n|\r|\n/g
      match.lastIndex = start
      const found = match.exec(this.#buffer)
      if (found === null) break
      this.#line(this.#buffer.slice(start, found.index))
      start = found.index + found[0].length
    }
    // A CR ending the chunk ended its line; an LF opening the next one is the rest of that CRLF.
    this.#afterCr = this.#buffer.endsWith('\r')
    this.#buffer = this.#buffer.slice(start)
  }

  #line (line: string): void {
    if (line === '') return this.#dispatch()
    if (line.startsWith(':')) return this.#onComment(line.slice(1).trimStart())
    const colon = line.indexOf(':')
    const field = colon === -1 ? line : line.slice(0, colon)
    let value = colon === -1 ? '' : line.slice(colon + 1)
    if (value.startsWith(' ')) value = value.slice(1)
    if (field === 'event') this.#type = value
    else if (field === 'data') this.#data.push(value)
    else if (field === 'id' && !value.includes('\0')) this.#lastEventId = this.#id = value
  }

  #dispatch (): void {
    const type = this.#type === '' ? 'message' : this.#type
    const id = this.#id
    this.#type = ''
    this.#id = undefined
    if (this.#data.length === 0) return
    const data = this.#data.join('\n')
    this.#data = []
    this.#onEvent({ type, data, lastEventId: this.#lastEventId, id })
  }
}

export interface EventSourceOptions {
  /** Sent as Last-Event-ID: where the server resumes the stream. */
  lastEventId?: string
  headers?: Record<string, string>
}

/** `new EventSource(url)` for Node: one connection, events as the browser's EventSource fires them. */
export class NodeEventSource extends EventEmitter {
  static readonly CONNECTING = 0
  static readonly OPEN = 1
  static readonly CLOSED = 2
  readyState = NodeEventSource.CONNECTING
  readonly url: string
  readonly #request: http.ClientRequest

  constructor (url: string, options: EventSourceOptions = {}) {
    super()
    this.url = url
    const target = new URL(url)
    const get = target.protocol === 'https:' ? https.get : http.get
    const headers: Record<string, string> = { accept: 'text/event-stream', 'cache-control': 'no-cache', ...options.headers }
    if (options.lastEventId !== undefined && options.lastEventId !== '') headers['last-event-id'] = options.lastEventId
    this.#request = get(target, { headers }, (response) => {
      const type = String(response.headers['content-type'] ?? '')
      if (response.statusCode !== 200 || !type.startsWith('text/event-stream')) {
        let body = ''
        response.setEncoding('utf8')
        response.on('data', (chunk: string) => { body += chunk })
        response.on('end', () => this.#fail(`Unexpected server response: ${response.statusCode ?? 0}`, response.statusCode, body))
        response.on('error', () => this.#fail('connection lost'))
        return
      }
      this.readyState = NodeEventSource.OPEN
      this.#fire('open', {})
      const parser = new EventStreamParser((event) => {
        if (this.readyState === NodeEventSource.OPEN) this.#fire(event.type, { data: event.data, lastEventId: event.lastEventId })
      }, (text) => this.emit('comment', text))
      response.setEncoding('utf8')
      response.on('data', (chunk: string) => parser.push(chunk))
      response.on('end', () => this.#fail('the stream ended'))
      response.on('error', () => this.#fail('connection lost'))
    })
    this.#request.on('error', (err) => this.#fail(err.message))
  }

  /** The browser's addEventListener, for the events this class fires. */
  addEventListener (type: string, listener: (event: { type: string }) => void): void {
    this.on(type, listener)
  }

  close (): void {
    this.readyState = NodeEventSource.CLOSED
    this.#request.destroy()
  }

  #fire (type: string, fields: object): void {
    this.emit(type, { type, ...fields })
  }

  // The browser's EventSource would retry; this one stops and lets the client decide.
  #fail (message: string, status?: number, body?: string): void {
    if (this.readyState === NodeEventSource.CLOSED) return
    this.readyState = NodeEventSource.CLOSED
    this.#request.destroy()
    this.#fire('error', { message, status, body })
  }
}
