// Subscriptions and fan-out of one registration: which sockets are open, which client ids and
// channels they belong to, and the loop that writes one encoded message to each of them. Every
// delivery is counted here.
import type { Duplex } from 'node:stream'
import type { MessagePeer, PeerSocket } from './peer'
import { Sender, directSocketOf, encodeMessage, queuedBytes, type EncodedMessage, type Run, type Writable } from './sender'
import { Counters, snapshot, type StatsSnapshot } from './stats'
import { CloseCode } from './protocol'
import { Conflation } from './conflation'
import type { ChannelDeclarations } from './config-types'
import { tcpDescriptorOf, type NativeWriter } from './native-writes'

/** One open socket (a WebSocket, or an SSE stream: see peer.ts) and what it is subscribed to. */
export class Connection<S extends PeerSocket = PeerSocket> implements Writable {
  readonly ws: S
  readonly clientId: string
  readonly direct: Duplex | null
  readonly fd: number
  /** The SSE stream when the peer is one (it frames messages itself); null on a WebSocket. */
  readonly stream: MessagePeer | null
  readonly channels = new Set<string>()
  queued: Buffer | Run | null = null
  /** Date.now() of the last frame or pong from the peer. */
  lastSeenAt = Date.now()
  /** A ping is out and no pong has come back yet. */
  awaitingPong = false

  constructor (ws: S, clientId: string, stream: MessagePeer | null = null) {
    this.ws = ws
    this.clientId = clientId
    this.stream = stream
    this.direct = stream === null ? directSocketOf(ws) : null
    this.fd = this.direct === null ? -1 : tcpDescriptorOf(this.direct)
  }
}

export interface HubOptions {
  readonly maxBufferedBytes: number
  readonly slowConsumer: 'close' | 'drop'
  /** How long a close handshake may take before the socket is terminated. */
  readonly closeTimeout: number
  /** Channels declared `delivery: 'latest'` are conflated (conflation.ts); absent: none is. */
  readonly channels?: ChannelDeclarations
  /** Milliseconds a direct socket's frames may wait to be written together (sender.ts); 0 or absent: a tick. */
  readonly flushInterval?: number
  /** The native fan-out (native-writes.ts), or null/absent: every socket is written through its stream. */
  readonly native?: NativeWriter | null
}

/**
 * Told once per fan-out: the channel (null for a direct message), the message's size in bytes
 * and how long the loop over its subscribers took, in milliseconds.
 */
export type FanoutObserver = (channel: string | null, bytes: number, milliseconds: number) => void

/** Told when a socket joins or leaves a channel (presence.ts); never on the fan-out path. */
export interface MembershipObserver {
  joined (connection: Connection, channel: string): void
  left (connection: Connection, channel: string): void
}

function terminate (ws: PeerSocket): void {
  ws.terminate()
}

export class Hub {
  readonly connections = new Set<Connection>()
  /** channel -> its subscribers; a channel is here only while it has at least one. */
  readonly subscribers = new Map<string, Set<Connection>>()
  /** client id -> its open sockets. */
  readonly clients = new Map<string, Set<Connection>>()
  readonly counters = new Counters()
  /** Open SSE streams among `connections` (stats split them by transport). */
  sseConnections = 0
  readonly #sender: Sender
  readonly #options: HubOptions
  /** null when no channel is 'latest': a fan-out then pays one check for it. */
  readonly conflation: Conflation | null
  constructor (options: HubOptions) {
    this.#options = options
    this.#sender = new Sender(options.flushInterval ?? 0, options.native ?? null)
    this.conflation = options.channels === undefined ? null : Conflation.of(options.channels, this.counters, this.#released)
  }

  // A message conflation held, written once its socket drained: sent, and counted so.
  readonly #released = (connection: Writable, message: EncodedMessage): void => {
    if (!this.connections.has(connection as Connection) || !this.#sender.write(connection, message)) return
    this.counters.messagesSent++
    this.counters.bytesSent += message.bytes.length
  }

  add (connection: Connection): void {
    this.connections.add(connection)
    this.counters.connectionsEver++
    if (connection.stream !== null) this.sseConnections++
    const sockets = this.clients.get(connection.clientId)
    if (sockets === undefined) this.clients.set(connection.clientId, new Set([connection]))
    else sockets.add(connection)
  }

  /** Takes a socket out of every map. Idempotent: close, error and slow-consumer paths all call it. */
  remove (connection: Connection): void {
    if (!this.connections.delete(connection)) return
    if (connection.stream !== null) this.sseConnections--
    for (const channel of connection.channels) this.#leave(connection, channel)
    connection.channels.clear()
    const sockets = this.clients.get(connection.clientId)
    if (sockets !== undefined) {
      sockets.delete(connection)
      if (sockets.size === 0) this.clients.delete(connection.clientId)
    }
  }

  subscribe (connection: Connection, channel: string): void {
    if (!this.connections.has(connection) || connection.channels.has(channel)) return
    connection.channels.add(channel)
    const set = this.subscribers.get(channel)
    if (set === undefined) this.subscribers.set(channel, new Set([connection]))
    else set.add(connection)
    this.membership?.joined(connection, channel)
  }

  /** Set when some channel has presence; null costs one check per subscribe and leave. */
  membership: MembershipObserver | null = null

  /**
   * Writes `reply`, then each replayed JSON envelope, then joins the channel: one synchronous
   * step, so no notification can slip between the replay and live delivery (see history.ts).
   * Reply and replay are one answer, bounded as one (see #admit): written whole or, past the
   * bound, not at all and the channel not joined (a replay cut short would be a silent gap).
   */
  subscribeWithReplay (connection: Connection, channel: string, reply: EncodedMessage, replay: readonly string[]): void {
    if (this.replyWithReplay(connection, reply, replay)) this.subscribe(connection, channel)
  }

  /**
   * Writes `reply`, then each replayed JSON envelope (a resume, an inbox), bounded as one answer:
   * false when it was over the slow-consumer bound and nothing was written.
   */
  replyWithReplay (connection: Connection, reply: EncodedMessage, replay: readonly string[]): boolean {
    if (!this.connections.has(connection) || !this.#admit(connection, true, 1 + replay.length)) return false
    this.#sender.answer(connection, reply)
    for (const json of replay) {
      const message = encodeMessage(json)
      if (!this.#sender.write(connection, message)) break
      this.counters.messagesSent++
      this.counters.bytesSent += message.bytes.length
    }
    return true
  }

  unsubscribe (connection: Connection, channel: string): void {
    if (connection.channels.delete(channel)) this.#leave(connection, channel)
  }

  #leave (connection: Connection, channel: string): void {
    const set = this.subscribers.get(channel)
    if (set === undefined) return
    set.delete(connection)
    if (set.size === 0) this.subscribers.delete(channel)
    this.membership?.left(connection, channel)
  }

  /** Fan-out of one notification to the channel's subscribers on this instance. */
  deliverToChannel (channel: string, message: EncodedMessage): number {
    const set = this.subscribers.get(channel)
    if (this.observer !== null) return this.#observed(channel, set, message)
    if (set === undefined) return 0
    return this.conflation === null ? this.#deliver(set, message) : this.#deliverOn(channel, set, message)
  }

  /** A direct message to every socket of one client id on this instance. */
  deliverToClient (clientId: string, message: EncodedMessage): number {
    const set = this.clients.get(clientId)
    if (this.observer !== null) return this.#observed(null, set, message)
    return set === undefined ? 0 : this.#deliver(set, message)
  }

  /** A broadcast: every open socket on this instance, whatever it subscribed to. */
  deliverToAll (message: EncodedMessage): number {
    if (this.observer !== null) return this.#observed(null, this.connections, message)
    return this.#deliver(this.connections, message)
  }

  /**
   * Count messages held in channel history and inboxes for stats: the adapter's stores, set once
   * the adapter exists (it is built after the hub, whose delivery its context wraps).
   */
  history: { size (): number } | null = null
  /** See `history`; null without `inbox`. */
  inbox: { size (): number } | null = null

  /** Set by metrics.ts; null (metrics off) costs one check per fan-out. */
  observer: FanoutObserver | null = null

  // Instrumented fan-out: timed once around the loop, never per subscriber.
  #observed (channel: string | null, set: Set<Connection> | undefined, message: EncodedMessage): number {
    const start = performance.now()
    const written = set === undefined ? 0 : channel === null || this.conflation === null ? this.#deliver(set, message) : this.#deliverOn(channel, set, message)
    ;(this.observer as FanoutObserver)(channel, message.bytes.length, performance.now() - start)
    return written
  }

  /**
   * Hands the frames this tick queued for a socket to it now, rather than at the end of the tick:
   * call it before closing a socket, so that they precede the close frame.
   */
  flush (connection: Connection): void {
    this.#sender.flush(connection)
  }

  /**
   * A reply to the peer's own frame (connected, subscribed, unsubscribed, pong, error): bounded
   * like a fan-out (see #admit), not counted as a message; past the bound it is not written.
   */
  reply (connection: Connection, message: EncodedMessage): void {
    if (this.#admit(connection, true, 1)) this.#sender.answer(connection, message)
  }

  // The fan-out loop. Hot path: no closures, no allocation per subscriber.
  #deliver (targets: Set<Connection>, message: EncodedMessage): number {
    let written = 0
    for (const connection of targets) {
      if (!this.#admit(connection, false, 1)) continue
      if (this.#sender.write(connection, message)) written++
      else this.counters.messagesDropped++
    }
    this.counters.messagesSent += written
    this.counters.bytesSent += written * message.bytes.length
    return written
  }

  // A channel's fan-out when some channel is 'latest': those conflate, the others are plain.
  #deliverOn (channel: string, targets: Set<Connection>, message: EncodedMessage): number {
    const conflation = this.conflation as Conflation
    const conflateBy = conflation.policyOf(channel)
    if (conflateBy === undefined) return this.#deliver(targets, message)
    let written = 0
    for (const connection of targets) {
      // Held for a socket that is behind: written when it drains, never a slow consumer for it.
      if (conflation.hold(connection, channel, conflateBy, message)) continue
      if (!this.#admit(connection, false, 1)) continue
      if (this.#sender.write(connection, message)) written++
      else this.counters.messagesDropped++
    }
    this.counters.messagesSent += written
    this.counters.bytesSent += written * message.bytes.length
    return written
  }

  /** Writes what a write window (flushInterval) still holds, to every socket: at close. */
  flushAll (): void {
    this.#sender.flushAll()
  }

  /**
   * The one bound on what is queued for a socket, checked before every write to it (fan-out,
   * reply, replay): true when the write may go ahead; otherwise the slowConsumer policy is applied
   * to the socket and `frames` are counted as dropped.
   *
   * What counts is what the peer has not read: the socket's queue from earlier ticks (a direct
   * socket's queue is all of it: ws's own sender queues only for deflate). For a fan-out, this
   * tick's frames, waiting on the connection (sender.ts), do not count: a burst is the
   * application's own, not a backlog the peer failed to read. For an `answer` to the peer's own
   * frames they do: a peer that sends a hundred resumes in one TCP segment, all answered in one
   * tick, must meet the bound within that tick. Each write is admitted while the bound is not
   * passed and then written whole, so the queue may end one write (or one reply with its replay)
   * past maxBufferedBytes, never more (docs/delivery.md).
   */
  #admit (connection: Connection, answer: boolean, frames: number): boolean {
    const direct = connection.direct
    let unread = direct !== null ? direct.writableLength : connection.ws.bufferedAmount
    if (answer) unread += queuedBytes(connection)
    if (unread <= this.#options.maxBufferedBytes) return true
    this.#slowConsumer(connection, frames)
    return false
  }

  // A socket whose peer reads slower than we write: bounded, never buffered without limit.
  #slowConsumer (connection: Connection, frames: number): void {
    this.counters.messagesDropped += frames
    // Once closed for it, a socket is out of the hub: a reply still being answered is not counted twice.
    if (this.#options.slowConsumer === 'drop' || !this.connections.has(connection)) return
    this.counters.slowConsumersClosed++
    this.remove(connection)
    this.close(connection, CloseCode.TRY_AGAIN_LATER, 'slow consumer')
  }

  /**
   * Removes each of `connections` (a set the hub holds: copied first, as removal changes it) and
   * closes it with `code`; returns how many. For `disconnect(clientId)` and a channel's eviction.
   */
  removeAndClose (connections: ReadonlySet<Connection> | undefined, code: number, reason: string): number {
    if (connections === undefined) return 0
    const list = [...connections]
    for (const connection of list) {
      this.remove(connection)
      this.close(connection, code, reason)
    }
    return list.length
  }

  /**
   * Starts a close handshake and terminates the socket if it is not closed within closeTimeout:
   * a peer that never answers (or, like a slow consumer, has our close frame queued behind
   * data it does not read) cannot hold the socket open.
   */
  close (connection: Connection, code: number, reason: string): void {
    const ws = connection.ws
    // What this tick wrote to the socket goes before the close frame (disconnect after notify).
    this.flush(connection)
    ws.close(code, reason)
    const timer = setTimeout(terminate, this.#options.closeTimeout, ws)
    timer.unref()
    ws.once('close', () => clearTimeout(timer))
  }

  stats (): StatsSnapshot {
    return snapshot(this.counters, this.connections.size, this.subscribers, this.history?.size() ?? 0, this.sseConnections, this.inbox?.size() ?? 0)
  }
}
