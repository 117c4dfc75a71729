// Subscriptions and fan-out of one registration: which sockets are open, which client ids and
// channels they belong to, and the loop that writes one encoded message to each of them. Every
// delivery is counted here.
import type { WebSocket } from 'ws'
import type { Duplex } from 'node:stream'
import { Sender, directSocketOf, type EncodedMessage, type Writable } from './sender'
import { Counters, snapshot, type StatsSnapshot } from './stats'
import { CloseCode } from './protocol'

/** One open socket and what it is subscribed to. */
export class Connection implements Writable {
  readonly ws: WebSocket
  readonly clientId: string
  readonly direct: Duplex | null
  readonly channels = new Set<string>()
  corked = false
  /** Date.now() of the last frame or pong from the peer. */
  lastSeenAt = Date.now()
  /** A ping is out and no pong has come back yet. */
  awaitingPong = false

  constructor (ws: WebSocket, clientId: string) {
    this.ws = ws
    this.clientId = clientId
    this.direct = directSocketOf(ws)
  }
}

export interface HubOptions {
  readonly maxBufferedBytes: number
  readonly slowConsumer: 'close' | 'drop'
  /** How long a close handshake may take before the socket is terminated. */
  readonly closeTimeout: number
}

function terminate (ws: WebSocket): void {
  ws.terminate()
}

export class Hub {
  readonly connections = new Set<Connection>()
  /** channel -> its subscribers; a channel is here only while it has at least one. */
  readonly subscribers = new Map<string, Set<Connection>>()
  /** client id -> its open sockets. */
  readonly clients = new Map<string, Set<Connection>>()
  readonly counters = new Counters()
  readonly #sender = new Sender()
  readonly #options: HubOptions

  constructor (options: HubOptions) {
    this.#options = options
  }

  add (connection: Connection): void {
    this.connections.add(connection)
    this.counters.connectionsEver++
    const sockets = this.clients.get(connection.clientId)
    if (sockets === undefined) this.clients.set(connection.clientId, new Set([connection]))
    else sockets.add(connection)
  }

  /** Takes a socket out of every map. Idempotent: close, error and slow-consumer paths all call it. */
  remove (connection: Connection): void {
    if (!this.connections.delete(connection)) return
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
  }

  unsubscribe (connection: Connection, channel: string): void {
    if (connection.channels.delete(channel)) this.#leave(connection, channel)
  }

  #leave (connection: Connection, channel: string): void {
    const set = this.subscribers.get(channel)
    if (set === undefined) return
    set.delete(connection)
    if (set.size === 0) this.subscribers.delete(channel)
  }

  /** Fan-out of one notification to the channel's subscribers on this instance. */
  deliverToChannel (channel: string, message: EncodedMessage): number {
    const set = this.subscribers.get(channel)
    return set === undefined ? 0 : this.#deliver(set, message)
  }

  /** A direct message to every socket of one client id on this instance. */
  deliverToClient (clientId: string, message: EncodedMessage): number {
    const set = this.clients.get(clientId)
    return set === undefined ? 0 : this.#deliver(set, message)
  }

  /** Control replies (subscribed, pong, error...): not counted as messages. */
  reply (connection: Connection, message: EncodedMessage): void {
    this.#sender.write(connection, message)
  }

  // The fan-out loop. Hot path: no closures, no allocation per subscriber.
  #deliver (targets: Set<Connection>, message: EncodedMessage): number {
    const limit = this.#options.maxBufferedBytes
    let written = 0
    for (const connection of targets) {
      if (connection.ws.bufferedAmount > limit) {
        this.#slowConsumer(connection)
        continue
      }
      if (this.#sender.write(connection, message)) written++
      else this.counters.messagesDropped++
    }
    this.counters.messagesSent += written
    this.counters.bytesSent += written * message.bytes.length
    return written
  }

  // A socket whose peer reads slower than we write: bounded, never buffered without limit.
  #slowConsumer (connection: Connection): void {
    this.counters.messagesDropped++
    if (this.#options.slowConsumer === 'drop') return
    this.counters.slowConsumersClosed++
    this.remove(connection)
    this.close(connection, CloseCode.TRY_AGAIN_LATER, 'slow consumer')
  }

  /**
   * Starts a close handshake and terminates the socket if it is not closed within closeTimeout:
   * a peer that never answers (or, like a slow consumer, has our close frame queued behind
   * data it does not read) cannot hold the socket open.
   */
  close (connection: Connection, code: number, reason: string): void {
    const ws = connection.ws
    ws.close(code, reason)
    const timer = setTimeout(terminate, this.#options.closeTimeout, ws)
    timer.unref()
    ws.once('close', () => clearTimeout(timer))
  }

  stats (): StatsSnapshot {
    return snapshot(this.counters, this.connections.size, this.subscribers)
  }
}
