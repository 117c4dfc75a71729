// Conflation on channels declared `delivery: 'latest'`: a subscriber that is behind (its socket's
// earlier frames are not yet taken by the kernel) is not queued more of such a channel's messages;
// the newest one per key (the `conflateBy` data field, or the channel itself) is held instead,
// replacing any held before it, and written once the socket drains. A held message is the
// fan-out's shared encoded buffer: holding costs a map entry, never a copy. Such a subscriber is
// never closed as a slow consumer for these messages. Offsets of skipped messages are skipped
// (history.ts still keeps them; a resume from the last offset the reader got still works).
import type { ChannelDeclarations } from './config-types'
import type { Drainable } from './peer'
import type { EncodedMessage, Writable } from './sender'

/** What conflation needs of a connection: its channels, and its drain signal. */
export interface Conflatable extends Writable {
  readonly channels: ReadonlySet<string>
}

/** A message held for a socket, and the channel it was published on. */
interface Held {
  readonly channel: string
  message: EncodedMessage
}

/** Writes a held message once its socket drained (the hub counts it as sent). */
export type ReleaseHeld = (connection: Conflatable, message: EncodedMessage) => void

/** The peer's drain signal: its TCP socket, or an SSE stream's response; null for ws's own sender. */
function drainableOf (connection: Conflatable): Drainable | null {
  return connection.direct ?? connection.stream?.output ?? null
}

export class Conflation {
  /** Declared names of the 'latest' channels -> their conflateBy. */
  readonly #conflateBy = new Map<string, string | null>()
  readonly #channels: ChannelDeclarations
  readonly #held = new WeakMap<Conflatable, Map<string, Held>>()
  readonly #release: ReleaseHeld
  readonly #counters: { messagesConflated: number }
  // The key of the last message read: one fan-out reads its message's key once.
  #keyedMessage: EncodedMessage | null = null
  #key = ''

  constructor (channels: ChannelDeclarations, counters: { messagesConflated: number }, release: ReleaseHeld) {
    for (const channel of channels.values()) if (channel.delivery === 'latest') this.#conflateBy.set(channel.name, channel.conflateBy)
    // The declarations resolve a namespace channel: the most specific declaration decides, as
    // for history (`user:admin:1` of an 'all' `user:admin:*` is not conflated under a latest `user:*`).
    this.#channels = channels
    this.#release = release
    this.#counters = counters
  }

  /** null when no channel is declared 'latest': the hub then pays one check per fan-out. */
  static of (channels: ChannelDeclarations, counters: { messagesConflated: number }, release: ReleaseHeld): Conflation | null {
    const conflation = new Conflation(channels, counters, release)
    return conflation.#conflateBy.size === 0 ? null : conflation
  }

  /** The conflateBy of a 'latest' channel (null: the channel is one key); undefined: not 'latest'. */
  policyOf (channel: string): string | null | undefined {
    const own = this.#conflateBy.get(channel)
    if (own !== undefined) return own
    const declared = this.#channels.nameOf(channel)
    return declared === undefined || declared === channel ? undefined : this.#conflateBy.get(declared)
  }

  /**
   * Holds `message` for `connection` instead of writing it when the socket is behind, or already
   * holds messages (a later one written at once would overtake them): true when held.
   */
  hold (connection: Conflatable, channel: string, conflateBy: string | null, message: EncodedMessage): boolean {
    let held = this.#held.get(connection)
    if (held === undefined) {
      const drainable = drainableOf(connection)
      if (drainable === null || !drainable.writableNeedDrain) return false
      held = new Map()
      this.#held.set(connection, held)
      drainable.once('drain', () => this.#drained(connection))
    }
    const key = conflateBy === null ? channel : `${channel}\u0000${this.#keyOf(message, conflateBy)}`
    const before = held.get(key)
    if (before === undefined) {
      held.set(key, { channel, message })
    } else {
      before.message = message
      this.#counters.messagesConflated++
    }
    return true
  }

  /** Messages held for `connection` now (tests, stats of one socket). */
  heldFor (connection: Conflatable): number {
    return this.#held.get(connection)?.size ?? 0
  }

  // The socket took everything: the held messages go out, oldest key first, on channels it still holds.
  #drained (connection: Conflatable): void {
    const held = this.#held.get(connection)
    this.#held.delete(connection)
    if (held === undefined) return
    for (const { channel, message } of held.values()) {
      if (connection.channels.has(channel)) this.#release(connection, message)
    }
  }

  // The conflateBy field of the message's data, as JSON (1 and "1" are two keys); '' when absent.
  #keyOf (message: EncodedMessage, conflateBy: string): string {
    if (this.#keyedMessage !== message) {
      const envelope = JSON.parse(message.bytes.toString('utf8')) as { data?: unknown }
      const data = envelope.data
      const value = typeof data === 'object' && data !== null && Object.hasOwn(data, conflateBy)
        ? (data as Record<string, unknown>)[conflateBy]
        : undefined
      this.#key = value === undefined ? '' : JSON.stringify(value)
      this.#keyedMessage = message
    }
    return this.#key
  }
}
