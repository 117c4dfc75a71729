// One Server-Sent Events stream as a hub peer: it quacks like the part of a WebSocket the hub,
// the heartbeat and shutdown use (peer.ts), over an HTTP response. Each message is one SSE event:
// `event:` its type, `id:` its history position on history channels, `data:` the same JSON
// envelope a WebSocket gets. A message's SSE framing is built once per fan-out, by the first
// stream that writes it, and shared by every stream after it (SseEvents below).
import { EventEmitter } from 'node:events'
import type { ServerResponse } from 'node:http'
import { Connection } from '../core/hub'
import type { HistoryStore } from '../core/history'
import { PeerState, type MessagePeer, type PeerSocket } from '../core/peer'
import type { EncodedMessage } from '../core/sender'
import type { Identity } from '../../types/index'

/** The comment written on each heartbeat: proves the stream alive to the reader (and any proxy). */
const PING = Buffer.from(': ping\n\n')

/** A tick's events up to this many bytes go out as one chunk. */
const JOIN_BELOW = 8 * 1024

/** One message's SSE framing, shared by every stream it goes to. */
class SseEvent {
  readonly type: string
  readonly channel: string | null
  /** `epoch:offset` on a history channel, else null. */
  readonly position: string | null
  /** `data: <json>\n\n`. */
  readonly data: Buffer
  #named: Buffer | null = null
  #namedWithId: Buffer | null = null
  #plainWithId: Buffer | null = null

  constructor (type: string, channel: string | null, position: string | null, data: Buffer) {
    this.type = type
    this.channel = channel
    this.position = position
    this.data = data
  }

  /** The event's head: its `event:` line unless every event is sent as `message`, and its `id:`. */
  head (named: boolean, id: string | null): string {
    return (named ? `event: ${this.type}\n` : '') + (id === null ? '' : `id: ${id}\n`)
  }

  /** The whole event; `id` is the event's own position (shared) or a stream's own id (not). */
  frame (named: boolean, id: string | null): Buffer {
    if (id === null) {
      if (!named) return this.data
      return (this.#named ??= Buffer.concat([Buffer.from(this.head(true, null)), this.data]))
    }
    if (id === this.position) {
      if (named) return (this.#namedWithId ??= Buffer.concat([Buffer.from(this.head(true, id)), this.data]))
      return (this.#plainWithId ??= Buffer.concat([Buffer.from(this.head(false, id)), this.data]))
    }
    return Buffer.concat([Buffer.from(this.head(named, id)), this.data])
  }
}

/**
 * The SSE framing of messages, per registration: read from the JSON envelope once per message and
 * kept as long as the message is (a WeakMap: nothing to clean up).
 */
export class SseEvents {
  readonly #cache = new WeakMap<EncodedMessage, SseEvent>()
  readonly #history: HistoryStore

  constructor (history: HistoryStore) {
    this.#history = history
  }

  of (message: EncodedMessage): SseEvent {
    let event = this.#cache.get(message)
    if (event === undefined) {
      event = this.#read(message)
      this.#cache.set(message, event)
    }
    return event
  }

  #read (message: EncodedMessage): SseEvent {
    const json = message.bytes.toString('utf8')
    // Our own envelope: only the three fields the framing needs are read.
    const { type, channel, offset, epoch } = JSON.parse(json) as { type?: unknown, channel?: unknown, offset?: unknown, epoch?: unknown }
    // An event name cannot hold a line break (it would end the line): such a type is sent as `message`.
    const name = typeof type === 'string' && type !== '' && !/[\r\n]/.test(type) ? type : 'message'
    const channelName = typeof channel === 'string' ? channel : null
    let position: string | null = null
    if (channelName !== null && typeof offset === 'number') {
      // A `subscribed` reply names its epoch; a notification's is its channel's now.
      const of = typeof epoch === 'string' ? epoch : this.#history.position(channelName)?.epoch
      if (of !== undefined) position = `${of}:${offset}`
    }
    // JSON.stringify never writes a raw line break, so the envelope is one `data:` line.
    return new SseEvent(name, channelName, position, Buffer.from(`data: ${json}\n\n`))
  }
}

export interface SseStreamOptions {
  /** false: every event is sent as the default `message` event (`events=message`). */
  readonly named: boolean
  /** The heartbeat as a `ping` event rather than a comment (`heartbeat=event`). */
  readonly pingEvent: boolean
  /** History channels the stream holds: more than one makes the composite id. */
  readonly historyChannels: number
}

/**
 * An SSE stream over one HTTP response. `id:` of an event on a history channel is what the reader
 * sends back as Last-Event-ID to resume: `epoch:offset` while the stream holds one history channel,
 * `channel=epoch:offset&...` (URL-encoded, every history channel's latest) when it holds several.
 */
export class SseStream extends EventEmitter implements PeerSocket, MessagePeer {
  readonly OPEN = PeerState.OPEN
  readonly CLOSED = PeerState.CLOSED
  readyState: number = PeerState.OPEN
  /** Told of each heartbeat written: an SSE reader never answers, so a written ping is liveness. */
  owner: { lastSeenAt: number, awaitingPong: boolean } | null = null
  /**
   * The code and reason the server ended the stream with (close()); a stream the reader left has
   * no close handshake, so it keeps 1006, what ws reports for a socket lost without a close frame.
   */
  closeCode = 1006
  closeReason = ''
  readonly #response: ServerResponse
  readonly #events: SseEvents
  /** false: every event is sent as the default `message` event (`events=message`). */
  readonly #named: boolean
  /** The heartbeat as an event a browser's EventSource can see (`heartbeat=event`), not a comment. */
  readonly #pingEvent: boolean
  /** Positions by history channel, for the composite id; null with one history channel or none. */
  readonly #positions: Map<string, string> | null

  constructor (response: ServerResponse, events: SseEvents, options: SseStreamOptions) {
    super()
    this.#response = response
    this.#events = events
    this.#named = options.named
    this.#pingEvent = options.pingEvent
    this.#positions = options.historyChannels > 1 ? new Map() : null
    response.on('close', () => {
      this.readyState = PeerState.CLOSED
      this.emit('close')
    })
    // A write to a peer that went away: the close event follows and cleans up.
    response.on('error', () => {})
  }

  /**
   * The events of this tick, handed to the response at its end as one chunk (one write, however
   * many events): the application's own burst, which, as on a WebSocket (sender.ts), is not
   * counted as a backlog the reader failed to read (see hub.ts, #admit).
   */
  #pending: Array<Buffer | string> = []
  readonly #flush = (): void => {
    const pending = this.#pending
    if (pending.length === 0) return
    this.#pending = []
    if (this.#response.destroyed) return
    if (pending.length === 1) {
      this.#response.write(pending[0])
      return
    }
    // Small events are joined into one chunk (fewer writes); large ones are not worth the copy.
    let bytes = 0
    for (const chunk of pending) bytes += chunk.length
    if (bytes <= JOIN_BELOW) {
      this.#response.write(Buffer.concat(pending.map((chunk) => typeof chunk === 'string' ? Buffer.from(chunk) : chunk)))
      return
    }
    for (const chunk of pending) this.#response.write(chunk)
  }

  /** The response: its backpressure is the stream's (conflation.ts). */
  get output (): ServerResponse {
    return this.#response
  }

  /** What the reader has not read (this tick's events left out, as on a WebSocket). */
  get bufferedAmount (): number {
    return this.#response.writableLength
  }

  /**
   * Hands this tick's events to the response now. The route calls it after each channel's reply
   * and replay, so the next channel's is admitted against what those already hold (hub.ts,
   * #admit): a stream that asks to replay many channels at once meets the bound like a socket.
   */
  flush (): void {
    this.#flush()
  }

  #write (chunk: Buffer | string): void {
    if (this.#pending.push(chunk) === 1) process.nextTick(this.#flush)
  }

  write (message: EncodedMessage): void {
    if (this.readyState !== PeerState.OPEN) return
    const event = this.#events.of(message)
    let id = event.position
    if (id !== null && this.#positions !== null) {
      this.#positions.set(event.channel as string, id)
      id = new URLSearchParams([...this.#positions]).toString()
    }
    this.#write(event.frame(this.#named, id))
  }

  /** ws's send(): only reached by a caller that does not know this is a stream; sent as a message. */
  send (data: Buffer): void {
    if (this.readyState === PeerState.OPEN) this.#write(Buffer.concat([Buffer.from('data: '), data, Buffer.from('\n\n')]))
  }

  /**
   * Ends the stream after a last `close` event carrying the code and reason a WebSocket would get
   * in its close frame, so a reader can tell a kick (4000-4099: do not reconnect) from a restart.
   */
  close (code: number, reason: string): void {
    if (this.readyState !== PeerState.OPEN) return
    this.readyState = PeerState.CLOSING
    this.closeCode = code
    this.closeReason = reason
    const body = JSON.stringify({ type: 'close', code, reason, timestamp: new Date().toISOString() })
    // What this tick wrote goes before the close event (disconnect right after a notify).
    this.#flush()
    this.#response.end(`${this.#named ? 'event: close\n' : ''}data: ${body}\n\n`)
  }

  terminate (): void {
    this.readyState = PeerState.CLOSING
    this.#pending = []
    this.#response.destroy()
  }

  ping (): void {
    if (this.readyState !== PeerState.OPEN) return
    if (!this.#pingEvent) this.#write(PING)
    else this.#write(`${this.#named ? 'event: ping\n' : ''}data: {"type":"ping","timestamp":"${new Date().toISOString()}"}\n\n`)
    if (this.owner !== null) {
      this.owner.awaitingPong = false
      this.owner.lastSeenAt = Date.now()
    }
  }
}

/**
 * The hub's view of an SSE stream: a Connection whose socket is the stream. Its identity is read
 * by presence (presence.info) as a WebSocket session's is.
 */
export class SsePeer extends Connection<SseStream> {
  readonly identity: Identity
  constructor (stream: SseStream, clientId: string, identity: Identity) {
    super(stream, clientId, stream)
    this.identity = identity
    stream.owner = this
  }
}
